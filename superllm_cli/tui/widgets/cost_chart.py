"""Cost by day as a bar chart: one row per day, newest at the bottom, as many as fit.

Horizontal bars keep each day's label and amount readable at 80 columns, where vertical
bars would have room for neither. Days without calls are shown (as empty bars), so a gap in
use reads as a gap. A day's amount is its known cost plus how many calls had no price
(``$0.1591 + 3 unpriced``); when no day on show has a known cost, the bars count calls (in
another colour).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

__all__ = ["CostChart", "DayCost"]


@dataclass(frozen=True)
class DayCost:
    day: dt.date
    cost_usd: float  # the priced calls' sum
    calls: int
    unpriced: int = 0  # calls with no price


class CostChart(Widget):
    """``days`` oldest first; the chart shows the newest that fit its height."""

    DEFAULT_CSS = "CostChart { height: auto; min-height: 3; }"

    days: reactive[tuple[DayCost, ...]] = reactive((), layout=True)

    def get_content_height(self, container: object, viewport: object, width: int) -> int:
        return max(len(self.days), 1)

    def render(self) -> Text:
        if not self.days:
            return Text("no calls in this period", style="dim")
        shown = self.days[-max(self.size.height, 1) :]
        # Bars measure cost; when nothing in view has a known cost (unpriced models only),
        # they measure calls instead, rather than stand empty.
        by_cost = any(d.cost_usd > 0 for d in shown)
        values = [d.cost_usd if by_cost else float(d.calls) for d in shown]
        top = max(values, default=0.0) or 1.0
        from superllm_cli.money import cost_text

        amounts = [" " + cost_text(d.cost_usd, d.unpriced) if d.calls else " $0.00" for d in shown]
        amount_width = max(12, *(len(a) for a in amounts))
        # "01-31 " + bar + amount + " 123 calls"
        bar_width = max(self.size.width - 6 - amount_width - 10, 4)
        text = Text(no_wrap=True)
        for i, (day, value, amount) in enumerate(zip(shown, values, amounts, strict=True)):
            if i:
                text.append("\n")
            text.append(day.day.strftime("%m-%d "), style="dim")
            filled = round(value / top * bar_width)
            if value > 0 and filled == 0:
                filled = 1
            text.append("█" * filled, style="cyan" if by_cost else "blue")
            text.append("·" * (bar_width - filled), style="dim")
            text.append(f"{amount:<{amount_width}}", style="bold")
            text.append(f" {day.calls:>3} calls", style="dim")
        return text
