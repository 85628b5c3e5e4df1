"""``ask``: one model, or an alias that names a fallback chain tried in order."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from superllmd.errors import ProviderError, SuperllmError
from superllmd.orchestrator.hooks import RunInfo
from superllmd.orchestrator.run import (
    Caller,
    CallOutcome,
    base_result,
    error_event,
    messages_of,
    new_run_id,
)
from superllmd.protocol import AskRequest, Event, RunResult
from superllmd.providers.base import Attachment, ChatRequest, Message
from superllmd.providers.registry import Target

__all__ = ["AskRun", "falls_back"]


def falls_back(error: SuperllmError) -> bool:
    """Try the next model in a chain when this one is down, not when the request is bad."""
    return isinstance(error, ProviderError) and (
        error.retryable or error.code in {"auth", "quota", "not_found", "permission"}
    )


class AskRun:
    """One ``ask``. Targets are resolved up front, so a bad model fails before any event.

    ``history`` (a conversation's earlier turns) goes between the system prompt and the
    prompt; ``attachments`` (images) go with the prompt.
    """

    def __init__(
        self,
        request: AskRequest,
        targets: list[Target],
        caller: Caller,
        *,
        history: Sequence[Message] = (),
        conversation_id: str | None = None,
        attachments: Sequence[Attachment] = (),
    ) -> None:
        self.request = request
        self.targets = targets
        self.caller = caller
        self.run_id = new_run_id()
        self.info = RunInfo(
            self.run_id,
            "ask",
            label=request.get("label"),
            environ=request.get("env") or {},
            max_cost=request.get("max_cost"),
            no_cache=request.get("no_cache", False),
            cache_ttl=request.get("cache_ttl"),
            conversation_id=conversation_id,
        )
        self.transcript: list[Event] = []
        self.result: RunResult | None = None
        *head, user = messages_of(request.get("system"), request["prompt"])
        user = dataclasses.replace(user, attachments=tuple(attachments))
        self.messages = (*head, *history, user)

    def _chat(self, target: Target) -> ChatRequest:
        options: Mapping[str, Any] = self.request.get("options") or {}
        return ChatRequest(
            model=target.model,
            messages=self.messages,
            temperature=self.request.get("temperature"),
            max_tokens=self.request.get("max_tokens"),
            stop=tuple(self.request.get("stop") or ()),
            json_output=self.request.get("json_output", False),
            options=options,
        )

    async def events(self) -> AsyncIterator[Event]:
        async for event in self._events():
            self.transcript.append(event)
            if event["type"] == "run.finished":
                assert self.result is not None
                await self.caller.run_finished(
                    self.info, self.request, self.result, self.transcript
                )
            yield event

    async def _events(self) -> AsyncIterator[Event]:
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
            async for event in self.caller.call(
                self.run_id,
                target,
                self._chat(target),
                stream=stream,
                outcome=outcome,
                run=self.info,
            ):
                yield event
            if outcome.error is None or not falls_back(outcome.error):
                break
        last = outcomes[-1]
        if last.error is not None:
            yield error_event(self.run_id, None, last.error)
        result = base_result(self.run_id, "ask", outcomes, started)
        result["answer"] = last.completion.text if last.completion else None
        result["model"] = last.target.name
        result["participants"] = [o.result() for o in outcomes]
        result["conversation_id"] = self.info.conversation_id
        result["error"] = (
            None if last.error is None else {"code": last.error.code, "message": last.error.message}
        )
        self.result = result
        yield {"type": "run.finished", "run_id": self.run_id, "result": result}
