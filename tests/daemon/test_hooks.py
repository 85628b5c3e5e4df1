"""Call hooks see every attempt exactly once: ok, error, cached or interrupted."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from superllmd.config import ProviderSettings
from superllmd.errors import BudgetExceeded, SuperllmError
from superllmd.orchestrator.hooks import CallInfo, CallStatus, RunInfo
from superllmd.orchestrator.run import Caller, CallOutcome
from superllmd.providers._http import HttpClients
from superllmd.providers.base import ChatRequest, Completion, KindContext, Message, TokenUsage
from superllmd.providers.keys import KeyResolver
from superllmd.providers.openai import OpenAICompatibleKind
from superllmd.providers.registry import Target
from tests.fakes.openai import FakeOpenAI


class Recorder:
    def __init__(self, answer: Completion | None = None, refuse: bool = False) -> None:
        self.answer = answer
        self.refuse = refuse
        self.before: list[int] = []
        self.after: list[tuple[int, CallStatus, str | None]] = []

    async def before_call(self, call: CallInfo) -> Completion | None:
        self.before.append(call.attempt)
        if self.refuse:
            raise BudgetExceeded("over budget")
        return self.answer

    def after_call(
        self,
        call: CallInfo,
        status: CallStatus,
        completion: Completion | None,
        error: SuperllmError | None,
        cost_usd: float | None,
        latency_ms: int,
    ) -> None:
        self.after.append((call.attempt, status, error.code if error else None))


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI(delay=0.0).start()
    try:
        yield server
    finally:
        server.stop()


async def _run(
    fake: FakeOpenAI, model: str, hook: Recorder, *, cancel_after: int | None = None
) -> tuple[CallOutcome, list[Any]]:
    http = HttpClients()
    kind = OpenAICompatibleKind(KindContext(http, KeyResolver(use_keyring=False), Path("/x")))
    target = Target(kind.create("fake", ProviderSettings(base_url=fake.base_url), {}), model)

    async def no_sleep(_: float) -> None:
        return None

    caller = Caller(hooks=[hook], sleep=no_sleep)
    out = CallOutcome(target)
    events: list[Any] = []
    request = ChatRequest(model, (Message("user", "one two three four five six"),))
    gen = caller.call("r", target, request, stream=True, outcome=out, run=RunInfo("r", "ask"))
    try:
        async for event in gen:
            events.append(event)
            if cancel_after is not None and len(events) >= cancel_after:
                break
    finally:
        await gen.aclose()
        await http.aclose()
    return out, events


def test_success_is_reported_once(fake: FakeOpenAI) -> None:
    hook = Recorder()
    out, _ = asyncio.run(_run(fake, "echo", hook))
    assert out.ok and hook.before == [1] and hook.after == [(1, "ok", None)]


def test_each_failed_attempt_is_reported(fake: FakeOpenAI) -> None:
    hook = Recorder()
    fake.script = ["error-429", "error-429"]
    out, _ = asyncio.run(_run(fake, "echo", hook))
    assert out.ok
    assert hook.after == [
        (1, "error", "rate_limited"),
        (2, "error", "rate_limited"),
        (3, "ok", None),
    ]


def test_a_cached_answer_skips_the_provider(fake: FakeOpenAI) -> None:
    before = len(fake.requests)
    hook = Recorder(answer=Completion("from cache", TokenUsage(3, 2, 0)))
    out, events = asyncio.run(_run(fake, "echo", hook))
    assert out.cached and out.text == "from cache" and out.cost_usd == 0.0
    assert len(fake.requests) == before
    assert [e["type"] for e in events] == ["delta", "message"]
    assert hook.after == [(1, "cached", None)]


def test_a_refusing_hook_stops_the_call(fake: FakeOpenAI) -> None:
    before = len(fake.requests)
    hook = Recorder(refuse=True)
    out, events = asyncio.run(_run(fake, "echo", hook))
    assert not out.ok and out.error is not None and out.error.code == "budget"
    assert len(fake.requests) == before  # nothing was sent
    assert events[-1]["type"] == "error"
    assert hook.after == [(1, "refused", "budget")]  # its own status, not a provider error


def test_the_cost_is_computed_once_per_call(
    fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    from superllmd.providers.base import Provider

    priced: list[TokenUsage] = []
    original = Provider.estimate_cost

    def counting(self: Provider, model: str, usage: TokenUsage) -> float | None:
        priced.append(usage)
        return original(self, model, usage)

    monkeypatch.setattr(Provider, "estimate_cost", counting)
    # Mid-stream progress prices partial usage for a crash's sake: not the call's cost.
    monkeypatch.setattr(Caller, "_progress", lambda *args: None)
    out, events = asyncio.run(_run(fake, "echo", Recorder()))
    assert out.completion is not None and priced == [out.completion.usage]
    assert events[-1]["type"] == "message" and events[-1]["cost_usd"] == out.cost_usd


def test_an_abandoned_stream_is_reported_interrupted(fake: FakeOpenAI) -> None:
    hook = Recorder()
    fake.delay = 0.05
    try:
        out, _ = asyncio.run(_run(fake, "slow", hook, cancel_after=2))
    finally:
        fake.delay = 0.0
    assert hook.after == [(1, "interrupted", None)]
    assert not out.ok
