"""Fitting a call into what a budget has left by capping its answer, not refusing it.

A call's worst case is its estimated input plus its whole output allowance (the request's
``max_tokens``, else the model's maximum output). That allowance is usually far more than an
answer uses, so a budget or ``--max-cost`` with a few cents left would refuse ordinary calls.
Instead the manager (budget.py) lowers the request's ``max_tokens`` until the worst case fits,
which keeps the guarantee (never spend past a limit) and refuses only when even
``[budgets] min_output_tokens`` does not fit.

Cost is linear in output tokens (price tiers depend on the prompt alone), so two estimates
give the price of one more output token.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from superllmd.budget_rules import Budget, usd
from superllmd.errors import BudgetExceeded

__all__ = ["Cap", "Used", "fit_output", "too_small"]

_PROBE = 1_000_000  # output tokens between the two estimates


@dataclass(frozen=True, slots=True)
class Cap:
    """What a capped call was limited to, and by which budget (``--max-cost``, ...)."""

    max_tokens: int
    budget: str
    left_usd: float


def fit_output(cost_at: Callable[[int], float | None], room_usd: float) -> int:
    """The most output tokens whose worst-case cost fits ``room_usd`` (0 when none fit).

    ``cost_at(n)`` is the call's estimated cost with ``n`` output tokens.
    """
    low, high = cost_at(1), cost_at(1 + _PROBE)
    if low is None or high is None:
        return 0
    per_token = (high - low) / _PROBE
    fixed = low - per_token
    if per_token <= 0:  # free output: any length fits once the input does
        return _PROBE if fixed <= room_usd else 0
    fits = math.floor((room_usd - fixed) / per_token)
    # Float rounding must never round the worst case past the limit.
    while fits > 0 and (cost_at(fits) or 0.0) > room_usd:
        fits -= 1
    return max(fits, 0)


class Used(Protocol):
    """What a budget has spent and what calls in flight hold (a tally in budget.py)."""

    spent: float
    reserved: float


def too_small(
    model: str,
    title: str,
    limit: float,
    used: Used,
    budget: Budget | None,
    floor: int,
    estimate: float,
) -> BudgetExceeded:
    """The refusal when not even ``floor`` output tokens fit what ``title`` has left;
    ``budget`` None means ``--max-cost``, ``estimate`` the cost with ``floor`` tokens."""
    if budget is None:
        when, how = "by this run", "Raise --max-cost"
    else:
        when = "today" if budget.period == "day" else "this month"
        how = f"Raise it with `{budget.raise_hint}`, or wait for the next {budget.period}"
    inflight = f" and {usd(used.reserved)} held by calls in flight" if used.reserved else ""
    return BudgetExceeded(
        f"{title} of {usd(limit)} would be exceeded: {usd(used.spent)} spent {when}{inflight}, "
        f"and this call to {model} could cost up to {usd(estimate)} even with its answer cut "
        f"to {floor} tokens. {how} (answers are cut to fit what is left, down to "
        "budgets.min_output_tokens)",
        budget=title,
        limit_usd=limit,
        spent_usd=used.spent,
        reserved_usd=used.reserved,
        estimate_usd=estimate,
    )
