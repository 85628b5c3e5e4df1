"""Showing a multi-model run: live panels on a terminal, only the answer in a pipe.

The events are folded by :class:`~superllm_cli.runstate.RunState`, the same fold as the
TUI's; this module only draws it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from superllm_cli.money import cost_of, cost_text, io_tokens
from superllm_cli.render import Output, capped_note, strip_controls

if TYPE_CHECKING:  # the fold is imported where it runs: ``ask`` prints warnings without it
    from superllm_cli.runstate import Lane, RunState

__all__ = ["consume_run", "failures", "print_failures", "print_warnings", "summary"]


def _lane_line(lane: Lane) -> str:
    """``model · round 1 · done``, with why where a call failed or was retried."""
    status: str = lane.status
    if lane.status == "failed" and lane.error:
        status = f"failed: {lane.error}"
    elif lane.status == "retried" and lane.error:
        status = lane.error
    return f"{lane.name} · round {lane.last_round} · {status}"


def _lanes(state: RunState) -> list[Lane]:
    return [*state.lanes.values(), *([state.judge] if state.judge else [])]


def _panels(state: RunState) -> Any:
    """The live panels: each participant's latest lines, then the last rounds' agreement."""
    from rich.console import Group
    from rich.panel import Panel
    from rich.text import Text

    panels: list[Any] = []
    for lane in _lanes(state):
        tail = "\n".join(lane.text_at(lane.last_round).splitlines()[-6:])
        panels.append(Panel(Text(tail), title=_lane_line(lane), title_align="left"))
    rounds = [_round_line(r, i.agreement, i.report) for r, i in sorted(state.rounds.items())]
    if rounds:
        panels.append(Text(" · ".join(rounds[-3:]), style="dim"))
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
                out.status(_round_line(event["round"], event.get("agreement"), event.get("report")))
    if finished.get("answer"):
        out.answer(finished["answer"])
    return finished


def _live(events: Iterable[dict[str, Any]], out: Output) -> None:
    from rich.live import Live

    from superllm_cli.runstate import RunState

    state = RunState()
    console = out._console(sys.stderr)
    with Live(_panels(state), console=console, refresh_per_second=8, transient=True) as live:
        for event in events:
            if state.apply(event) is not None:
                live.update(_panels(state))
    # The panels go when the run ends (the answer follows on stdout); one line per lane
    # stays, so who answered and who failed is still on the screen.
    for lane in _lanes(state):
        out.status(_lane_line(lane))


def _round_line(round_: int, agreement: float | None, report: dict[str, Any] | None) -> str:
    """`round 1 agreement 0.67`, rounded; `round 0 (map) done` where a mode has no agreement;
    `round 2 (collapse)` when the mode names its stage or step."""
    stage = (report or {}).get("stage") or (report or {}).get("step")
    name = f"round {round_}" + (f" ({strip_controls(str(stage))})" if stage else "")
    return name + (" done" if agreement is None else f" agreement {agreement:.2f}")


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
    parts.append(io_tokens(usage))
    parts.append(cost_text(*cost_of(result)))
    if result.get("stopped"):
        parts.append(f"stopped: {result['stopped']}")
    parts += capped_note(result)
    return strip_controls(" · ".join(parts))
