"""The agreement meter: how far the panel agrees, as a bar, with the trend over rounds.

Agreement is the daemon's number in [0, 1] (share of matching final answers, or similarity
of free text); ``None`` means the mode could not tell (one answer, unreadable rulings) and
is shown as such rather than as zero.
"""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

__all__ = ["AgreementMeter"]

BAR_WIDTH = 10
SPARKS = "▁▂▃▄▅▆▇█"


class AgreementMeter(Widget):
    """``agreement`` now, and ``history`` (one value per finished round)."""

    DEFAULT_CSS = "AgreementMeter { height: 1; width: auto; }"

    agreement: reactive[float | None] = reactive(None, layout=True)
    history: reactive[tuple[float | None, ...]] = reactive((), layout=True)

    def validate_agreement(self, value: float | None) -> float | None:
        return None if value is None else max(0.0, min(1.0, float(value)))

    def render(self) -> Text:
        text = Text("agreement ", style="dim", no_wrap=True)
        value = self.agreement
        if value is None:
            text.append("·" * BAR_WIDTH + " n/a", style="dim")
        else:
            full = round(value * BAR_WIDTH)
            colour = "green" if value >= 0.8 else "yellow" if value >= 0.5 else "red"
            text.append("█" * full, style=colour)
            text.append("░" * (BAR_WIDTH - full), style="dim")
            text.append(f" {value:.2f}", style=f"bold {colour}")
        if len(self.history) > 1:
            text.append(" ")
            for point in self.history:
                if point is None:
                    text.append("·", style="dim")
                else:
                    text.append(SPARKS[min(int(point * len(SPARKS)), len(SPARKS) - 1)])
        return text
