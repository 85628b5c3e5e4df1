"""superllmd: the superllm daemon.

This package's top level must stay import-free: the CLI imports ``superllmd.paths``,
``superllmd.errors`` and ``superllmd.protocol`` on its fast path.
"""

__version__ = "0.1.0"
API_VERSION = 1

__all__ = ["API_VERSION", "__version__"]
