"""superllm: the CLI, the TUI and the client SDK. Starts fast, imports little."""

from superllmd import __version__

__all__ = ["__version__"]
