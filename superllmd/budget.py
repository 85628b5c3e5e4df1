"""Budgets that hold: estimate every call, reserve it before sending, settle on real usage.

Users of other tools learn what a cron job cost from the invoice. Here every provider call
passes ``BudgetManager.before_call`` (a call hook, orchestrator/hooks.py), which

1. estimates the call's cost at its worst: the input tokens estimated from the messages, the
   output at the request's ``max_tokens`` (else the model's max output, else a default),
   priced by the provider's own ``estimate_cost``;
2. checks every budget that applies -- global daily and monthly, the provider's daily and
   monthly, the label's daily, the gateway token's daily, the run's ``--max-cost`` --
   against what was spent in the current local day or month, plus what calls in flight have
   reserved, plus this estimate;
3. when the estimate does not fit what the tightest of them has left, caps the request's
   ``max_tokens`` so that it does (budget_cap.py; the run's result says so under ``capped``),
   and refuses with ``BudgetExceeded`` (nothing is sent; exit 5) only when not even
   ``[budgets] min_output_tokens`` fit, naming the budget, its limit, what is spent and what
   the call would cost; then reserves the estimate.

``after_call`` releases the reservation and adds the real cost. Check and reserve run with
no ``await`` between them, so parallel participants of one run and concurrent runs (one
event loop) cannot all pass a check that only one of them fits. What was spent before comes
from a ``SpendSource`` (the ledger), read once per budget and period and then kept up to
date in memory, so the check costs no query per call.

A model without a price cannot be counted: it passes with a warning (once per run and
model) unless ``[budgets] block_unpriced`` is true, in which case it is refused while any
budget applies. Once a run has spent ``warn_at`` (0.8) of a budget, the run's result carries
a warning under ``warnings``, which the CLI prints on stderr.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import TYPE_CHECKING, Any

from superllmd.budget_cap import Cap, Used, fit_output, too_small
from superllmd.budget_rules import (
    Budget,
    NoHistory,
    Period,
    Scope,
    SpendSource,
    all_budgets,
    period_start,
    usd,
)
from superllmd.config import BudgetSettings
from superllmd.errors import BudgetExceeded, SuperllmError
from superllmd.orchestrator.hooks import CallInfo, CallStatus, RunInfo
from superllmd.protocol import Event, RunResult
from superllmd.providers.base import Completion, TokenUsage

if TYPE_CHECKING:
    from superllmd.ledger.shared import SharedBudgets, Tally

__all__ = [
    "DEFAULT_OUTPUT_TOKENS",
    "Budget",
    "BudgetManager",
    "NoHistory",
    "SpendSource",
    "all_budgets",
    "period_start",
    "usd",
]

# Output tokens assumed when neither the request nor the catalog says how long an answer may be.
DEFAULT_OUTPUT_TOKENS = 4096
# Float sums of reservations must not refuse a call that fits to the last cent.
_SLACK = 1e-9
_HOLD = "budget"  # key in CallInfo.scratch and RunInfo.scratch


# (scope, name, period, period start): one budget's spending in one day or month.
_Key = tuple[Scope, str | None, Period, float]


@dataclass
class _Tally:
    spent: float = 0.0
    reserved: float = 0.0
    unpriced: bool = False


@dataclass
class _RunBook(_Tally):
    """One run's spending, for --max-cost and the warnings its result carries."""

    warnings: list[str] = field(default_factory=list)
    refused: BudgetExceeded | None = None
    capped: Cap | None = None  # the tightest cap put on one of the run's calls
    capped_calls: int = 0


@dataclass
class _Hold:
    """What ``before_call`` reserved for one attempt, released by ``after_call``."""

    budgets: list[Budget]
    keys: list[_Key]
    amount: float
    warn_at: float
    started: float  # a call counts in the day it started, as the ledger counts it
    shared: bool = False  # reserved in the database (ledger/shared.py), released there


class BudgetManager:
    """The budget call hook and run hook; one per daemon, shared by every run.

    ``settings`` gives the ``[budgets]`` that apply under a run's environment (the CLI's
    ``SUPERLLM_*`` variables apply per request); ``clock`` and ``tz`` say when and where a
    day begins (tests pass their own).
    """

    def __init__(
        self,
        spend: SpendSource,
        settings: Callable[[Mapping[str, str]], BudgetSettings],
        *,
        clock: Callable[[], float] = time.time,
        tz: tzinfo | None = None,
        shared: SharedBudgets | None = None,
    ) -> None:
        self._spend = spend
        # With the PostgreSQL ledger: budgets checked and reserved in the database.
        self._shared = shared
        self._settings = settings
        self._clock = clock
        self._tz = tz
        self._tallies: dict[_Key, _Tally] = {}
        self._loading: dict[_Key, asyncio.Future[None]] = {}
        # Costs settled while a tally was being read: added to it, since the source may not
        # have seen them yet (counting a call twice beats not counting it).
        self._settled_while_loading: dict[_Key, float] = {}

    # -- the call hook ----------------------------------------------------------------------

    async def before_call(self, call: CallInfo) -> Completion | None:
        settings = self._settings(call.run.environ)
        provider, label = call.target.provider.id, call.run.label
        budgets = [b for b in all_budgets(settings) if b.applies(provider, label)]
        run = call.run
        for scope, name, limit in (
            ("token", run.token, run.token_daily_usd),
            ("user", run.user, run.user_daily_usd),
            ("team", run.team, run.team_daily_usd),
        ):
            if name is not None and limit is not None:
                budgets.append(Budget(scope, name, "day", limit))  # type: ignore[arg-type]
        max_cost = call.run.max_cost
        if not budgets and max_cost is None:
            return None
        estimate = self.estimate(call)
        if estimate is None:
            self._unpriced(call, budgets, settings)
            return None
        if estimate <= 0:  # a free model (local) costs no budget anything
            return None
        if self._shared is not None:  # several instances: check and reserve in the database
            now = self._clock()
            keys = [self._key(b.scope, b.name, b.period, now) for b in budgets]
            async with self._shared.hold(keys) as held:
                tallies: list[Used] = [held.tallies[k] for k in keys]
                estimate = self._fit(call, budgets, tallies, settings, estimate)
                held.reserve(call.call_id, estimate)
            _book(call.run).reserved += estimate
            call.scratch[_HOLD] = _Hold(budgets, keys, estimate, settings.warn_at, now, True)
            return None
        keys = await self._ready(budgets)
        # No await from here on: the check, the cap and the reservation are one step.
        estimate = self._fit(call, budgets, [self._tallies[k] for k in keys], settings, estimate)
        for key in keys:
            self._tallies[key].reserved += estimate
        _book(call.run).reserved += estimate
        call.scratch[_HOLD] = _Hold(budgets, keys, estimate, settings.warn_at, self._clock())
        return None

    def _fit(
        self,
        call: CallInfo,
        budgets: list[Budget],
        tallies: Sequence[Used],
        settings: BudgetSettings,
        estimate: float,
    ) -> float:
        """What the call may reserve under the tightest budget: its estimate, or the
        estimate with ``max_tokens`` capped to fit; BudgetExceeded when not even
        ``min_output_tokens`` fit."""
        book = _book(call.run)
        limits: list[tuple[str, float, Used, Budget | None]] = [
            (b.title, b.limit, t, b) for b, t in zip(budgets, tallies, strict=True)
        ]
        if call.run.max_cost is not None:
            limits.append(("--max-cost", call.run.max_cost, book, None))
        title, limit, used, budget = min(limits, key=lambda x: x[1] - x[2].spent - x[2].reserved)
        left = max(limit - used.spent - used.reserved, 0.0)
        if estimate > left + _SLACK:
            wanted = self._output_tokens(call)
            floor = min(settings.min_output_tokens, wanted)
            fits = fit_output(lambda n: self.estimate(call, output=n), left + _SLACK)
            if fits < floor:
                estimate = self.estimate(call, output=floor) or 0.0
                error = too_small(call.target.name, title, limit, used, budget, floor, estimate)
                raise _refused(call, error)
            call.request = dataclasses.replace(call.request, max_tokens=fits)
            estimate = self.estimate(call) or 0.0
            _note_cap(book, Cap(fits, title, left))
        return estimate

    def _unpriced(self, call: CallInfo, budgets: list[Budget], settings: BudgetSettings) -> None:
        """An unpriced model under a budget: refused with ``block_unpriced``, else let through
        with one warning per run and model (it cannot be counted, and must not pass silently)."""
        names = [b.title for b in budgets] + ["--max-cost"] * (call.run.max_cost is not None)
        if settings.block_unpriced:
            error = BudgetExceeded(
                f"{call.target.name} has no price, so it cannot be counted against the "
                f"{', '.join(names)}, and [budgets] block_unpriced = true refuses such "
                "calls; give the model a price in config, or set "
                "budgets.block_unpriced = false",
                budget="unpriced",
            )
            raise _refused(call, error)
        warning = (
            f"{call.target.name} has no price, so the {', '.join(names)} cannot count it: "
            "price it (USD per million tokens) with `superllm config set "
            f"'prices.\"{call.target.name}\"' '{{input = 1.0, output = 2.0}}'`, or refuse such "
            "calls with "
            "`superllm config set budgets.block_unpriced true`"
        )
        book = _book(call.run)
        if warning not in book.warnings:
            book.warnings.append(warning)

    @staticmethod
    def _output_tokens(call: CallInfo) -> int:
        """The answer length the call's worst case assumes."""
        target = call.target
        output = call.request.max_tokens
        if output is None:
            output = target.provider.capabilities(target.model).max_output
        return output or DEFAULT_OUTPUT_TOKENS

    def after_call(
        self,
        call: CallInfo,
        status: CallStatus,
        completion: Completion | None,
        error: SuperllmError | None,
        cost_usd: float | None,
        latency_ms: int,
    ) -> None:
        hold: _Hold | None = call.scratch.pop(_HOLD, None)
        book = call.run.scratch.get(_HOLD)
        if hold is not None and hold.shared and self._shared is not None:
            unpriced = completion is not None and status != "cached" and cost_usd is None
            self._shared.release(call.call_id, 0.0 if status == "cached" else cost_usd, unpriced)
        elif hold is not None:
            for key in hold.keys:
                if (tally := self._tallies.get(key)) is not None:
                    tally.reserved = max(tally.reserved - hold.amount, 0.0)
            if book is not None:
                book.reserved = max(book.reserved - hold.amount, 0.0)
        if completion is None or status == "cached":
            return
        self._settle(call, cost_usd, self._clock() if hold is None else hold.started)
        if cost_usd is not None and book is not None:
            book.spent += cost_usd
        if hold is not None:
            self._warn(call.run, hold)

    # -- the run hook -----------------------------------------------------------------------

    async def run_finished(
        self,
        run: RunInfo,
        request: Mapping[str, Any],
        result: RunResult,
        transcript: Sequence[Event],
    ) -> None:
        """Put the run's budget warnings (and its answers' caps) on its result."""
        book: _RunBook | None = run.scratch.get(_HOLD)
        if book is None:
            return
        warnings = list(book.warnings)
        if book.capped is not None:
            cap = book.capped
            result["capped"] = {
                "max_tokens": cap.max_tokens,
                "calls": book.capped_calls,
                "reason": f"{cap.budget} had {usd(cap.left_usd)} left",
            }
        # A run that failed because every call was refused already fails as over budget
        # (run.all_failed); one that answered anyway says what was refused.
        if book.refused is not None and result.get("error") is None:
            warnings.append(f"a call was refused: {book.refused.message}")
        if warnings:
            result["warnings"] = [*result.get("warnings", []), *warnings]

    # -- estimates and status -----------------------------------------------------------------

    @staticmethod
    def estimate(call: CallInfo, output: int | None = None) -> float | None:
        """The most this call should cost (USD), or None when the model has no price;
        ``output``: with that many output tokens instead of the request's allowance."""
        target = call.target
        if output is None:
            output = call.request.max_tokens
        if output is None:
            output = target.provider.capabilities(target.model).max_output
        # An upper bound on the input, so parallel reservations cannot overshoot together.
        usage = TokenUsage(call.input_token_bound, output or DEFAULT_OUTPUT_TOKENS)
        return target.provider.estimate_cost(target.model, usage)

    async def status(self, settings: BudgetSettings) -> list[dict[str, Any]]:
        """Every configured budget with its limit, spent, reserved and what is left."""
        budgets = all_budgets(settings)
        tallies: Sequence[_Tally | Tally]
        if self._shared is not None:
            now = self._clock()
            keys = [self._key(b.scope, b.name, b.period, now) for b in budgets]
            found = await self._shared.tallies(keys)
            tallies = [found[key] for key in keys]
        else:
            keys = await self._ready(budgets)
            tallies = [self._tallies[key] for key in keys]
        return [
            {
                "budget": b.title,
                "scope": b.scope,
                "name": b.name,
                "period": b.period,
                "limit_usd": b.limit,
                "spent_usd": t.spent,
                "reserved_usd": t.reserved,
                "left_usd": max(b.limit - t.spent - t.reserved, 0.0),
                "unpriced": t.unpriced,
            }
            for b, t in zip(budgets, tallies, strict=True)
        ]

    # -- bookkeeping --------------------------------------------------------------------------

    def _key(self, scope: Scope, name: str | None, period: Period, now: float) -> _Key:
        return (scope, name, period, period_start(period, now, self._tz))

    async def _ready(self, budgets: Sequence[Budget]) -> list[_Key]:
        """The current tallies of ``budgets``, read from the spend source where not in memory.

        Returns with every key present and no await pending, so the caller's next steps are
        atomic; loops if a day turned over while it waited.
        """
        while True:
            now = self._clock()
            keys = [self._key(b.scope, b.name, b.period, now) for b in budgets]
            missing = [k for k in dict.fromkeys(keys) if k not in self._tallies]
            if not missing:
                self._forget_old(now)
                return keys
            for key in missing:
                if key not in self._loading:
                    self._settled_while_loading[key] = 0.0
                    self._loading[key] = asyncio.ensure_future(self._load(key))
            # Shielded: one caller giving up must not cancel a read others wait for.
            await asyncio.shield(asyncio.gather(*(self._loading[k] for k in missing)))

    async def _load(self, key: _Key) -> None:
        scope, name, _, since = key
        try:
            # Only these budgets name their scope, so older spend sources still fit.
            by_token = {scope: name} if scope in ("token", "user", "team") else {}
            spent, unpriced = await self._spend.spent_usd(
                since,
                provider=name if scope == "provider" else None,
                label=name if scope == "label" else None,
                **by_token,
            )
        except SuperllmError:
            raise
        except Exception as exc:  # the source's own errors must not leak to the client
            raise SuperllmError(
                f"cannot read what was spent so far ({exc.__class__.__name__}), so no budget "
                "can be checked; see `superllm daemon logs`"
            ) from exc
        finally:
            late = self._settled_while_loading.pop(key, 0.0)
            self._loading.pop(key, None)
        self._tallies[key] = _Tally(spent=spent + late, unpriced=unpriced)

    def _forget_old(self, now: float) -> None:
        """Drop tallies of past days and months once no call in flight holds them."""
        current = {p: period_start(p, now, self._tz) for p in ("day", "month")}
        stale = [k for k, t in self._tallies.items() if k[3] != current[k[2]] and t.reserved <= 0]
        for key in stale:
            del self._tallies[key]

    def _settle(self, call: CallInfo, cost: float | None, started: float) -> None:
        scopes: list[tuple[Scope, str | None]] = [("global", None)]
        scopes += [("provider", call.target.provider.id), ("label", call.run.label)]
        for scope, name in (("token", call.run.token), ("user", call.run.user)):
            if name is not None:
                scopes.append((scope, name))  # type: ignore[arg-type]
        if call.run.team is not None:
            scopes.append(("team", call.run.team))
        for scope, name in scopes:
            for period in ("day", "month"):
                key = self._key(scope, name, period, started)
                if (tally := self._tallies.get(key)) is not None:
                    if cost is None:
                        tally.unpriced = True
                    else:
                        tally.spent += cost
                elif key in self._settled_while_loading and cost is not None:
                    self._settled_while_loading[key] += cost

    def _warn(self, run: RunInfo, hold: _Hold) -> None:
        book = _book(run)
        for budget, key in zip(hold.budgets, hold.keys, strict=True):
            tally = self._tallies.get(key)
            if tally is not None and budget.limit > 0:
                _maybe_warn(book, budget.title, tally.spent, budget.limit, hold.warn_at)
        if run.max_cost is not None and run.max_cost > 0:
            _maybe_warn(book, "--max-cost", book.spent, run.max_cost, hold.warn_at)


def _refused(call: CallInfo, error: BudgetExceeded) -> BudgetExceeded:
    """Note the run's first refusal (see ``run_finished``) and hand the error back to raise."""
    book = _book(call.run)
    if book.refused is None:
        book.refused = error
    return error


def _note_cap(book: _RunBook, cap: Cap) -> None:
    book.capped_calls += 1
    if book.capped is None or cap.max_tokens < book.capped.max_tokens:
        book.capped = cap


def _book(run: RunInfo) -> _RunBook:
    book: _RunBook = run.scratch.setdefault(_HOLD, _RunBook())
    return book


def _maybe_warn(book: _RunBook, title: str, spent: float, limit: float, warn_at: float) -> None:
    if spent < warn_at * limit:
        return
    message = f"{title}: {spent / limit:.0%} used ({usd(spent)} of {usd(limit)})"
    if not any(w.startswith(f"{title}:") for w in book.warnings):
        book.warnings.append(message)
