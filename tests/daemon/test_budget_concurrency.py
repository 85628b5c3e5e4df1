"""32 parallel calls against a budget with room for 10: at most 10 reach the provider.

The calls go through the real Caller (limits, retries, hooks) to the fake OpenAI server,
priced as openai/gpt-4.1-mini from the shipped catalog. Half are participants of one run,
half are runs of their own, as consensus panels and concurrent CLIs would be. The fake's
answers cost exactly what was reserved, so no call frees room for another whatever the
order in which they settle: the count is exact, not a matter of timing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

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

PROMPT = "one two three four five six"  # 27 characters: estimated and counted as 6 tokens
MAX_TOKENS = 50
MODEL = "gpt-4.1-mini"


class EarlierSpending:
    """What the ledger would say: some money spent earlier today, read after a pause."""

    def __init__(self, spent: float) -> None:
        self.spent = spent
        self.reads = 0

    async def spent_usd(
        self, since: float, *, provider: str | None = None, label: str | None = None
    ) -> tuple[float, bool]:
        self.reads += 1
        await asyncio.sleep(0.01)
        return self.spent, False


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI(delay=0.0).start()
    # As many words as max_tokens: the real cost is exactly the reserved estimate.
    server.reply = lambda body: " ".join(["word"] * MAX_TOKENS)
    try:
        yield server
    finally:
        server.stop()


async def _race(fake: FakeOpenAI, calls: int, room: int) -> tuple[list[CallOutcome], int]:
    http = HttpClients()
    kind = OpenAIKind(KindContext(http, KeyResolver(use_keyring=False), Path("/x")))
    settings = ProviderSettings(base_url=fake.base_url)
    target = Target(kind.create("openai", settings, {"OPENAI_API_KEY": "sk-test"}), MODEL)
    request = ChatRequest(MODEL, (Message("user", PROMPT),), max_tokens=MAX_TOKENS)
    probe = CallInfo(RunInfo("probe", "ask"), target, request, "p", "participant", 0, 1)
    each = BudgetManager.estimate(probe)
    assert each is not None and each > 0  # the catalog prices this model
    earlier = EarlierSpending(2 * each)
    budgets = BudgetSettings(daily_usd=(room + 2.5) * each)  # room for `room` more calls
    manager = BudgetManager(earlier, lambda env: budgets)
    caller = Caller(hooks=[manager], run_hooks=[manager])
    panel = RunInfo("panel", "consensus")
    outcomes = [CallOutcome(target) for _ in range(calls)]

    async def one(i: int) -> None:
        run = panel if i % 2 else RunInfo(f"solo{i}", "ask")
        async for _ in caller.call(
            run.run_id, target, request, stream=i % 4 < 2, outcome=outcomes[i], run=run
        ):
            pass

    try:
        await asyncio.gather(*(one(i) for i in range(calls)))
    finally:
        await http.aclose()
    return outcomes, earlier.reads


def test_32_parallel_calls_with_room_for_10(fake: FakeOpenAI) -> None:
    outcomes, reads = asyncio.run(_race(fake, calls=32, room=10))
    sent = [r for r in fake.chat_requests() if r["messages"][-1]["content"] == PROMPT]
    assert len(sent) == 10
    assert sum(o.ok for o in outcomes) == 10
    refused = [o.error for o in outcomes if not o.ok]
    assert len(refused) == 22
    assert all(e is not None and e.code == "budget" for e in refused)
    assert all(o.attempts == 1 for o in outcomes)  # a refusal is not retried
    assert reads == 1  # one read of earlier spending, shared by all 32


def test_the_same_race_with_no_room_sends_nothing(fake: FakeOpenAI) -> None:
    outcomes, _ = asyncio.run(_race(fake, calls=32, room=0))
    assert fake.chat_requests() == []
    assert not any(o.ok for o in outcomes)
