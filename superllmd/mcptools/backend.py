"""What the MCP server needs of the daemon, whichever door it came through. Stdlib only."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, Protocol

__all__ = ["Backend"]


class Backend(Protocol):
    """The daemon, seen from the MCP server.

    Errors are raised as :mod:`superllmd.errors` exceptions, with the messages the CLI
    shows. The stdio backend forwards its process's environment with each request (as the
    CLI does); the HTTP backend runs inside the daemon, for the caller's gateway token.
    """

    def run(self, route: str, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """Start a run at ``/v1/<route>``; its events as they happen. Closing the iterator
        early, or cancelling the task reading it, cancels the run and releases what it had
        reserved of the budgets."""
        ...

    async def get(self, path: str, params: Sequence[tuple[str, str]] = ()) -> Any:
        """``GET path`` of the native API (``/v1/models``, ``/v1/usage``, ``/v1/runs``,
        ``/v1/runs/ID``, ``/v1/config``): its JSON answer."""
        ...
