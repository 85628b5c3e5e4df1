"""A circuit breaker per provider: one that keeps failing is cooled down and skipped by
fallback chains, then tried again with a single call (half-open) after a pause.

    closed     calls go through; ``threshold`` failures in a row open it
    open       fallback chains skip the provider (a chain's last model is still called: better
               one more try than no answer) until ``cooldown`` seconds have passed
    half_open  one call is let through; success closes the circuit, failure opens it again

A failure is what says the provider is down -- a retryable provider error (5xx, overload,
429, timeout, connection, a broken stream) -- never the caller's fault (a bad request, an
unknown model, a bad key) or a call cut short. The breaker is a call hook (it sees every
attempt) plus ``skips(provider)`` for the chains; ``snapshot()`` is what ``/v1/health`` and
``GET /v1/providers`` report. ``[daemon] breaker_threshold`` and ``breaker_cooldown`` set it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from superllmd.errors import ProviderError, SuperllmError
from superllmd.orchestrator.hooks import CallInfo, CallStatus
from superllmd.providers.base import Completion

__all__ = ["CircuitBreaker", "CircuitState"]

CircuitState = Literal["closed", "open", "half_open"]


@dataclass
class _Circuit:
    failures: int = 0  # in a row
    opened_at: float | None = None  # clock time it opened; None while closed
    probing: bool = False  # half-open: the one trial call is out
    trips: int = 0  # how many times it opened, for the soak's report


class CircuitBreaker:
    """Per-provider circuits; thread-unsafe by design (the daemon's one event loop)."""

    def __init__(
        self,
        threshold: int = 5,
        cooldown: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = threshold
        self.cooldown = cooldown
        self.clock = clock
        self._circuits: dict[str, _Circuit] = {}

    def state(self, provider: str) -> CircuitState:
        circuit = self._circuits.get(provider)
        if circuit is None or circuit.opened_at is None:
            return "closed"
        if self.clock() - circuit.opened_at < self.cooldown:
            return "open"
        return "half_open"

    def skips(self, provider: str) -> bool:
        """Whether a fallback chain should pass over ``provider`` now: open, or half-open
        with its trial call already out. Asking never sends the trial; calling does."""
        state = self.state(provider)
        if state == "open":
            return True
        return state == "half_open" and self._circuits[provider].probing

    def record(self, provider: str, *, ok: bool) -> None:
        circuit = self._circuits.setdefault(provider, _Circuit())
        if ok:
            circuit.failures, circuit.opened_at, circuit.probing = 0, None, False
            return
        circuit.failures += 1
        half_open = self.state(provider) == "half_open"
        if half_open or (circuit.opened_at is None and circuit.failures >= self.threshold):
            circuit.opened_at = self.clock()  # (re)open: the pause starts again
            circuit.trips += 1
        circuit.probing = False

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """Each provider seen: its state, failures in a row, times opened, seconds until a
        trial call is let through (0 unless open)."""
        out: dict[str, dict[str, Any]] = {}
        for provider, circuit in sorted(self._circuits.items()):
            state = self.state(provider)
            retry_in = 0.0
            if state == "open" and circuit.opened_at is not None:
                retry_in = max(self.cooldown - (self.clock() - circuit.opened_at), 0.0)
            out[provider] = {
                "state": state,
                "failures": circuit.failures,
                "trips": circuit.trips,
                "retry_in_s": round(retry_in, 1),
            }
        return out

    # -- the call hook -------------------------------------------------------------------

    async def before_call(self, call: CallInfo) -> Completion | None:
        provider = call.target.provider.id
        if self.state(provider) == "half_open":
            self._circuits[provider].probing = True  # this call is the trial
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
        provider = call.target.provider.id
        if status == "ok":
            self.record(provider, ok=True)
        elif status == "error" and isinstance(error, ProviderError) and error.retryable:
            self.record(provider, ok=False)
        elif provider in self._circuits:  # cut short, cached, or the caller's fault
            self._circuits[provider].probing = False
