"""What every mode shares: run ids, calling one participant, and turning calls into events."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from superllmd.errors import ProviderError, SuperllmError
from superllmd.protocol import ErrorInfo, Event, ParticipantResult, Usage
from superllmd.providers.base import ChatRequest, Completion, TokenUsage
from superllmd.providers.registry import Target

__all__ = [
    "CallOutcome",
    "call_participant",
    "error_event",
    "new_run_id",
    "sum_usage",
    "total_cost",
]


def new_run_id() -> str:
    # Sortable by time, unique without coordination: ms timestamp + 48 random bits.
    return f"r{int(time.time() * 1000):x}{secrets.token_hex(6)}"


@dataclass
class CallOutcome:
    """How one participant's call ended; exactly one of completion and error is set."""

    target: Target
    completion: Completion | None = None
    error: SuperllmError | None = None
    latency_ms: int = 0
    cost_usd: float | None = None
    events: list[Event] = field(default_factory=list)

    def result(self, name: str | None = None) -> ParticipantResult:
        usage = self.completion.usage if self.completion else TokenUsage()
        error: ErrorInfo | None = None
        if self.error is not None:
            error = {"code": self.error.code, "message": self.error.message}
        return {
            "model": name or self.target.name,
            "answer": self.completion.text if self.completion else None,
            "error": error,
            "usage": _usage(usage),
            "cost_usd": self.cost_usd,
            "latency_ms": self.latency_ms,
        }


def _usage(usage: TokenUsage) -> Usage:
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cached_tokens": usage.cached_tokens,
    }


def sum_usage(outcomes: list[CallOutcome]) -> Usage:
    total = TokenUsage()
    for o in outcomes:
        if o.completion:
            u = o.completion.usage
            total = TokenUsage(
                total.input_tokens + u.input_tokens,
                total.output_tokens + u.output_tokens,
                total.cached_tokens + u.cached_tokens,
            )
    return _usage(total)


async def call_participant(
    run_id: str,
    target: Target,
    request: ChatRequest,
    *,
    stream: bool,
    round_: int = 0,
    participant: str | None = None,
    outcome: CallOutcome | None = None,
) -> AsyncIterator[Event]:
    """Call one model, yielding ``delta`` events, then ``message`` or ``error``.

    The outcome (completion or error, usage, cost, latency) is recorded on ``outcome`` so the
    mode can build its result; provider errors become events, never exceptions.
    """
    name = participant or target.name
    out = outcome if outcome is not None else CallOutcome(target)
    started = time.perf_counter()
    try:
        if stream:
            async for item in target.provider.stream(request):
                if isinstance(item, Completion):
                    out.completion = item
                else:
                    yield {
                        "type": "delta",
                        "run_id": run_id,
                        "participant": name,
                        "round": round_,
                        "text": item.text,
                    }
        else:
            out.completion = await target.provider.complete(request)
    except ProviderError as exc:
        out.error = exc
    except SuperllmError as exc:
        out.error = exc
    out.latency_ms = int((time.perf_counter() - started) * 1000)
    if out.completion is not None:
        out.cost_usd = target.provider.estimate_cost(target.model, out.completion.usage)
        yield {
            "type": "message",
            "run_id": run_id,
            "participant": name,
            "round": round_,
            "text": out.completion.text,
            "usage": _usage(out.completion.usage),
            "cost_usd": out.cost_usd,
            "latency_ms": out.latency_ms,
        }
    elif out.error is not None:
        yield error_event(run_id, name, out.error)


def error_event(run_id: str, participant: str | None, error: SuperllmError) -> Event:
    return {
        "type": "error",
        "run_id": run_id,
        "participant": participant,
        "code": error.code,
        "message": error.message,
        "retryable": error.retryable,
    }


def total_cost(outcomes: list[CallOutcome]) -> float | None:
    """The sum, or None when any call that ran is unpriced (never pretend it was free)."""
    ran = [o for o in outcomes if o.completion is not None]
    if any(o.cost_usd is None for o in ran):
        return None
    return sum(o.cost_usd or 0.0 for o in ran)
