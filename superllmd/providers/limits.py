"""Per-provider limits shared by every client of the daemon: concurrency, RPM and TPM.

``[providers.ID] max_concurrency``, ``rpm`` and ``tpm`` bound what all runs together send to
one provider, so a consensus of eight and a cron job in parallel cannot trip its 429s.
RPM and TPM are sliding one-minute windows; a call waits for room rather than failing.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from superllmd.config import ProviderSettings

__all__ = ["ProviderLimits"]

_WINDOW = 60.0


@dataclass
class _State:
    semaphore: asyncio.Semaphore | None
    requests: deque[float] = field(default_factory=deque)
    tokens: deque[tuple[float, int]] = field(default_factory=deque)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class ProviderLimits:
    def __init__(self, clock: type[time.struct_time] | None = None) -> None:
        self._states: dict[str, _State] = {}

    def _state(self, provider_id: str, settings: ProviderSettings) -> _State:
        state = self._states.get(provider_id)
        if state is None:
            sem = asyncio.Semaphore(settings.max_concurrency) if settings.max_concurrency else None
            state = self._states[provider_id] = _State(sem)
        return state

    @asynccontextmanager
    async def slot(
        self, provider_id: str, settings: ProviderSettings, estimated_tokens: int
    ) -> AsyncIterator[None]:
        state = self._state(provider_id, settings)
        if settings.rpm or settings.tpm:
            await self._wait_for_room(state, settings, estimated_tokens)
        if state.semaphore is None:
            yield
            return
        async with state.semaphore:
            yield

    async def _wait_for_room(self, state: _State, settings: ProviderSettings, tokens: int) -> None:
        async with state.lock:  # FIFO: callers take room in arrival order
            while True:
                now = time.monotonic()
                while state.requests and now - state.requests[0] >= _WINDOW:
                    state.requests.popleft()
                while state.tokens and now - state.tokens[0][0] >= _WINDOW:
                    state.tokens.popleft()
                waits = []
                if settings.rpm and len(state.requests) >= settings.rpm:
                    waits.append(state.requests[0] + _WINDOW - now)
                used = sum(n for _, n in state.tokens)
                if settings.tpm and state.tokens and used + tokens > settings.tpm:
                    waits.append(state.tokens[0][0] + _WINDOW - now)
                if not waits:
                    state.requests.append(now)
                    state.tokens.append((now, tokens))
                    return
                await asyncio.sleep(max(min(waits), 0.01))
