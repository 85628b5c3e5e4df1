"""What budgets there are: their scopes and periods, where past spending comes from, and
how money is written. The manager that enforces them is in budget.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Literal, Protocol

from superllmd.config import BudgetSettings
from superllmd.money import usd

__all__ = [
    "Budget",
    "NoHistory",
    "Period",
    "Scope",
    "SpendSource",
    "all_budgets",
    "period_start",
    "usd",
]

Scope = Literal["global", "provider", "label", "token", "user", "team"]
Period = Literal["day", "month"]


class SpendSource(Protocol):
    """Where past spending comes from (the ledger): USD spent by calls at or after ``since``
    (unix time), and whether any of them was unpriced."""

    async def spent_usd(
        self,
        since: float,
        *,
        provider: str | None = None,
        label: str | None = None,
        token: str | None = None,
        user: str | None = None,
        team: str | None = None,
    ) -> tuple[float, bool]: ...


class NoHistory:
    """A SpendSource that remembers nothing: spending counts from the daemon's start.

    Stands in until the ledger is wired; the manager still counts every call it settles.
    """

    async def spent_usd(
        self,
        since: float,
        *,
        provider: str | None = None,
        label: str | None = None,
        token: str | None = None,
        user: str | None = None,
        team: str | None = None,
    ) -> tuple[float, bool]:
        return 0.0, False


@dataclass(frozen=True, slots=True)
class Budget:
    """One limit: a scope (everything, one provider, one label, one gateway token) over one
    period. Token budgets come with the token (``superllm serve token create --budget-daily``),
    user and team budgets with the user and the team (``superllm serve user|team create``),
    not from ``[budgets]``."""

    scope: Scope
    name: str | None
    period: Period
    limit: float

    @property
    def title(self) -> str:
        """``daily budget``, ``monthly budget for provider openai``, ..."""
        base = f"{'daily' if self.period == 'day' else 'monthly'} budget"
        return base if self.scope == "global" else f"{base} for {self.scope} {self.name}"

    @property
    def raise_hint(self) -> str:
        if self.scope in ("user", "team"):
            return (
                f"superllm serve {self.scope} create {self.name}` again with a higher "
                "`--budget-daily"
            )
        if self.scope == "token":
            return (
                f"superllm serve token revoke {self.name}` and create it again with a higher "
                "`--budget-daily"
            )
        flag = "--daily" if self.period == "day" else "--monthly"
        scope = "" if self.scope == "global" else f" --{self.scope} {self.name}"
        return f"superllm budget set {flag} USD{scope}"

    def applies(self, provider: str, label: str | None) -> bool:
        if self.scope == "provider":
            return self.name == provider
        if self.scope == "label":
            return label is not None and self.name == label
        return True


def all_budgets(settings: BudgetSettings) -> list[Budget]:
    """Every budget that ``[budgets]`` sets, global first."""
    found: list[Budget] = []

    def add(scope: Scope, name: str | None, daily: float | None, monthly: float | None) -> None:
        if daily is not None:
            found.append(Budget(scope, name, "day", daily))
        if monthly is not None:
            found.append(Budget(scope, name, "month", monthly))

    add("global", None, settings.daily_usd, settings.monthly_usd)
    for provider, limits in sorted(settings.providers.items()):
        add("provider", provider, limits.daily_usd, limits.monthly_usd)
    for label, daily in sorted(settings.labels.items()):
        add("label", label, daily, None)
    return found


def period_start(period: Period, now: float, tz: tzinfo | None = None) -> float:
    """Unix time the local calendar day or month holding ``now`` began (``tz`` None: local)."""
    # Every budget check asks, several times per call: remember the current period's bounds.
    known = _periods.get((period, tz))
    if known is not None and known[0] <= now < known[1]:
        return known[0]
    start = _period_start(period, now, tz)
    # The next period begins by then: a day is 23-25 hours, a month 28-31 days (+1 hour).
    later = start + (36 * 3600 if period == "day" else 32 * 86400)
    if len(_periods) > 64:
        _periods.clear()
    _periods[(period, tz)] = (start, _period_start(period, later, tz))
    return start


_periods: dict[tuple[Period, tzinfo | None], tuple[float, float]] = {}


def _period_start(period: Period, now: float, tz: tzinfo | None) -> float:
    start = datetime.fromtimestamp(now, tz).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "month":
        start = start.replace(day=1)
    return start.timestamp()
