"""A stand-in for the gateway's TCP door, for SDK tests: the daemon's own app over TCP, the
native API under ``/superllm/v1/...``, every request needing ``Authorization: Bearer TOKEN``.

    python -m tests.fakes.tcp_door PORT TOKEN      (SUPERLLM_HOME picks the state)
"""

from __future__ import annotations

import sys
from typing import Any

import uvicorn

from superllmd.api import create_app
from superllmd.paths import get_paths
from superllmd.state import DaemonState

PREFIX = "/superllm"


def door(app: Any, token: str) -> Any:
    expected = f"Bearer {token}".encode()

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        path: str = scope["path"]
        if headers.get(b"authorization") != expected or not path.startswith(PREFIX + "/"):
            status = 401 if headers.get(b"authorization") != expected else 404
            body = b'{"error": {"code": "auth", "message": "bad token", "retryable": false}}'
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        scope = {**scope, "path": path[len(PREFIX) :], "raw_path": path[len(PREFIX) :].encode()}
        await app(scope, receive, send)

    return asgi


def main() -> None:
    port, token = int(sys.argv[1]), sys.argv[2]
    state = DaemonState.create(get_paths(), use_keyring=False)
    uvicorn.run(door(create_app(state), token), host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
