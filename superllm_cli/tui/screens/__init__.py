"""The TUI's screens: the main one (prompt and run view), usage, history and providers."""

__all__: list[str] = []
