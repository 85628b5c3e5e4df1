"""The budget race of many parallel calls, with a fake that counts tokens like a vendor.

The fake's usage is realistic, not tailored to the estimate: about four ASCII characters a
token, one token per other character (CJK text), four tokens of chat framing per message and
three to prime the reply, and every answer as long as its max_tokens allows. Whatever the
prompt, the money spent may pass the limit by at most one call's estimate (the price of not
serialising calls): the reservation must be an upper bound of what a call can cost.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from superllmd.budget import BudgetManager
from superllmd.config import BudgetSettings, ProviderSettings
from superllmd.orchestrator.hooks import CallInfo, RunInfo
from superllmd.orchestrator.run import Caller, CallOutcome
from superllmd.providers._http import HttpClients
from superllmd.providers.base import ChatRequest, KindContext, Message
from superllmd.providers.keys import KeyResolver
from superllmd.providers.openai import OpenAIKind
from superllmd.providers.registry import Target
from tests.fakes.openai import FakeOpenAI

MODEL = "gpt-4.1-mini"
MAX_TOKENS = 40


def vendor_tokens(text: str) -> int:
    ascii_chars = sum(1 for ch in text if ord(ch) < 128)
    return math.ceil(ascii_chars / 4) + (len(text) - ascii_chars)


class VendorLikeFake(FakeOpenAI):
    def usage(self, body: dict[str, Any], text: str) -> dict[str, Any]:
        messages = body.get("messages", [])
        prompt = 3 + sum(4 + vendor_tokens(str(m.get("content", ""))) for m in messages)
        completion = vendor_tokens(text)
        return {"prompt_tokens": prompt, "completion_tokens": completion}


def _answer(body: dict[str, Any]) -> str:
    limit = body.get("max_completion_tokens") or body.get("max_tokens") or MAX_TOKENS
    return "abcd" * int(limit)  # the whole allowance: the most a call can cost


@pytest.fixture
def fake() -> Iterator[VendorLikeFake]:
    server = VendorLikeFake(delay=0.0).start()
    server.reply = _answer
    try:
        yield server
    finally:
        server.stop()


PROMPTS: dict[str, tuple[Message, ...]] = {
    "short": (Message("user", "hi"),),
    "long": (Message("user", "lorem ipsum dolor sit amet " * 800),),
    "many messages": tuple(
        Message("user" if i % 2 else "assistant", f"turn {i}") for i in range(120)
    ),
    "cjk": (Message("user", "日本語の文章を要約してください。" * 60),),
}


async def _race(
    fake: FakeOpenAI, messages: tuple[Message, ...], calls: int
) -> tuple[float, float, float, int]:
    http = HttpClients()
    kind = OpenAIKind(KindContext(http, KeyResolver(use_keyring=False), Path("/x")))
    settings = ProviderSettings(base_url=fake.base_url)
    target = Target(kind.create("openai", settings, {"OPENAI_API_KEY": "sk-test"}), MODEL)
    request = ChatRequest(MODEL, messages, max_tokens=MAX_TOKENS)
    probe = CallInfo(RunInfo("probe", "ask"), target, request, "p", "participant", 0, 1)
    each = BudgetManager.estimate(probe)
    assert each is not None and each > 0
    limit = 7.5 * each  # room for seven and a half calls, if each cost its full estimate

    class NothingSpent:
        async def spent_usd(self, since: float, **_: Any) -> tuple[float, bool]:
            return 0.0, False

    manager = BudgetManager(NothingSpent(), lambda env: BudgetSettings(daily_usd=limit))
    caller = Caller(hooks=[manager], run_hooks=[manager])
    outcomes = [CallOutcome(target) for _ in range(calls)]

    async def one(i: int) -> None:
        run = RunInfo(f"r{i}", "ask")
        async for _ in caller.call(
            run.run_id, target, request, stream=i % 2 == 0, outcome=outcomes[i], run=run
        ):
            pass

    try:
        await asyncio.gather(*(one(i) for i in range(calls)))
    finally:
        await http.aclose()
    spent = sum(o.cost_usd or 0.0 for o in outcomes if o.ok)
    return spent, limit, each, sum(o.ok for o in outcomes)


@pytest.mark.parametrize("kind", list(PROMPTS))
def test_parallel_calls_never_spend_past_the_limit(fake: VendorLikeFake, kind: str) -> None:
    spent, limit, each, served = asyncio.run(_race(fake, PROMPTS[kind], calls=32))
    assert served >= 7  # the budget is used, not refused wholesale
    assert spent <= limit + each, f"{kind}: spent {spent:.6f} of {limit:.6f} (+{each:.6f})"
    # Each call's real cost stayed within its reservation: the estimate is an upper bound.
    per_call = spent / served
    assert per_call <= each * (1 + 1e-9)
