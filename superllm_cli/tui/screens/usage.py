"""Usage: cost by day as a chart, cost by provider and by model, and budget gauges.

All of it from the daemon's ledger (``GET /v1/usage?by=day|provider|model`` and
``GET /v1/budgets``), the same numbers ``superllm usage`` and ``budget show`` print. The
chart, the totals and both tables read the same period (the last ``DAYS`` days), so today's
bar and the tables agree. Costs follow the one money rule (superllm_cli/money.py): the known
sum plus how many calls had no price, never free.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Footer, Header, Static

from superllm_cli.money import cost_of, cost_text, io_tokens
from superllm_cli.tui.screens.base import SuiteScreen
from superllm_cli.tui.widgets.budget_gauge import BudgetGauge
from superllm_cli.tui.widgets.cost_chart import CostChart, DayCost

__all__ = ["DAYS", "UsageScreen", "days_of"]

DAYS = 14


def days_of(rows: list[dict[str, Any]], today: dt.date, count: int = DAYS) -> list[DayCost]:
    """The last ``count`` days up to ``today`` from ``by=day`` rows, empty days included."""
    by_day = {str(r.get("day")): r for r in rows}
    out = []
    for back in range(count - 1, -1, -1):
        day = today - dt.timedelta(days=back)
        row = by_day.get(day.isoformat())
        known, unpriced = cost_of(row) if row else (0.0, 0)
        out.append(DayCost(day, known, int((row or {}).get("calls", 0)), unpriced))
    return out


def _cost(figures: dict[str, Any]) -> str:
    return cost_text(*cost_of(figures))


class UsageScreen(SuiteScreen):
    CSS_PATH = "usage.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("r", "reload", "Reload"),
    ]

    def __init__(self, *, today: dt.date | None = None) -> None:
        super().__init__()
        self.today = today

    def compose(self) -> ComposeResult:
        yield Header(icon="≋")
        with VerticalScroll(id="usage"):
            yield Static("", id="usage-totals")
            with Vertical(id="chart-box") as box:
                box.border_title = f"cost by day · last {DAYS} days"
                yield CostChart(id="chart")
            with Horizontal(id="breakdowns"):
                yield DataTable[str](id="by-provider", cursor_type="row")
                yield DataTable[str](id="by-model", cursor_type="row")
            with Vertical(id="budgets") as budgets:
                budgets.border_title = "budgets"
                yield Static("no budgets set: `superllm budget set --daily USD`", id="no-budgets")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sub_title = "usage"
        for table_id, key in (("#by-provider", "provider"), ("#by-model", "model")):
            table = self.query_one(table_id, DataTable)
            table.border_title = f"by {key}"
            table.add_columns(key, "calls", "in/out", "cost")
        self.action_reload()

    def action_reload(self) -> None:
        self.load()

    @work(exclusive=True, group="usage")
    async def load(self) -> None:
        from superllmd.errors import SuperllmError

        backend = self.suite.backend
        today = self.today or dt.date.today()
        since = dt.datetime.combine(today - dt.timedelta(days=DAYS - 1), dt.time()).timestamp()
        try:
            day, provider, model = await asyncio.gather(
                backend.get(f"/v1/usage?by=day&since={since:.0f}"),
                backend.get(f"/v1/usage?by=provider&since={since:.0f}"),
                backend.get(f"/v1/usage?by=model&since={since:.0f}"),
            )
        except SuperllmError as exc:
            self.query_one("#usage-totals", Static).update(f"usage unavailable: {exc.message}")
            return
        totals = provider.get("totals") or {}
        self.query_one("#usage-totals", Static).update(
            f"last {DAYS} days: {totals.get('calls', 0)} calls · "
            f"{io_tokens(totals)} · "
            f"{_cost(totals)}"
        )
        self.query_one(CostChart).days = tuple(days_of(day.get("rows") or [], today))
        for table_id, key, report in (
            ("#by-provider", "provider", provider),
            ("#by-model", "model", model),
        ):
            table = self.query_one(table_id, DataTable)
            table.clear()
            for row in report.get("rows") or []:
                table.add_row(
                    str(row.get(key)),
                    str(row.get("calls", 0)),
                    f"{row.get('input_tokens', 0)}/{row.get('output_tokens', 0)}",
                    _cost(row),
                )
        await self._budgets()

    async def _budgets(self) -> None:
        from superllmd.errors import SuperllmError

        try:
            answer = await self.suite.backend.get("/v1/budgets")
        except SuperllmError as exc:
            self.query_one("#no-budgets", Static).update(f"budgets unavailable: {exc.message}")
            return
        box = self.query_one("#budgets")
        await box.query(BudgetGauge).remove()
        rows = answer.get("budgets") or []
        self.query_one("#no-budgets").display = not rows
        warn_at = float(answer.get("warn_at") or 0.8)
        await box.mount_all(BudgetGauge(row, warn_at=warn_at) for row in rows)
