"""``GET /v1/events`` (WebSocket, TCP door): every run's events as they happen.

Each message is one native event (``run.started``, ``delta``, ``message`` with usage and
cost, ``run.finished`` with the result, ...) as JSON, with ``token``: the name of the token
the run was made for, or null for the daemon's own user. ``?token=NAME`` keeps one token's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

from starlette.routing import BaseRoute, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

__all__ = ["routes"]


async def events(websocket: WebSocket) -> None:
    state = websocket.app.state.daemon
    await websocket.accept()
    sub = state.bus.subscribe(websocket.query_params.get("token") or None)

    async def closed() -> None:  # the client's close (or its going away) ends us at once
        with contextlib.suppress(WebSocketDisconnect):
            while (await websocket.receive())["type"] != "websocket.disconnect":
                pass

    watcher = asyncio.create_task(closed())
    try:
        while True:
            getter = asyncio.ensure_future(sub.next())
            done, _ = await asyncio.wait({getter, watcher}, return_when=asyncio.FIRST_COMPLETED)
            if getter not in done:
                getter.cancel()
                return
            event = getter.result()
            if event is None:
                await websocket.close(1013)
                return
            await websocket.send_text(json.dumps(event, separators=(",", ":")))
    except (WebSocketDisconnect, RuntimeError):
        return
    finally:
        watcher.cancel()
        state.bus.unsubscribe(sub)


def routes() -> list[BaseRoute]:
    return [WebSocketRoute("/v1/events", events)]
