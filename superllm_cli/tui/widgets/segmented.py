"""A one-line row of choices, one of them selected: the base of the mode switch and the
round tabs.

One line, because at 80x24 every row counts (Textual's ``Tabs`` takes two). Left and right
move the selection when it has focus, a click picks a choice, and subclasses say what a
change means by posting their own message from :meth:`selected`.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.events import Click
from textual.reactive import reactive
from textual.widget import Widget

__all__ = ["Segmented"]

SEPARATOR = "│"


class Segmented(Widget, can_focus=True):
    """Choices in a row; ``index`` is the selected one."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left", "move(-1)", "Previous", show=False),
        Binding("right", "move(1)", "Next", show=False),
    ]
    DEFAULT_CSS = """
    Segmented { height: 1; width: 1fr; }
    """

    index: reactive[int] = reactive(0)
    choices: reactive[tuple[str, ...]] = reactive((), layout=True)

    def __init__(
        self, choices: tuple[str, ...] = (), *, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.set_reactive(Segmented.choices, choices)

    def validate_index(self, index: int) -> int:
        return max(0, min(index, len(self.choices) - 1)) if self.choices else 0

    def watch_index(self, old: int, new: int) -> None:
        if old != new:
            self.selected(new)

    def selected(self, index: int) -> None:
        """Called when the user or the app changes the selection."""

    def label(self, index: int) -> str:
        return self.choices[index]

    def action_move(self, step: int) -> None:
        if self.choices:
            self.index = (self.index + step) % len(self.choices)

    def render(self) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        for i in range(len(self.choices)):
            if i:
                text.append(SEPARATOR, style="dim")
            style = "reverse bold" if i == self.index else ""
            text.append(f" {self.label(i)} ", style=style)
        return text

    def _at(self, x: int) -> int | None:
        position = 0
        for i in range(len(self.choices)):
            if i:
                position += len(SEPARATOR)
            width = len(self.label(i)) + 2
            if position <= x < position + width:
                return i
            position += width
        return None

    def on_click(self, event: Click) -> None:
        if (i := self._at(event.x)) is not None:
            self.index = i
