"""One budget as a gauge: spent (and reserved) against the limit, with what is left.

Reserved money is what calls in flight have set aside; it is drawn apart from what is spent
because it may come back. Colour turns yellow at the warning share and red when none is
left.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

__all__ = ["BudgetGauge"]

BAR = 20


class BudgetGauge(Widget):
    DEFAULT_CSS = "BudgetGauge { height: 1; }"

    budget: reactive[dict[str, Any]] = reactive(dict, always_update=True)

    def __init__(self, budget: dict[str, Any], *, warn_at: float = 0.8) -> None:
        super().__init__(classes="gauge")
        self.warn_at = warn_at
        self.set_reactive(BudgetGauge.budget, budget)

    def validate_budget(self, budget: dict[str, Any]) -> dict[str, Any]:
        return dict(budget) if isinstance(budget, dict) else {}

    def render(self) -> Text:
        b = self.budget
        limit = float(b.get("limit_usd") or 0.0)
        spent = float(b.get("spent_usd") or 0.0)
        reserved = float(b.get("reserved_usd") or 0.0)
        left = float(b.get("left_usd", max(limit - spent - reserved, 0.0)) or 0.0)
        share = (spent + reserved) / limit if limit else 1.0
        colour = "red" if left <= 0 else "yellow" if share >= self.warn_at else "green"
        used = min(round(spent / limit * BAR), BAR) if limit else BAR
        held = min(round(reserved / limit * BAR), BAR - used) if limit else 0
        title = str(b.get("budget") or f"{b.get('period', '')} {b.get('name') or ''}".strip())
        text = Text(f"{title:<22.22} ", no_wrap=True, overflow="ellipsis")
        text.append("█" * used, style=colour)
        text.append("▒" * held, style=colour)
        text.append("░" * (BAR - used - held), style="dim")
        digits = 4 if limit < 1 else 2  # a budget of cents is read to the tenth of a cent
        text.append(f" ${spent:.{digits}f} of ${limit:.{digits}f}", style="bold")
        text.append(f" · ${left:.{digits}f} left", style=colour)
        if b.get("unpriced"):
            text.append(" · some unpriced", style="yellow")
        return text
