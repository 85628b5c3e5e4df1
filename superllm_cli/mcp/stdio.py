"""The MCP server on stdin/stdout, reaching the daemon over its socket.

The daemon is started on first use, like any CLI command. The SDK's ``stdio_server`` points
file descriptor 1 at stderr while it serves, so nothing but protocol reaches stdout; logs go
to stderr. Each request carries this process's environment (set in the MCP client's config,
e.g. a provider key), which applies to that request only, as for the CLI.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from superllm_cli._env import settings_only
from superllm_cli.tui.backend import DaemonBackend

__all__ = ["SocketBackend", "serve"]


class SocketBackend:
    """:class:`superllmd.mcptools.backend.Backend` over the daemon's Unix socket.

    A stream is read asynchronously and cancelling it closes its connection, which the
    daemon takes as the run being cancelled.
    """

    def __init__(self, environ: Mapping[str, str], *, autostart: bool = True) -> None:
        self.daemon = DaemonBackend(environ, autostart=autostart)

    def run(self, route: str, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        # What the request carries is decided when it is sent, not when the server started:
        # the daemon's list of provider variables is known only once it has answered.
        return self.daemon.stream(f"/v1/{route}", {**body, "env": self.daemon.request_env()})

    async def get(self, path: str, params: Sequence[tuple[str, str]] = ()) -> Any:
        # A GET has no body: the daemon reads the client's SUPERLLM_* settings from the query.
        query = list(settings_only(self.daemon.environ).items())
        query += list(params)
        return await self.daemon.get(f"{path}?{urlencode(query)}" if query else path)


def serve(environ: Mapping[str, str], *, autostart: bool = True, verbose: bool = False) -> None:
    """Serve MCP on stdio until the client closes stdin."""
    import anyio
    from mcp.server.stdio import stdio_server

    from superllmd.mcptools.server import build_server

    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO if verbose else logging.WARNING,
        format="superllm mcp: %(levelname)s %(message)s",
    )
    server = build_server(SocketBackend(environ, autostart=autostart))

    async def main() -> None:
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())

    anyio.run(main)
