"""The daemon's event bus: every run's events, for dashboards (``GET /v1/events``).

The engine publishes each event of every run, from either door, with the run's token name
(None for the socket). A subscriber has a bounded queue; one too slow to keep up is dropped
(its queue closed with a final ``{"type": "dropped"}``), so a dashboard can never hold a run
back: publishing is a few dict operations and never awaits.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

__all__ = ["EventBus", "Subscription"]

QUEUE = 1024


@dataclass(eq=False)
class Subscription:
    """One subscriber: events whose token is ``token`` (None: every event)."""

    token: str | None = None
    queue: asyncio.Queue[dict[str, Any] | None] = field(
        default_factory=lambda: asyncio.Queue(QUEUE)
    )
    dropped: bool = False

    async def next(self) -> dict[str, Any] | None:
        """The next event, or None once the subscriber was dropped."""
        return await self.queue.get()


class EventBus:
    def __init__(self) -> None:
        self._subs: set[Subscription] = set()

    @property
    def active(self) -> bool:
        return bool(self._subs)

    def subscribe(self, token: str | None = None) -> Subscription:
        sub = Subscription(token)
        self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs.discard(sub)

    def publish(self, event: dict[str, Any]) -> None:
        for sub in list(self._subs):
            if sub.token is not None and event.get("token") != sub.token:
                continue
            try:
                sub.queue.put_nowait(event)
            except asyncio.QueueFull:
                self._drop(sub)

    def _drop(self, sub: Subscription) -> None:
        self._subs.discard(sub)
        sub.dropped = True
        while not sub.queue.empty():
            sub.queue.get_nowait()
        sub.queue.put_nowait({"type": "dropped", "reason": "too slow to keep up"})
        sub.queue.put_nowait(None)
