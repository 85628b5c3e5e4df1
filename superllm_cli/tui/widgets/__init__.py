"""The TUI's widgets, one per module, each with its own messages and reactives."""

__all__: list[str] = []
