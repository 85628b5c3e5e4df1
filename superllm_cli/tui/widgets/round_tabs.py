"""The debate's rounds as tabs, each with the agreement reached after it.

The view follows the newest round while a run streams; picking an older round (click, left
and right, or the round key) pins it until the user picks the newest again.
"""

from __future__ import annotations

from textual.message import Message
from textual.reactive import reactive

from superllm_cli.tui.widgets.segmented import Segmented

__all__ = ["RoundTabs"]


class RoundTabs(Segmented):
    """One tab per round; ``agreements`` labels them once each round is over."""

    agreements: reactive[dict[int, float | None]] = reactive(dict, always_update=True)

    class Selected(Message):
        def __init__(self, tabs: RoundTabs, round: int) -> None:
            super().__init__()
            self.tabs = tabs
            self.round = round

        @property
        def control(self) -> RoundTabs:
            return self.tabs

    def set_rounds(self, count: int) -> None:
        """Show ``count`` rounds (at least one); the selection stays where it is."""
        count = max(count, 1)
        if len(self.choices) != count:
            self.choices = tuple(str(r) for r in range(count))

    def label(self, index: int) -> str:
        value = self.agreements.get(index, None)
        if index not in self.agreements:
            return f"round {index}"
        shown = "n/a" if value is None else f"{value:.2f}"
        return f"round {index} · {shown}"

    def selected(self, index: int) -> None:
        self.post_message(self.Selected(self, index))
