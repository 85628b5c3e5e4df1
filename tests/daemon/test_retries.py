"""Retries, limits and fallbacks in the daemon, shared by every client (issue 3, point 5).

The provider is the real OpenAI dialect over HTTP to the fake server; the Caller's sleep is
recorded instead of slept, so backoff is checked without waiting for it.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from superllmd.config import ProviderSettings
from superllmd.orchestrator import ask
from superllmd.orchestrator.context import RunContext, run_mode
from superllmd.orchestrator.run import Caller, CallOutcome, RetryPolicy
from superllmd.providers._http import HttpClients
from superllmd.providers.base import ChatRequest, KindContext, Message
from superllmd.providers.keys import KeyResolver
from superllmd.providers.limits import ProviderLimits
from superllmd.providers.openai import OpenAICompatibleKind
from superllmd.providers.registry import Target
from tests.fakes.openai import FakeOpenAI


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI(delay=0.0).start()
    try:
        yield server
    finally:
        server.stop()


def _target(fake: FakeOpenAI, http: HttpClients, model: str, **settings: Any) -> Target:
    kind = OpenAICompatibleKind(KindContext(http, KeyResolver(use_keyring=False), Path("/none")))
    provider = kind.create("fake", ProviderSettings(base_url=fake.base_url, **settings), {})
    return Target(provider, model)


def _request(model: str) -> ChatRequest:
    return ChatRequest(model=model, messages=(Message("user", "hello"),))


class _Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


async def _call(
    caller: Caller, target: Target, stream: bool = True
) -> tuple[CallOutcome, list[Any]]:
    outcome = CallOutcome(target)
    events = [
        e
        async for e in caller.call(
            "r1", target, _request(target.model), stream=stream, outcome=outcome
        )
    ]
    return outcome, events


def test_429_with_retry_after_is_retried_and_succeeds(fake: FakeOpenAI) -> None:
    async def run() -> None:
        http = HttpClients()
        sleeps = _Sleeps()
        fake.script = ["error-429"]
        outcome, events = await _call(Caller(sleep=sleeps), _target(fake, http, "echo"))
        await http.aclose()
        assert outcome.ok and outcome.text == "echo: hello"
        assert outcome.attempts == 2
        retry = [e for e in events if e["type"] == "retry"]
        assert len(retry) == 1 and retry[0]["code"] == "rate_limited"
        assert sleeps.waits == [0.01]  # retry-after-ms: 10 wins over backoff
        assert events[-1]["type"] == "message"

    asyncio.run(run())


def test_server_errors_back_off_exponentially_then_give_up(fake: FakeOpenAI) -> None:
    async def run() -> None:
        http = HttpClients()
        sleeps = _Sleeps()
        caller = Caller(sleep=sleeps, retry=RetryPolicy(attempts=4), rng=random.Random(1))
        outcome, events = await _call(caller, _target(fake, http, "error-503"), stream=False)
        await http.aclose()
        assert not outcome.ok and outcome.error is not None
        assert outcome.error.code == "overloaded" and outcome.attempts == 4
        assert len(sleeps.waits) == 3
        for n, wait in enumerate(sleeps.waits):  # 0.5, 1, 2 s, each less up to 25% jitter
            assert 0.75 * 0.5 * 2**n <= wait <= 0.5 * 2**n
        assert [e["type"] for e in events] == ["retry", "retry", "retry", "error"]

    asyncio.run(run())


@pytest.mark.parametrize("model", ["error-401", "error-404", "quota", "error-400"])
def test_non_retryable_errors_are_not_retried(fake: FakeOpenAI, model: str) -> None:
    async def run() -> None:
        http = HttpClients()
        sleeps = _Sleeps()
        outcome, _ = await _call(Caller(sleep=sleeps), _target(fake, http, model))
        await http.aclose()
        assert outcome.attempts == 1 and sleeps.waits == []
        assert outcome.error is not None and not outcome.error.retryable

    asyncio.run(run())


def test_stream_broken_after_text_is_not_retried(fake: FakeOpenAI) -> None:
    async def run() -> None:
        http = HttpClients()
        outcome, events = await _call(Caller(sleep=_Sleeps()), _target(fake, http, "reset"))
        await http.aclose()
        assert outcome.attempts == 1
        assert any(e["type"] == "delta" for e in events)
        assert events[-1]["type"] == "error"

    asyncio.run(run())


def test_fallback_chain_moves_on_when_a_provider_is_down(fake: FakeOpenAI) -> None:
    async def run() -> None:
        http = HttpClients()
        targets = [_target(fake, http, "error-503"), _target(fake, http, "echo")]
        caller = Caller(sleep=_Sleeps())
        ctx = RunContext("ask", {"prompt": "hello", "stream": True}, targets, caller, single=True)
        events = [e async for e in run_mode(ctx, ask.run)]
        await http.aclose()
        result = ctx.finished
        assert result is not None
        assert result["answer"] == "echo: hello" and result["model"] == "fake/echo"
        assert result["error"] is None
        assert [p["model"] for p in result["participants"]] == ["fake/error-503", "fake/echo"]
        assert events[0]["type"] == "run.started"
        assert events[0]["participants"] == ["fake/error-503"]  # the fallback is not announced
        types = [e["type"] for e in events]
        assert types.count("retry") == 2 and "error" in types  # every attempt is visible

    asyncio.run(run())


def test_fallback_chain_stops_on_a_bad_request(fake: FakeOpenAI) -> None:
    async def run() -> None:
        http = HttpClients()
        targets = [_target(fake, http, "error-400"), _target(fake, http, "echo")]
        ctx = RunContext("ask", {"prompt": "hello"}, targets, Caller(sleep=_Sleeps()), single=True)
        events = [e async for e in run_mode(ctx, ask.run)]
        await http.aclose()
        result = ctx.finished
        assert result is not None and result["error"] is not None
        assert result["error"]["code"] == "bad_request" and result["model"] == "fake/error-400"
        assert len(result["participants"]) == 1  # the fallback was not tried
        run_errors = [e for e in events if e["type"] == "error" and e["participant"] is None]
        assert [e["code"] for e in run_errors] == ["bad_request"]

    asyncio.run(run())


def test_max_concurrency_bounds_parallel_calls(fake: FakeOpenAI) -> None:
    fake.delay = 0.05

    async def run() -> int:
        http = HttpClients()
        target = _target(fake, http, "slow", max_concurrency=2)
        caller = Caller()
        active = peak = 0
        original = target.provider.stream

        async def counted(request: ChatRequest) -> Any:
            nonlocal active, peak
            active += 1
            peak = max(peak, active)
            try:
                async for item in original(request):
                    yield item
            finally:
                active -= 1

        target.provider.stream = counted  # type: ignore[method-assign]
        await asyncio.gather(*(_call(caller, target) for _ in range(6)))
        await http.aclose()
        return peak

    assert asyncio.run(run()) == 2


def test_rpm_limit_makes_calls_wait_for_room() -> None:
    limits = ProviderLimits()
    settings = ProviderSettings(base_url="http://x", rpm=3)

    async def run() -> list[float]:
        times = []
        for _ in range(3):
            async with limits.slot("p", settings, 10):
                times.append(time.monotonic())
        try:
            async with asyncio.timeout(0.2):
                async with limits.slot("p", settings, 10):
                    times.append(time.monotonic())
        except TimeoutError:
            pass
        return times

    assert len(asyncio.run(run())) == 3  # the fourth call in the minute had to wait


def test_tpm_limit_counts_estimated_tokens() -> None:
    limits = ProviderLimits()
    settings = ProviderSettings(base_url="http://x", tpm=100)

    async def run() -> bool:
        async with limits.slot("p", settings, 80):
            pass
        try:
            async with asyncio.timeout(0.2):
                async with limits.slot("p", settings, 30):
                    return True
        except TimeoutError:
            return False

    assert asyncio.run(run()) is False
