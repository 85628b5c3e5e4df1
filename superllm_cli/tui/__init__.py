"""The Textual TUI (``superllm tui``). Importing this package loads nothing heavy; the app is
in :mod:`superllm_cli.tui.app`, imported only by the command that opens it."""

__all__: list[str] = []
