"""History: runs from the ledger, newest first, searchable; Enter reopens one.

The list is ``GET /v1/runs``; typing in the search box asks ``GET /v1/runs?search=TEXT``
(the ledger's full-text index over prompts and answers). Opening a run fetches its
transcript (``GET /v1/runs/{id}``) and replays it, event by event, into the run view, so a
reopened run looks as it did live, rounds and judge included.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar
from urllib.parse import quote

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Footer, Header, Input, Static

from superllm_cli.money import cost_of, cost_text
from superllm_cli.tui.screens.base import SuiteScreen

__all__ = ["HistoryScreen", "runs_of", "transcript_of"]

LIMIT = 200


def runs_of(answer: Any) -> list[dict[str, Any]]:
    """The run summaries in a ``/v1/runs`` answer (a list, or an object holding one)."""
    if isinstance(answer, dict):
        answer = answer.get("runs") or answer.get("rows") or []
    return [r for r in answer if isinstance(r, dict)] if isinstance(answer, list) else []


def transcript_of(answer: Any) -> list[dict[str, Any]]:
    """The events of a ``/v1/runs/{id}`` answer; a run without a transcript (an old ledger,
    ``log_prompts = false``) is rebuilt from its result so that it can still be shown."""
    if not isinstance(answer, dict):
        return []
    events = answer.get("transcript")
    if isinstance(events, list) and events:
        return [e for e in events if isinstance(e, dict)]
    result = answer.get("result") or {}
    run_id = answer.get("run_id") or result.get("run_id") or ""
    rebuilt: list[dict[str, Any]] = [
        {
            "type": "run.started",
            "run_id": run_id,
            "mode": answer.get("mode") or result.get("mode"),
            "participants": [p.get("model") for p in result.get("participants") or []],
        }
    ]
    for p in result.get("participants") or []:
        if p.get("error"):
            rebuilt.append({"type": "error", "participant": p.get("model"), **p["error"]})
        else:
            rebuilt.append(
                {"type": "message", "participant": p.get("model"), "round": 0,
                 "text": p.get("answer") or "", "usage": p.get("usage") or {},
                 "cost_usd": p.get("cost_usd"), "latency_ms": p.get("latency_ms")}
            )  # fmt: skip
    rebuilt.append({"type": "run.finished", "run_id": run_id, "result": result})
    return rebuilt


def _when(value: Any, show: bool) -> str:
    if not show:
        return "--"
    try:
        return dt.datetime.fromtimestamp(float(value)).strftime("%m-%d %H:%M")
    except (TypeError, ValueError):
        return "?"


class HistoryScreen(SuiteScreen):
    CSS_PATH = "history.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("ctrl+f", "search", "Search"),
        Binding("ctrl+r", "reload", "Reload"),
    ]

    def __init__(self, *, show_times: bool = True) -> None:
        super().__init__()
        self.show_times = show_times
        self.runs: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        yield Header(icon="≋")
        yield Input(placeholder="search prompts and answers (enter)", id="search")
        yield DataTable[str](id="runs", cursor_type="row", zebra_stripes=True)
        yield Static("", id="history-status")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sub_title = "history"
        table = self.query_one("#runs", DataTable)
        table.add_column("when", width=11, key="when")
        table.add_column("mode", width=9, key="mode")
        table.add_column("prompt", key="prompt")
        table.add_column("agree", width=5, key="agreement")
        table.add_column("cost", width=9, key="cost")
        self.load("")
        table.focus()

    def action_search(self) -> None:
        self.query_one("#search", Input).focus()

    def action_reload(self) -> None:
        self.load(self.query_one("#search", Input).value)

    @on(Input.Submitted, "#search")
    def _searched(self, event: Input.Submitted) -> None:
        self.load(event.value)
        self.query_one("#runs", DataTable).focus()

    @work(exclusive=True, group="history")
    async def load(self, text: str) -> None:
        from superllmd.errors import SuperllmError

        path = f"/v1/runs?limit={LIMIT}"
        if text.strip():
            path += f"&search={quote(text.strip())}"
        status = self.query_one("#history-status", Static)
        try:
            self.runs = runs_of(await self.suite.backend.get(path))
        except SuperllmError as exc:
            status.update(f"history unavailable: {exc.message}")
            return
        table = self.query_one("#runs", DataTable)
        table.clear()
        for run in self.runs:
            agreement = run.get("agreement")
            prompt = " ".join(str(run.get("prompt") or "").split())
            table.add_row(
                _when(run.get("time"), self.show_times),
                str(run.get("mode") or ""),
                prompt,
                "" if agreement is None else f"{float(agreement):.2f}",
                cost_text(*cost_of(run)),
                key=str(run.get("run_id")),
            )
        found = f"{len(self.runs)} run(s)" + (f" matching {text.strip()!r}" if text else "")
        status.update(f"{found} · enter opens one")

    @on(DataTable.RowSelected, "#runs")
    def _chosen(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.open_run(event.row_key.value)

    @work(exclusive=True, group="open")
    async def open_run(self, run_id: str) -> None:
        from superllmd.errors import SuperllmError

        try:
            answer = await self.suite.backend.get(f"/v1/runs/{quote(run_id)}")
        except SuperllmError as exc:
            self.notify(exc.message, title="history", severity="error")
            return
        events = transcript_of(answer)
        if not events:
            self.notify(f"run {run_id} has no transcript", severity="warning")
            return
        self.suite.replay(events)
