"""The budget manager in-process: estimates, reservations, every budget kind, calendar
boundaries on an injected clock, unpriced models, warnings, settling on real usage.

Prices are chosen for easy sums: $2 for the input of a call whose messages are 8 characters
(32 tokens at most, see CallInfo.input_token_bound) and $2 per output token, so with
max_tokens=3 it is reserved at $8.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest

from superllmd.budget import BudgetManager, all_budgets, period_start, usd
from superllmd.config import BudgetSettings, ProviderBudget, ProviderSettings, load_settings
from superllmd.config_edit import unset_keys
from superllmd.errors import BudgetExceeded, SuperllmError
from superllmd.orchestrator.hooks import CallInfo, CallStatus, RunInfo
from superllmd.protocol import RunResult
from superllmd.providers.base import (
    Capabilities,
    ChatRequest,
    Completion,
    Message,
    Provider,
    StreamItem,
    TokenUsage,
)
from superllmd.providers.registry import Target

T = TypeVar("T")
NOON = datetime(2026, 3, 14, 12, 0).timestamp()  # local time, like the budgets' days


class PricedProvider(Provider):
    """Never called: the manager only asks it for prices."""

    def __init__(self, provider_id: str = "acme", *, priced: bool = True) -> None:
        super().__init__(provider_id, ProviderSettings())
        self.priced = priced

    def capabilities(self, model: str) -> Capabilities:
        if not self.priced:
            return Capabilities(max_output=5)
        # The reserved input is an upper bound: 8 bytes + 8 per message + 16 per request =
        # 32 tokens; at $1/16 each they cost the $2 the sums below are written with.
        return Capabilities(max_output=5, price_input=1e6 / 16, price_output=2e6)

    async def complete(self, request: ChatRequest) -> Completion:
        raise AssertionError("budgets never call the provider")

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:
        raise AssertionError("budgets never call the provider")
        yield  # pragma: no cover


class MemorySpend:
    """A SpendSource over a list of (time, cost, provider, label) rows."""

    def __init__(self, rows: list[tuple[float, float | None, str, str | None]] | None = None):
        self.rows = list(rows or [])
        self.queries: list[tuple[float, str | None, str | None]] = []
        self.fail = False

    async def spent_usd(
        self, since: float, *, provider: str | None = None, label: str | None = None
    ) -> tuple[float, bool]:
        self.queries.append((since, provider, label))
        await asyncio.sleep(0)  # a real source awaits: others run meanwhile
        if self.fail:
            raise OSError("disk on fire")
        rows = [
            r
            for r in self.rows
            if r[0] >= since and provider in (None, r[2]) and label in (None, r[3])
        ]
        return sum(r[1] or 0.0 for r in rows), any(r[1] is None for r in rows)


class Clock:
    def __init__(self, now: float = NOON) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def manager(
    settings: BudgetSettings, spend: MemorySpend | None = None, clock: Clock | None = None
) -> BudgetManager:
    return BudgetManager(spend or MemorySpend(), lambda env: settings, clock=clock or Clock())


def call(
    run: RunInfo | None = None, *, provider: str = "acme", priced: bool = True, max_tokens: int = 3
) -> CallInfo:
    target = Target(PricedProvider(provider, priced=priced), "m1")
    request = ChatRequest("m1", (Message("user", "12345678"),), max_tokens=max_tokens)
    return CallInfo(run or RunInfo("r1", "ask"), target, request, "p", "participant", 0, 1)


def settle(m: BudgetManager, c: CallInfo, cost: float | None, status: CallStatus = "ok") -> None:
    m.after_call(c, status, Completion("x", TokenUsage(1, 1)), None, cost, 5)


def fail(m: BudgetManager, c: CallInfo) -> None:
    m.after_call(c, "error", None, SuperllmError("boom"), None, 5)


def run(coro: Awaitable[T]) -> T:
    async def main() -> T:
        return await coro

    return asyncio.run(main())


def refused(m: BudgetManager, c: CallInfo) -> BudgetExceeded:
    with pytest.raises(BudgetExceeded) as info:
        run(m.before_call(c))
    return info.value


async def reserve(m: BudgetManager, c: CallInfo) -> CallInfo:
    assert await m.before_call(c) is None
    return c


def test_estimate_uses_max_tokens_then_catalog_then_default() -> None:
    assert BudgetManager.estimate(call(max_tokens=3)) == 2 * 1 + 3 * 2
    c = call()
    c.request = ChatRequest("m1", c.request.messages)  # no max_tokens: the model's max, 5
    assert BudgetManager.estimate(c) == 2 + 5 * 2
    assert BudgetManager.estimate(call(priced=False)) is None


def test_reservations_add_up_and_a_settled_call_frees_its_room() -> None:
    m = manager(BudgetSettings(daily_usd=20))

    async def scenario() -> None:
        first = await reserve(m, call())
        await reserve(m, call())  # 16 of 20 held
        with pytest.raises(BudgetExceeded) as info:
            await m.before_call(call())
        message = info.value.message
        assert "daily budget of $20.00" in message
        assert "$0.00 spent today" in message and "$16.00 held by calls in flight" in message
        assert "could cost up to $8.00" in message and "acme/m1" in message
        assert info.value.details["estimate_usd"] == 8
        settle(m, first, 3.0)  # cheaper than reserved: 3 spent + 8 held
        await reserve(m, call())  # 3 + 8 + 8 = 19 fits

    run(scenario())


def test_real_cost_above_the_estimate_counts_in_full() -> None:
    m = manager(BudgetSettings(daily_usd=20))
    c = run(reserve(m, call()))
    settle(m, c, 13.0)
    rows = run(m.status(BudgetSettings(daily_usd=20)))
    assert rows[0]["spent_usd"] == 13 and rows[0]["reserved_usd"] == 0
    assert rows[0]["left_usd"] == 7
    assert "$13.00 spent today" in refused(m, call()).message


def test_failed_and_cached_calls_release_without_spending() -> None:
    m = manager(BudgetSettings(daily_usd=10))
    fail(m, run(reserve(m, call())))
    settle(m, run(reserve(m, call())), 0.0, status="cached")
    row = run(m.status(BudgetSettings(daily_usd=10)))[0]
    assert row["spent_usd"] == 0 and row["reserved_usd"] == 0


@pytest.mark.parametrize(
    ("settings", "title"),
    [
        (BudgetSettings(monthly_usd=10), "monthly budget of $10.00"),
        (
            BudgetSettings(providers={"acme": ProviderBudget(daily_usd=10)}),
            "daily budget for provider acme",
        ),
        (
            BudgetSettings(providers={"acme": ProviderBudget(monthly_usd=10)}),
            "monthly budget for provider acme",
        ),
        (BudgetSettings(labels={"nightly": 10}), "daily budget for label nightly"),
    ],
)
def test_each_budget_kind_refuses_what_would_not_fit(settings: BudgetSettings, title: str) -> None:
    m = manager(settings)
    nightly = RunInfo("r1", "ask", label="nightly")
    run(reserve(m, call(nightly)))
    error = refused(m, call(nightly))
    assert title in error.message and error.details["budget"] in error.message


def test_provider_and_label_budgets_apply_only_to_their_calls() -> None:
    settings = BudgetSettings(providers={"acme": ProviderBudget(daily_usd=1)}, labels={"n": 1})
    m = manager(settings)
    run(reserve(m, call(provider="other")))  # another provider, no label: no budget applies
    assert "provider acme" in refused(m, call()).message
    assert "label n" in refused(m, call(RunInfo("r", "ask", label="n"), provider="other")).message


def test_max_cost_spans_the_run_and_only_the_run() -> None:
    m = manager(BudgetSettings())
    capped = RunInfo("r1", "consensus", max_cost=20)
    first = run(reserve(m, call(capped)))
    run(reserve(m, call(capped)))
    error = refused(m, call(capped))
    assert "--max-cost of $20.00" in error.message and "this run" in error.message
    run(reserve(m, call(RunInfo("r2", "ask"))))  # another run is not capped
    settle(m, first, 1.0)
    run(reserve(m, call(capped)))  # 1 spent + 8 + 8 held
    tiny = RunInfo("r3", "ask", max_cost=0.5)
    assert "could cost up to $8.00" in refused(m, call(tiny)).message


def test_spending_is_read_once_then_kept_in_memory() -> None:
    spend = MemorySpend([(NOON - 3600, 5.0, "acme", None)])
    m = manager(BudgetSettings(daily_usd=30), spend)
    for _ in range(3):
        settle(m, run(reserve(m, call())), 4.0)
    assert spend.queries == [(period_start("day", NOON), None, None)]
    assert run(m.status(BudgetSettings(daily_usd=30)))[0]["spent_usd"] == 5 + 3 * 4


def test_a_new_day_starts_from_what_the_source_says() -> None:
    clock = Clock(datetime(2026, 3, 14, 23, 59).timestamp())
    spend = MemorySpend()
    settings = BudgetSettings(daily_usd=10, monthly_usd=100)
    m = manager(settings, spend, clock)
    c = run(reserve(m, call()))
    settle(m, c, 8.0)
    spend.rows.append((clock.now, 8.0, "acme", None))
    assert "daily budget" in refused(m, call()).message
    clock.now = datetime(2026, 3, 15, 0, 1).timestamp()
    run(reserve(m, call()))  # today has no spending yet
    rows = {r["period"]: r for r in run(m.status(settings))}
    assert rows["day"]["spent_usd"] == 0 and rows["month"]["spent_usd"] == 8
    assert (datetime(2026, 3, 15).timestamp(), None, None) in spend.queries


def test_a_new_month_starts_afresh() -> None:
    clock = Clock(datetime(2026, 1, 31, 23, 59, 59).timestamp())
    spend = MemorySpend([(datetime(2026, 1, 2).timestamp(), 9.0, "acme", None)])
    m = manager(BudgetSettings(monthly_usd=10), spend, clock)
    assert "$9.00 spent this month" in refused(m, call()).message
    clock.now = datetime(2026, 2, 1, 0, 0).timestamp()
    run(reserve(m, call()))
    assert spend.queries[-1][0] == datetime(2026, 2, 1).timestamp()


def test_a_call_across_midnight_counts_in_the_day_it_started() -> None:
    clock = Clock(datetime(2026, 3, 14, 23, 59).timestamp())
    settings = BudgetSettings(daily_usd=10, monthly_usd=100)
    m = manager(settings, clock=clock)
    c = run(reserve(m, call()))
    clock.now += 120
    today = {r["period"]: r for r in run(m.status(settings))}
    assert today["day"]["reserved_usd"] == 0 and today["month"]["reserved_usd"] == 8
    settle(m, c, 6.0)  # started yesterday: yesterday's cost, as the ledger has it
    today = {r["period"]: r for r in run(m.status(settings))}
    assert today["day"]["spent_usd"] == 0 and today["day"]["reserved_usd"] == 0
    assert today["month"]["spent_usd"] == 6 and today["month"]["reserved_usd"] == 0
    assert len(m._tallies) == 2  # yesterday's tally, settled, is forgotten


def test_days_are_calendar_days_in_the_given_zone() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    # 2026-03-29 is the day Berlin moves its clocks: 23 hours long.
    now = datetime(2026, 3, 29, 12, tzinfo=berlin).timestamp()
    assert period_start("day", now, berlin) == datetime(2026, 3, 29, tzinfo=berlin).timestamp()
    assert period_start("month", now, berlin) == datetime(2026, 3, 1, tzinfo=berlin).timestamp()


def test_period_bounds_are_remembered_only_within_the_period() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    # Around Berlin's 23-hour day, in order and back again: each answer is that day's.
    days = [datetime(2026, 3, d, h, tzinfo=berlin) for d in (28, 29, 30) for h in (0, 1, 23)]
    for moment in [*days, *reversed(days)]:
        want = moment.replace(hour=0).timestamp()
        assert period_start("day", moment.timestamp(), berlin) == want
        month = moment.replace(day=1, hour=0).timestamp()
        assert period_start("month", moment.timestamp(), berlin) == month
    april = datetime(2026, 4, 1, 0, 0, 1, tzinfo=berlin).timestamp()
    assert period_start("month", april, berlin) == datetime(2026, 4, 1, tzinfo=berlin).timestamp()
    march_31 = datetime(2026, 3, 31, tzinfo=berlin).timestamp()
    assert period_start("day", april - 2, berlin) == march_31


def test_unpriced_calls_pass_unless_blocked() -> None:
    m = manager(BudgetSettings(daily_usd=0))
    run(reserve(m, call(priced=False)))
    strict = manager(BudgetSettings(daily_usd=5, block_unpriced=True))
    error = refused(strict, call(priced=False))
    assert "acme/m1 has no price" in error.message and "block_unpriced" in error.message
    free_for_all = manager(BudgetSettings(block_unpriced=True))
    run(reserve(free_for_all, call(priced=False)))  # no budget applies


def test_an_unpriced_settlement_is_flagged_not_counted() -> None:
    settings = BudgetSettings(daily_usd=10)
    m = manager(settings)
    run(m.status(settings))
    settle(m, call(priced=False), None)
    row = run(m.status(settings))[0]
    assert row["spent_usd"] == 0 and row["unpriced"] is True


def _finish(m: BudgetManager, info: RunInfo, error: dict[str, str] | None = None) -> RunResult:
    result: Any = {"run_id": info.run_id, "error": error}
    run(m.run_finished(info, {}, result, []))
    out: RunResult = result
    return out


def test_a_warning_once_a_budget_is_80_percent_spent() -> None:
    m = manager(BudgetSettings(daily_usd=40))
    info = RunInfo("r1", "ask")
    settle(m, run(reserve(m, call(info))), 30.0)  # 75%: quiet
    assert "warnings" not in _finish(m, info)
    settle(m, run(reserve(m, call(info))), 2.0)  # 80%
    settle(m, run(reserve(m, call(info))), 2.0)  # 85%: still one warning
    assert _finish(m, info)["warnings"] == ["daily budget: 80% used ($32.00 of $40.00)"]


def test_warn_at_is_configurable_and_max_cost_warns_too() -> None:
    m = manager(BudgetSettings(warn_at=0.5))
    info = RunInfo("r1", "ask", max_cost=10)
    settle(m, run(reserve(m, call(info))), 6.0)
    assert _finish(m, info)["warnings"] == ["--max-cost: 60% used ($6.00 of $10.00)"]


def test_a_refusal_is_not_relabelled_after_the_run() -> None:
    """Whether a run failed for the budget is the mode's to say from its calls' errors
    (run.all_failed, tests/orchestrator/test_consensus.py); the hook leaves the error as is
    and only warns when the run answered anyway."""
    m = manager(BudgetSettings(daily_usd=1))
    info = RunInfo("r1", "consensus")
    refused(m, call(info))
    failed = _finish(m, info, {"code": "provider", "message": "every participant failed"})
    assert failed["error"] == {"code": "provider", "message": "every participant failed"}
    partial = RunInfo("r2", "consensus")
    refused(m, call(partial))
    assert "a call was refused: daily budget" in _finish(m, partial)["warnings"][0]


def test_parallel_reservations_cannot_overshoot() -> None:
    m = manager(BudgetSettings(daily_usd=8 * 3))  # room for three

    async def scenario() -> list[BaseException | None]:
        outcomes = await asyncio.gather(
            *(m.before_call(call(RunInfo(f"r{i}", "ask"))) for i in range(10)),
            return_exceptions=True,
        )
        return [o if isinstance(o, BaseException) else None for o in outcomes]

    outcomes = run(scenario())
    assert outcomes.count(None) == 3
    assert all(isinstance(o, BudgetExceeded) for o in outcomes if o is not None)


def test_costs_settled_while_reading_are_not_lost() -> None:
    m = manager(BudgetSettings(daily_usd=100))
    settings = BudgetSettings(daily_usd=100)

    async def scenario() -> float:
        reading = asyncio.ensure_future(m.status(settings))
        await asyncio.sleep(0)  # the read is in flight
        settle(m, call(), 7.0)
        rows = await reading
        spent: float = rows[0]["spent_usd"]
        return spent

    assert run(scenario()) == 7.0


def test_a_broken_source_fails_the_call_cleanly_and_is_asked_again() -> None:
    spend = MemorySpend()
    spend.fail = True
    m = manager(BudgetSettings(daily_usd=10), spend)
    with pytest.raises(SuperllmError) as info:
        run(m.before_call(call()))
    assert "cannot read what was spent" in info.value.message and "OSError" in info.value.message
    spend.fail = False
    run(reserve(m, call()))


def test_all_budgets_lists_every_configured_limit() -> None:
    settings = BudgetSettings(
        daily_usd=2, providers={"openai": ProviderBudget(monthly_usd=30)}, labels={"nightly": 0.5}
    )
    titles = [b.title for b in all_budgets(settings)]
    assert titles == [
        "daily budget",
        "monthly budget for provider openai",
        "daily budget for label nightly",
    ]


def test_money_is_shown_to_four_significant_figures() -> None:
    assert [usd(v) for v in (0, 2, 0.5, 30, 1234.5, 0.016008, 0.000008)] == [
        "$0.00",
        "$2.00",
        "$0.50",
        "$30.00",
        "$1,234.50",
        "$0.01601",
        "$0.000008",
    ]


def test_config_takes_budgets_per_provider_and_label(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        "[budgets]\nblock_unpriced = true\nwarn_at = 0.9\n"
        "[budgets.providers.openai]\ndaily_usd = 1.5\n[budgets.labels]\nnightly = 0.50\n"
    )
    budgets = load_settings(path, {"SUPERLLM_BUDGETS__LABELS__WEEKLY": "2"}).budgets
    assert budgets.providers["openai"].daily_usd == 1.5 and budgets.block_unpriced
    assert budgets.labels == {"nightly": 0.5, "weekly": 2.0} and budgets.warn_at == 0.9


def test_unset_keys_keeps_comments_and_drops_emptied_tables(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        "# mine\n[budgets]\ndaily_usd = 2  # two dollars\nmonthly_usd = 30\n\n"
        "[budgets.providers.openai]\ndaily_usd = 1\n\n[daemon]\nlog_prompts = true\n"
    )
    removed = unset_keys(path, ["budgets.providers.openai.daily_usd", "budgets.daily_usd"])
    assert removed == ["budgets.daily_usd", "budgets.providers.openai.daily_usd"]
    assert (
        path.read_text() == "# mine\n[budgets]\nmonthly_usd = 30\n\n[daemon]\nlog_prompts = true\n"
    )
    assert unset_keys(path, ["budgets.labels.x"]) == []


def test_budget_show_draws_a_gauge_per_budget() -> None:
    import io

    from rich.console import Console

    from superllm_cli.commands.budget import _rich_table, gauge

    assert gauge(0.5, width=10) == "█████░░░░░" and gauge(3.0, width=4) == "████"
    row = {
        "budget": "daily budget",
        "period": "day",
        "limit_usd": 2.0,
        "spent_usd": 1.5,
        "reserved_usd": 0.1,
        "left_usd": 0.4,
        "unpriced": True,
    }
    screen = io.StringIO()
    Console(file=screen, width=120, color_system=None).print(_rich_table([row]))
    text = screen.getvalue()
    assert "daily budget" in text and "$1.50+ today" in text and "$0.40" in text
    assert "████████████████░░░░ 80%" in text and "unpriced" in text
