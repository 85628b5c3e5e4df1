"""``ask``: one model, or an alias that names a fallback chain tried in order."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from superllmd.errors import ProviderError, SuperllmError
from superllmd.orchestrator.run import (
    CallOutcome,
    call_participant,
    error_event,
    new_run_id,
    sum_usage,
    total_cost,
)
from superllmd.protocol import AskRequest, Event, RunResult
from superllmd.providers.base import ChatRequest, Message
from superllmd.providers.registry import Target

__all__ = ["AskRun"]


def _falls_back(error: SuperllmError) -> bool:
    """Try the next model in a chain when this one is down, not when the request is bad."""
    return isinstance(error, ProviderError) and (
        error.retryable or error.code in {"auth", "quota", "not_found", "permission"}
    )


class AskRun:
    """One ``ask``. Targets are resolved up front, so a bad model fails before any event."""

    def __init__(self, request: AskRequest, targets: list[Target]) -> None:
        self.request = request
        self.targets = targets
        self.run_id = new_run_id()
        self.result: RunResult | None = None
        messages: list[Message] = []
        if request.get("system"):
            messages.append(Message("system", request["system"] or ""))
        messages.append(Message("user", request["prompt"]))
        self.messages = tuple(messages)

    def _chat(self, target: Target) -> ChatRequest:
        options: Mapping[str, Any] = self.request.get("options") or {}
        return ChatRequest(
            model=target.model,
            messages=self.messages,
            temperature=self.request.get("temperature"),
            max_tokens=self.request.get("max_tokens"),
            options=options,
        )

    async def events(self) -> AsyncIterator[Event]:
        started = time.perf_counter()
        yield {
            "type": "run.started",
            "run_id": self.run_id,
            "mode": "ask",
            "participants": [self.targets[0].name],
        }
        stream = self.request.get("stream", True)
        outcomes: list[CallOutcome] = []
        for target in self.targets:
            outcome = CallOutcome(target)
            outcomes.append(outcome)
            async for event in call_participant(
                self.run_id, target, self._chat(target), stream=stream, outcome=outcome
            ):
                yield event
            if outcome.error is None or not _falls_back(outcome.error):
                break
        last = outcomes[-1]
        if last.error is not None:
            yield error_event(self.run_id, None, last.error)
        self.result = {
            "run_id": self.run_id,
            "mode": "ask",
            "answer": last.completion.text if last.completion else None,
            "model": last.target.name,
            "participants": [o.result() for o in outcomes],
            "judge": None,
            "usage": sum_usage(outcomes),
            "cost_usd": total_cost(outcomes),
            "latency_ms": int((time.perf_counter() - started) * 1000),
            "conversation_id": None,
            "error": None
            if last.error is None
            else {"code": last.error.code, "message": last.error.message},
        }
        yield {"type": "run.finished", "run_id": self.run_id, "result": self.result}
