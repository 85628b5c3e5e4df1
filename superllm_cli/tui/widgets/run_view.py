"""The live run view: a column per participant, round tabs, the agreement meter, the run's
totals, the judge's pane and, for redteam, the objections table.

Events go through :class:`~superllm_cli.runstate.RunState` first (the record), then only
the widgets an event touched are updated. The view shows one round at a time: the newest,
while a run streams, unless the user picked an earlier one (``follow`` is then off until
they pick the newest again).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, HorizontalScroll, Vertical, VerticalScroll
from textual.widgets import Static

from superllm_cli.runstate import Change, Lane, RunState, objections_of, readable, verdict
from superllm_cli.tui.widgets.agreement_meter import AgreementMeter
from superllm_cli.tui.widgets.judge_pane import JudgePane
from superllm_cli.tui.widgets.participant_column import ParticipantColumn
from superllm_cli.tui.widgets.redteam_view import RedteamView
from superllm_cli.tui.widgets.round_tabs import RoundTabs
from superllm_cli.tui.widgets.run_totals import RunTotals

__all__ = ["RunView"]

WELCOME = (
    "Type a prompt below and press ctrl+s.\n\n"
    "f2 switches the mode, f3 shows the models to pick, ctrl+p opens the command palette."
)
_ROLES = {"redteam": ("blue", "red")}


class RunView(VerticalScroll):
    """Everything about the run on show."""

    def __init__(self, *, show_latency: bool = True, id: str | None = None) -> None:
        super().__init__(id=id)
        self.show_latency = show_latency
        self.state = RunState()
        self.columns: dict[str, ParticipantColumn] = {}
        self.round = 0
        self.follow = True
        self._shown: dict[str, int] = {}  # column -> round whose text it shows

    def compose(self) -> ComposeResult:
        with Vertical(id="run-bar"):
            yield RoundTabs(id="rounds")
            with Horizontal(id="run-stats"):
                yield AgreementMeter(id="meter")
                yield RunTotals(id="totals")
        yield Static(WELCOME, id="welcome")
        yield HorizontalScroll(id="lanes")
        yield RedteamView(id="objections")
        yield JudgePane(show_latency=self.show_latency, id="judge")

    def on_mount(self) -> None:
        self.query_one(RedteamView).display = False
        self.query_one(JudgePane).display = False
        self.query_one("#run-bar").display = False

    # -- lifecycle ----------------------------------------------------------------------

    async def reset(self) -> None:
        """Clear the view for a new run."""
        self.state = RunState()
        self.round, self.follow = 0, True
        self._shown.clear()
        await self.query_one("#lanes").remove_children()
        self.columns.clear()
        tabs = self.query_one(RoundTabs)
        tabs.agreements = {}
        tabs.set_rounds(1)
        tabs.index = 0
        self.query_one(AgreementMeter).agreement = None
        self.query_one(AgreementMeter).history = ()
        self.query_one(RedteamView).set_objections([])
        self.query_one(RedteamView).display = False
        judge = self.query_one(JudgePane)
        judge.display = False
        await judge.show("")
        self.query_one("#welcome").display = False
        self.query_one("#run-bar").display = True
        self._totals()

    async def replay(self, events: Iterable[dict[str, Any]]) -> None:
        """Show a finished run from its transcript, as if it streamed."""
        await self.reset()
        for event in events:
            await self.apply(event)

    def cancelled(self) -> None:
        """The user stopped the run: unfinished participants say so in place."""
        for name, column in self.columns.items():
            lane = self.state.lanes[name]
            if lane.status in ("waiting", "streaming", "retried"):
                lane.status, lane.error = "failed", "cancelled"
                self._update(column, lane)
        self.query_one(RunTotals).note = "cancelled"

    # -- events -------------------------------------------------------------------------

    async def apply(self, event: dict[str, Any]) -> None:
        change = self.state.apply(event)
        if change is None:
            return
        is_judge = str(event.get("type", "")).startswith("judge")
        if change.kind == "started":
            for name in self.state.lanes:
                await self._column(name)
            self.query_one(RedteamView).display = self.state.mode == "redteam"
        elif change.kind == "text" and is_judge:
            await self._judge_text(change)
        elif change.kind == "text" and change.lane is not None:
            await self._text(change)
        elif change.kind in ("lane", "judge"):
            await self._lane(change, is_judge)
        elif change.kind == "round":
            self._rounds()
        elif change.kind == "finished":
            await self._finished()
        elif change.kind == "error":
            self.notify(self.state.error or "the run failed", severity="error")
        if self.state.mode == "redteam" and change.kind in ("lane", "judge", "finished"):
            self.query_one(RedteamView).set_objections(objections_of(self.state))
        self._totals()

    async def _column(self, name: str) -> ParticipantColumn:
        column = self.columns.get(name)
        if column is None:
            roles = _ROLES.get(self.state.mode or "", ())
            index = len(self.columns)
            role = roles[index] if index < len(roles) else ""
            column = ParticipantColumn(name, show_latency=self.show_latency, role=role)
            self.columns[name] = column
            await self.query_one("#lanes").mount(column)
        return column

    async def _text(self, change: Change) -> None:
        assert change.lane is not None
        column = await self._column(change.lane)
        lane = self.state.lanes[change.lane]
        self._update(column, lane)
        if change.round > self.round and self.follow:
            await self.show_round(change.round, follow=True)
            return
        if change.round != self.round:
            return
        if self._shown.get(change.lane) == change.round:
            column.append(change.text)
        else:
            self._shown[change.lane] = change.round
            await column.show(lane.turn(change.round).text)

    async def _lane(self, change: Change, is_judge: bool) -> None:
        if is_judge:
            lane = self.state.judge
            pane = self.query_one(JudgePane)
            if lane is not None:
                if pane.participant != lane.name or not pane.display:
                    await pane.speak(lane.name)
                self._update(pane, lane)
                text = self._final(lane.turn(change.round).text)
                if pane.shown_text != text:
                    await pane.show(text)
            return
        if change.lane is None:
            return
        lane = self.state.lanes[change.lane]
        column = await self._column(change.lane)
        self._update(column, lane)
        if change.round > self.round and self.follow:  # a transcript without deltas
            await self.show_round(change.round, follow=True)
        elif change.round == self.round and change.round in lane.turns:
            text = self._final(lane.turns[change.round].text)
            if column.shown_text != text:
                self._shown[change.lane] = change.round
                await column.show(text)

    async def _judge_text(self, change: Change) -> None:
        lane = self.state.judge
        if lane is None:
            return
        pane = self.query_one(JudgePane)
        if pane.participant != lane.name or not pane.display:
            await pane.speak(lane.name)
            await pane.show(lane.turn(change.round).text)
        else:
            pane.append(change.text)
        self._update(pane, lane)

    def _final(self, text: str) -> str:
        """A finished answer as shown: redteam's JSON answers made readable."""
        return readable(text) if self.state.mode == "redteam" else text

    def _update(self, column: ParticipantColumn, lane: Lane) -> None:
        column.status = lane.status
        streaming = sum(t.deltas for t in lane.turns.values() if not t.done)
        column.tokens = lane.output_tokens + streaming
        column.cost, column.unpriced = lane.cost_usd, lane.unpriced
        column.latency_ms = lane.latency_ms
        column.retries = lane.retries
        column.error = lane.error if lane.status in ("failed", "retried") else None

    def _rounds(self) -> None:
        tabs = self.query_one(RoundTabs)
        rounds = self.state.rounds
        tabs.agreements = {r: info.agreement for r, info in rounds.items()}
        tabs.set_rounds(self.state.last_round + 1)
        tabs.refresh(layout=True)
        meter = self.query_one(AgreementMeter)
        meter.history = tuple(info.agreement for _, info in sorted(rounds.items()))
        meter.agreement = self.state.agreement

    async def _finished(self) -> None:
        self._rounds()
        for name, column in self.columns.items():
            lane = self.state.lanes[name]
            if lane.status in ("streaming", "waiting") and lane.turns:
                lane.status = "done" if all(t.done for t in lane.turns.values()) else "failed"
            self._update(column, lane)
        if self.state.mode == "redteam":  # a side never called (blue failed) has no column
            for name, column in list(self.columns.items()):
                lane = self.state.lanes[name]
                if not lane.turns and lane.status == "waiting" and len(self.columns) > 1:
                    await column.remove()
                    del self.columns[name]
        self.query_one(AgreementMeter).agreement = self.state.agreement
        judge = self.query_one(JudgePane)
        found = verdict(self.state.result or {})
        if not judge.display and found is not None and self.state.mode != "ask":
            await judge.conclude(*found)

    def _totals(self) -> None:
        totals = self.query_one(RunTotals)
        tokens_in, tokens_out, cost, unpriced = self.state.totals()
        totals.input_tokens, totals.output_tokens = tokens_in, tokens_out
        totals.cost_usd, totals.unpriced, totals.calls = cost, unpriced, self.state.calls
        if self.state.result is not None:
            totals.calls = int(self.state.result.get("calls", self.state.calls) or 0)
        totals.note = "finished" if self.state.finished else ""
        self.query_one(RoundTabs).display = self.state.mode in ("debate", "redteam")

    # -- rounds -------------------------------------------------------------------------

    async def show_round(self, round_: int, *, follow: bool | None = None) -> None:
        """Show ``round_`` in every column; following the newest unless told otherwise."""
        last = self.state.last_round
        round_ = max(0, min(round_, last))
        self.follow = round_ == last if follow is None else follow
        self.round = round_
        tabs = self.query_one(RoundTabs)
        tabs.set_rounds(last + 1)
        with tabs.prevent(RoundTabs.Selected):
            tabs.index = round_
        for name, column in self.columns.items():
            lane = self.state.lanes[name]
            shown = max((r for r in lane.turns if r <= round_), default=round_)
            self._shown[name] = shown
            turn = lane.turns.get(shown)
            text = lane.text_at(round_)
            await column.show(self._final(text) if turn is not None and turn.done else text)

    async def on_round_tabs_selected(self, event: RoundTabs.Selected) -> None:
        event.stop()
        await self.show_round(event.round)

    async def next_round(self, step: int = 1) -> None:
        count = self.state.last_round + 1
        await self.show_round((self.round + step) % count)
