"""A budget or --max-cost caps a call's answer to fit what is left, refusing only below
``budgets.min_output_tokens``; an unpriced model under a budget is never silent.

Prices as in test_budget.py: $1 per input token, $2 per output token; each call's prompt is
2 estimated tokens, so ``n`` output tokens cost at most ``2 + 2n``.
"""

from __future__ import annotations

import pytest

from superllmd.budget_cap import fit_output
from superllmd.config import BudgetSettings
from superllmd.orchestrator.hooks import RunInfo
from tests.unit.test_budget import _finish, call, manager, refused, reserve, run, settle


def test_max_cost_caps_max_tokens_instead_of_refusing() -> None:
    m = manager(BudgetSettings(min_output_tokens=10))
    info = RunInfo("r1", "ask", max_cost=100)
    c = run(reserve(m, call(info, max_tokens=1000)))  # worst case $2002: far over $100
    assert c.request.max_tokens == 49  # 2 + 2 * 49 = $100
    assert run(m.status(BudgetSettings())) == []
    assert _finish(m, info)["capped"] == {
        "max_tokens": 49,
        "calls": 1,
        "reason": "--max-cost had $100.00 left",
    }


def test_a_daily_budget_caps_to_what_is_left_today() -> None:
    m = manager(BudgetSettings(daily_usd=50, min_output_tokens=5))
    info = RunInfo("r1", "consensus")
    first = run(reserve(m, call(info, max_tokens=1000)))
    assert first.request.max_tokens == 24  # 2 + 48 = $50
    settle(m, first, 10.0)  # it spent $10: $40 left
    second = run(reserve(m, call(info, max_tokens=1000)))
    assert second.request.max_tokens == 19  # 2 + 38 = $40
    capped = _finish(m, info)["capped"]
    assert capped["max_tokens"] == 19 and capped["calls"] == 2
    assert capped["reason"].startswith("daily budget had $40.00 left")


def test_a_call_that_fits_is_not_capped() -> None:
    m = manager(BudgetSettings(daily_usd=1000))
    info = RunInfo("r1", "ask")
    c = run(reserve(m, call(info, max_tokens=100)))
    assert c.request.max_tokens == 100
    assert "capped" not in _finish(m, info)


def test_refused_only_when_the_useful_minimum_does_not_fit() -> None:
    m = manager(BudgetSettings(min_output_tokens=256))
    info = RunInfo("r1", "ask", max_cost=100)  # 49 tokens fit, fewer than 256
    error = refused(m, call(info, max_tokens=1000))
    assert error.code == "budget"
    assert "--max-cost of $100.00 would be exceeded" in error.message
    assert "even with its answer cut to 256 tokens" in error.message
    assert "budgets.min_output_tokens" in error.message
    # A request asking for fewer tokens than the minimum needs only those to fit.
    small = run(reserve(m, call(RunInfo("r2", "ask", max_cost=100), max_tokens=40)))
    assert small.request.max_tokens == 40


def test_min_output_tokens_is_validated() -> None:
    with pytest.raises(ValueError, match="min_output_tokens"):
        BudgetSettings(min_output_tokens=0)


def test_unpriced_models_under_a_budget_warn_once_per_run() -> None:
    m = manager(BudgetSettings(daily_usd=1))
    info = RunInfo("r1", "consensus")
    for _ in range(3):
        run(reserve(m, call(info, priced=False)))
    warnings = _finish(m, info)["warnings"]
    assert len(warnings) == 1
    assert warnings[0].startswith("acme/m1 has no price, so the daily budget cannot count it")
    assert "budgets.block_unpriced" in warnings[0]


def test_unpriced_under_max_cost_warns_too() -> None:
    m = manager(BudgetSettings())
    info = RunInfo("r1", "ask", max_cost=5)
    run(reserve(m, call(info, priced=False)))
    assert "--max-cost cannot count it" in _finish(m, info)["warnings"][0]


@pytest.mark.parametrize("room", [0.0, 1e-9, 0.37, 2.0, 1234.5678])
def test_fit_output_never_overshoots(room: float) -> None:
    def cost(n: int) -> float:
        return 0.1 + n * 0.003

    fits = fit_output(cost, room)
    assert fits == 0 or cost(fits) <= room
    assert cost(fits + 1) > room
