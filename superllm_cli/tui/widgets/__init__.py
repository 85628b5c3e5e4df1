"""The TUI's widgets, one per module (STYLE.md habit 9)."""

__all__: list[str] = []
