"""The prompt box: several lines of text, earlier prompts on up and down, sent with a key.

Enter makes a new line, as in any editor, so a prompt may hold code or a list; the send
key (ctrl+s, shown in the footer) posts :class:`PromptBox.Submitted`. Up on the first line
and down on the last walk the history, like a shell; what was being typed is kept and comes
back past the newest entry.
"""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import TextArea

__all__ = ["PromptBox"]


class PromptBox(TextArea):
    """A multi-line prompt with a shell-like history."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+s", "submit", "Send")]

    class Submitted(Message):
        """The user sent a prompt (never empty)."""

        def __init__(self, prompt_box: PromptBox, text: str) -> None:
            super().__init__()
            self.prompt_box = prompt_box
            self.text = text

        @property
        def control(self) -> PromptBox:
            return self.prompt_box

    def __init__(self, *, past: list[str] | None = None, id: str | None = None) -> None:
        super().__init__(
            id=id,
            soft_wrap=True,
            tab_behavior="focus",
            show_line_numbers=False,
            highlight_cursor_line=False,
            placeholder="Ask something; ctrl+s sends, up/down for earlier prompts",
        )
        self.past: list[str] = list(past or [])
        self._position = len(self.past)  # == len(history): the draft being typed
        self._draft = ""

    def action_submit(self) -> None:
        text = self.text.strip()
        if not text:
            self.app.bell()
            return
        if not self.past or self.past[-1] != text:
            self.past.append(text)
        self._position, self._draft = len(self.past), ""
        self.clear()
        self.post_message(self.Submitted(self, text))

    def action_cursor_up(self, select: bool = False) -> None:
        if select or not self.cursor_at_first_line or self._position == 0:
            super().action_cursor_up(select)
            return
        if self._position == len(self.past):
            self._draft = self.text
        self._position -= 1
        self._show(self.past[self._position], at_end=False)

    def action_cursor_down(self, select: bool = False) -> None:
        if select or not self.cursor_at_last_line or self._position >= len(self.past):
            super().action_cursor_down(select)
            return
        self._position += 1
        text = self._draft if self._position == len(self.past) else self.past[self._position]
        self._show(text, at_end=True)

    def _show(self, text: str, *, at_end: bool) -> None:
        self.load_text(text)
        self.move_cursor(self.document.end if at_end else (0, len(self.document[0])))
