"""The mode switch: ask, consensus, debate or redteam for the next prompt."""

from __future__ import annotations

from typing import Final

from textual.message import Message

from superllm_cli.tui.widgets.segmented import Segmented

__all__ = ["MODES", "ModeSwitch"]

MODES: Final = ("ask", "consensus", "debate", "redteam")


class ModeSwitch(Segmented):
    """Which mode the next prompt runs in; ``mode`` names it."""

    class Changed(Message):
        def __init__(self, switch: ModeSwitch, mode: str) -> None:
            super().__init__()
            self.switch = switch
            self.mode = mode

        @property
        def control(self) -> ModeSwitch:
            return self.switch

    def __init__(self, mode: str = "consensus", *, id: str | None = None) -> None:
        super().__init__(MODES, id=id)
        self.set_reactive(Segmented.index, MODES.index(mode))

    @property
    def mode(self) -> str:
        return MODES[self.index]

    @mode.setter
    def mode(self, mode: str) -> None:
        self.index = MODES.index(mode)

    def selected(self, index: int) -> None:
        self.post_message(self.Changed(self, MODES[index]))
