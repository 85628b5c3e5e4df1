"""Requests and tokens per minute for each gateway token, and the headers that tell of them.

Both are sliding one-minute windows kept in memory. A request counts when the door admits it;
a provider call's tokens count when it settles (``after_call``, a call hook on the daemon's
Caller), so ``tpm`` refuses the next request once the minute's calls have used it up --
what OpenAI's own limits do. Refusals are 429 with ``retry-after``; every answer carries
``x-ratelimit-limit-requests``, ``-remaining-requests``, ``-reset-requests`` and the same
three for tokens, for the limits the token has.

With the PostgreSQL ledger the windows are shared by every instance (``shared``, see
ledger/shared_limits.py), and ``check`` reads and counts them in the database.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from superllmd.errors import GatewayRateLimited, SuperllmError
from superllmd.gateway import GatewayToken
from superllmd.orchestrator.hooks import CallInfo, CallStatus
from superllmd.providers.base import Completion

if TYPE_CHECKING:
    from superllmd.ledger.shared_limits import SharedLimits

__all__ = ["TokenLimits"]

_WINDOW = 60.0


@dataclass
class _Window:
    requests: deque[float] = field(default_factory=deque)
    tokens: deque[tuple[float, int]] = field(default_factory=deque)
    token_sum: int = 0

    def trim(self, now: float) -> None:
        while self.requests and now - self.requests[0] >= _WINDOW:
            self.requests.popleft()
        while self.tokens and now - self.tokens[0][0] >= _WINDOW:
            self.token_sum -= self.tokens.popleft()[1]


def _reset(seconds: float) -> str:
    return f"{max(math.ceil(seconds * 1000) / 1000, 0):g}s"


def _headers(
    token: GatewayToken, requests: int, requests_reset: float, tokens: int, tokens_reset: float
) -> list[tuple[bytes, bytes]]:
    """The x-ratelimit headers of a window holding ``requests`` and ``tokens``, for the
    limits ``token`` has."""
    out: list[tuple[bytes, bytes]] = []
    if token.rpm is not None:
        out += [
            (b"x-ratelimit-limit-requests", str(token.rpm).encode()),
            (b"x-ratelimit-remaining-requests", str(max(token.rpm - requests, 0)).encode()),
            (b"x-ratelimit-reset-requests", _reset(requests_reset).encode()),
        ]
    if token.tpm is not None:
        out += [
            (b"x-ratelimit-limit-tokens", str(token.tpm).encode()),
            (b"x-ratelimit-remaining-tokens", str(max(token.tpm - tokens, 0)).encode()),
            (b"x-ratelimit-reset-tokens", _reset(tokens_reset).encode()),
        ]
    return out


class TokenLimits:
    """Per-token windows; also a CallHook that counts each settled call's tokens."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, shared: SharedLimits | None = None
    ) -> None:
        self._clock = clock
        self._windows: dict[str, _Window] = {}
        self.shared = shared

    async def check(self, token: GatewayToken) -> list[tuple[bytes, bytes]]:
        """``admit``, across every instance when the windows are shared."""
        if self.shared is None or (token.rpm is None and token.tpm is None):
            return self.admit(token)
        now = time.time()
        seen = await self.shared.admit(token.name, now, token.rpm, token.tpm)
        request_reset = _WINDOW - (now - (seen.oldest_request or now))
        tokens_reset = _WINDOW - (now - (seen.oldest_tokens or now))
        # The window of every instance, with this request in it if it was let in.
        headers = _headers(
            token,
            seen.requests + (1 if seen.allowed else 0),
            request_reset,
            seen.tokens,
            tokens_reset,
        )
        if token.rpm is not None and seen.requests >= token.rpm:
            raise self._refuse(token, f"{token.rpm} requests per minute", request_reset, headers)
        if token.tpm is not None and seen.tokens >= token.tpm:
            raise self._refuse(token, f"{token.tpm} tokens per minute", tokens_reset, headers)
        return headers

    def admit(self, token: GatewayToken) -> list[tuple[bytes, bytes]]:
        """Count one request, or raise GatewayRateLimited; the headers for the answer."""
        if token.rpm is None and token.tpm is None:
            return []
        now = self._clock()
        window = self._windows.setdefault(token.name, _Window())
        window.trim(now)
        if token.rpm is not None and len(window.requests) >= token.rpm:
            wait = _WINDOW - (now - window.requests[0])
            what = f"{token.rpm} requests per minute"
            raise self._refuse(token, what, wait, self.headers(token, now))
        if token.tpm is not None and window.token_sum >= token.tpm:
            wait = _WINDOW - (now - window.tokens[0][0]) if window.tokens else _WINDOW
            what = f"{token.tpm} tokens per minute"
            raise self._refuse(token, what, wait, self.headers(token, now))
        window.requests.append(now)
        return self.headers(token, now)

    def headers(self, token: GatewayToken, now: float | None = None) -> list[tuple[bytes, bytes]]:
        """This instance's windows of ``token`` as headers."""
        now = self._clock() if now is None else now
        window = self._windows.setdefault(token.name, _Window())
        window.trim(now)
        oldest_request = window.requests[0] if window.requests else now
        oldest_tokens = window.tokens[0][0] if window.tokens else now
        return _headers(
            token,
            len(window.requests),
            _WINDOW - (now - oldest_request),
            window.token_sum,
            _WINDOW - (now - oldest_tokens),
        )

    def _refuse(
        self, token: GatewayToken, what: str, wait: float, headers: list[tuple[bytes, bytes]]
    ) -> GatewayRateLimited:
        seconds = max(math.ceil(wait), 1)
        refused = GatewayRateLimited(
            f"token {token.name!r} is over its {what}; retry in {seconds} s",
            retry_after=seconds,
        )
        refused.limit_headers = headers
        return refused

    # -- the call hook: tokens count when a call settles ---------------------------------

    async def before_call(self, call: CallInfo) -> Completion | None:
        return None

    def after_call(
        self,
        call: CallInfo,
        status: CallStatus,
        completion: Completion | None,
        error: SuperllmError | None,
        cost_usd: float | None,
        latency_ms: int,
    ) -> None:
        name = call.run.token
        if name is None or completion is None or status == "cached":
            return
        used = completion.usage.input_tokens + completion.usage.output_tokens
        if self.shared is not None:
            self.shared.add_tokens(name, time.time(), used)
        window = self._windows.setdefault(name, _Window())
        window.tokens.append((self._clock(), used))
        window.token_sum += used
