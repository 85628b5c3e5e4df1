"""superllm: the CLI, the TUI and the client SDK. Starts fast, imports little.

``superllm_cli.Client`` and ``superllm_cli.AsyncClient`` are the SDK (``superllm_cli.client``),
imported on first use so that ``import superllm_cli.app`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from superllmd import __version__

if TYPE_CHECKING:
    from superllm_cli.client import AsyncClient, Client

__all__ = ["AsyncClient", "Client", "__version__"]


def __getattr__(name: str) -> Any:
    if name in ("Client", "AsyncClient"):
        from superllm_cli import client

        return getattr(client, name)
    raise AttributeError(f"module 'superllm_cli' has no attribute {name!r}")
