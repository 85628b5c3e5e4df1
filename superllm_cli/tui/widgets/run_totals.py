"""The run's running totals: tokens in and out, cost and calls, updated as messages land.

A cost is the known sum plus how many calls had no price (``$0.0002 + 1 unpriced``, the
rule of superllm_cli/money.py): superllm never shows an unknown cost as free.
"""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from superllm_cli.money import cost_text, tokens, usd

__all__ = ["RunTotals"]


class RunTotals(Widget):
    DEFAULT_CSS = "RunTotals { height: 1; width: 1fr; }"

    input_tokens: reactive[int] = reactive(0)
    output_tokens: reactive[int] = reactive(0)
    cost_usd: reactive[float] = reactive(0.0)
    unpriced: reactive[int] = reactive(0)  # calls with no price
    calls: reactive[int] = reactive(0)
    note: reactive[str] = reactive("")

    def validate_input_tokens(self, value: int) -> int:
        return max(0, value)

    def validate_output_tokens(self, value: int) -> int:
        return max(0, value)

    def render(self) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis", justify="right")
        text.append(f"{tokens(self.input_tokens)} in", style="bold")
        text.append(" / ", style="dim")
        text.append(f"{tokens(self.output_tokens)} out", style="bold")
        text.append(" · ", style="dim")

        if not self.unpriced:
            text.append(usd(self.cost_usd), style="bold")
        elif not self.cost_usd:
            text.append(cost_text(0.0, self.unpriced), style="yellow")
        else:
            text.append(usd(self.cost_usd), style="bold")
            text.append(f" + {self.unpriced} unpriced", style="yellow")
        text.append(f" · {self.calls} calls", style="dim")
        if self.note:
            text.append(f" · {self.note}", style="dim")
        return text
