"""Showing a multi-model run: live panels on a terminal, only the answer in a pipe."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from superllm_cli.money import cost_of, cost_text
from superllm_cli.render import Output, capped_note, strip_controls

__all__ = ["consume_run", "failures", "print_failures", "print_warnings", "summary"]


@dataclass
class _Lane:
    name: str
    text: str = ""
    status: str = "waiting"
    round: int = 0


@dataclass
class _View:
    lanes: dict[str, _Lane] = field(default_factory=dict)
    judge: _Lane | None = None
    agreement: list[str] = field(default_factory=list)

    def lane(self, name: str) -> _Lane:
        return self.lanes.setdefault(name, _Lane(name))

    def apply(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "run.started":
            for name in event.get("participants", []):
                self.lane(name)
        elif kind in ("delta", "judge.delta"):
            lane = self._lane_for(event)
            if lane.round != event.get("round", 0):
                lane.text, lane.round = "", event.get("round", 0)
            lane.text += event["text"]
            lane.status = "streaming"
        elif kind in ("message", "judge.message"):
            lane = self._lane_for(event)
            lane.text, lane.status, lane.round = event["text"], "done", event.get("round", 0)
        elif kind == "error" and event.get("participant"):
            self.lane(event["participant"]).status = f"failed: {event['message']}"
        elif kind == "retry":
            self.lane(event["participant"]).status = f"retry {event['attempt']}: {event['code']}"
        elif kind == "round.finished":
            self.agreement.append(_round_line(event))

    def _lane_for(self, event: dict[str, Any]) -> _Lane:
        if event["type"].startswith("judge"):
            if self.judge is None or self.judge.name != event["participant"]:
                self.judge = _Lane(event["participant"])
            return self.judge
        return self.lane(event["participant"])

    def renderable(self) -> Any:
        from rich.console import Group
        from rich.panel import Panel
        from rich.text import Text

        panels: list[Any] = []
        for lane in [*self.lanes.values(), *([self.judge] if self.judge else [])]:
            tail = "\n".join(lane.text.splitlines()[-6:])
            title = f"{lane.name} · round {lane.round} · {lane.status}"
            panels.append(Panel(Text(tail), title=title, title_align="left"))
        if self.agreement:
            panels.append(Text(" · ".join(self.agreement[-3:]), style="dim"))
        return Group(*panels)


def consume_run(
    events: Iterable[dict[str, Any]], out: Output, *, json_out: bool, stream_json: bool
) -> dict[str, Any]:
    """Show a run as its events arrive; return the run.finished result."""
    finished: dict[str, Any] = {}

    def tap() -> Iterator[dict[str, Any]]:
        for event in events:
            if stream_json:
                out.json_line(event)
            if event.get("type") == "run.finished":
                finished.update(event["result"])
            yield event

    if json_out or stream_json:
        for _ in tap():
            pass
        if json_out:
            out.json(finished)
        return finished
    if out.rich_out:
        _live(tap(), out)
    else:
        for event in tap():
            if event.get("type") == "error" and event.get("participant"):
                out.status(f"{event['participant']} failed: {event['message']}")
            elif event.get("type") == "round.finished":
                out.status(_round_line(event))
    if finished.get("answer"):
        out.answer(finished["answer"])
    return finished


def _live(events: Iterable[dict[str, Any]], out: Output) -> None:
    from rich.live import Live

    view = _View()
    console = out._console(sys.stderr)
    with Live(view.renderable(), console=console, refresh_per_second=8, transient=True) as live:
        for event in events:
            view.apply(event)
            live.update(view.renderable())
    # The panels go when the run ends (the answer follows on stdout); one line per lane
    # stays, so who answered and who failed is still on the screen.
    for lane in [*view.lanes.values(), *([view.judge] if view.judge else [])]:
        out.status(f"{lane.name} · round {lane.round} · {lane.status}")


def _round_line(event: dict[str, Any]) -> str:
    """`round 1 agreement 0.67`, rounded; `round 0 (map) done` where a mode has no agreement."""
    value = event.get("agreement")
    return _round_name(event) + (" done" if value is None else f" agreement {value:.2f}")


def _round_name(event: dict[str, Any]) -> str:
    """`round 2`, or `round 2 (collapse)` when the mode names its stage or step."""
    report = event.get("report") or {}
    stage = report.get("stage") or report.get("step")
    return f"round {event['round']}" + (f" ({strip_controls(str(stage))})" if stage else "")


def print_warnings(result: dict[str, Any], out: Output) -> None:
    """The run's warnings (a budget nearly spent) on stderr, in pipes too: a cron job's log
    is where they must be seen, and stdout stays the answer alone."""
    for message in result.get("warnings") or []:
        text = strip_controls(str(message))
        if out.stderr_tty and out.color:
            from rich.text import Text

            out._console(sys.stderr).print(Text.assemble(("warning: ", "bold yellow"), text))
        else:
            sys.stderr.write(f"superllm: warning: {text}\n")
    sys.stderr.flush()


def failures(result: dict[str, Any]) -> list[tuple[str, str]]:
    """(participant, why) once per participant that failed, in the order they failed.

    Consensus and debate record failures under their panel labels (``model#2`` for a repeat);
    other modes are read from the participants' errors. A call cut short because the quorum
    was met is late, not failed.
    """
    report = result.get("report") or {}
    entries: list[tuple[str, str]] = [
        (str(f.get("participant")), str(f.get("message"))) for f in report.get("failed") or []
    ]
    if "failed" not in report:
        entries = [
            (str(p.get("model")), str(p["error"].get("message")))
            for p in result.get("participants") or []
            if p.get("error") and p["error"].get("code") != "cancelled"
        ]
    seen: dict[str, str] = {}
    for name, why in entries:
        seen.setdefault(name, why)
    return list(seen.items())


def print_failures(result: dict[str, Any], out: Output) -> None:
    """One stderr line per failed participant, always (in pipes too, without -v): an answer
    that silently rests on fewer models than were asked for is misleading."""
    for name, why in failures(result):
        text = strip_controls(f"{name} failed: {why}")
        if out.stderr_tty and out.color:
            from rich.text import Text

            out._console(sys.stderr).print(Text.assemble(("warning: ", "bold yellow"), text))
        else:
            sys.stderr.write(f"superllm: warning: {text}\n")
    sys.stderr.flush()


def summary(result: dict[str, Any]) -> str:
    parts = [str(result.get("mode"))]
    if result.get("agreement") is not None:
        parts.append(f"agreement {result['agreement']:.2f}")
    if result.get("n") is not None:
        parts.append(f"{result.get('n_valid', 0)} of {result['n']} valid")
    if result.get("rounds"):
        parts.append(f"{result['rounds']} round(s)")
    usage = result.get("usage") or {}
    parts.append(f"{result.get('calls', 0)} calls")
    parts.append(f"{usage.get('input_tokens', 0)} in / {usage.get('output_tokens', 0)} out tokens")
    parts.append(cost_text(*cost_of(result)))
    if result.get("stopped"):
        parts.append(f"stopped: {result['stopped']}")
    parts += capped_note(result)
    return strip_controls(" · ".join(parts))
