"""The judge's (or synthesiser's) answer, in its own pane once it starts to arrive.

Hidden until the first judge event, so a mode without a judge gives its space to the
participants. Streams like a participant column (it is one, with the judge's role). A run
that ends without a judge (a vote, a debate settled by majority) shows its final answer
here instead: the winner must be on the screen, not only in the columns it came from.
"""

from __future__ import annotations

from superllm_cli.tui.widgets.participant_column import ParticipantColumn

__all__ = ["JudgePane"]


class JudgePane(ParticipantColumn):
    """The judge's column; ``participant`` changes when another judge speaks."""

    def __init__(self, *, show_latency: bool = True, id: str | None = None) -> None:
        super().__init__("judge", show_latency=show_latency, id=id, role="judge")
        self.judge_role = self.role
        self.add_class("judge")

    async def speak(self, name: str) -> None:
        """A (new) judge starts: name it and clear the pane."""
        self.role, self.participant = self.judge_role, name
        self.display = True
        self.status = "streaming"
        await self.show("")
        self._titles()

    async def conclude(self, title: str, text: str) -> None:
        """Show a run's final answer that no judge wrote (the winner of a vote)."""
        self.role, self.participant = "answer", title
        self.display = True
        self.status = "done"
        await self.show(text)
        self._titles()
