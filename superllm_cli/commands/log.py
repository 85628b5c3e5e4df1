"""``superllm log``: past runs from the daemon's ledger.

``superllm log`` lists the latest runs; ``superllm log RUN_ID`` replays one run's transcript
(every participant's answer in every round, agreements, the judge's decision, errors), and
``--json`` exports it whole; ``superllm log --search TEXT`` finds runs by prompt or answer.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import typer

from superllm_cli.commands.usage import format_cost as _cost
from superllm_cli.completion import complete_conversations, complete_runs
from superllm_cli.options import NoAutostart, PrintJson, run
from superllm_cli.render import Output, strip_controls

__all__ = ["log", "transcript_lines"]

_PREVIEW = 60


def log(
    ctx: typer.Context,
    run_id: Annotated[
        str | None,
        typer.Argument(
            help="Show this run (a unique prefix); or on, off, status, rm.",
            autocompletion=complete_runs,
        ),
    ] = None,
    target: Annotated[
        str | None,
        typer.Argument(help="With rm: the run to remove.", autocompletion=complete_runs),
    ] = None,
    before: Annotated[
        str | None, typer.Option("--before", help="With rm: every run before 30d, 2025-01-31...")
    ] = None,
    search: Annotated[
        str | None, typer.Option("--search", "-q", help="Runs whose prompt or answer say this.")
    ] = None,
    limit: Annotated[int, typer.Option("-n", "--limit", min=1, help="How many runs.")] = 20,
    mode: Annotated[str | None, typer.Option("--mode", help="Only this mode.")] = None,
    label: Annotated[str | None, typer.Option("--label", help="Only this label.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="7d, today, 2025-01-31...")] = None,
    cid: Annotated[
        str | None,
        typer.Option(
            "--cid", help="Only this conversation.", autocompletion=complete_conversations
        ),
    ] = None,
    json_out: PrintJson = False,
    no_autostart: NoAutostart = False,
) -> None:
    """List past runs, show one run's full transcript, or search prompts and answers.

    `log on|off|status` turns the storing of prompt and answer text on or off (tokens and
    costs are always kept); `log rm ID` or `log rm --before DATE` removes runs' text.
    """

    def body(out: Output) -> None:
        from superllm_cli.client import Client
        from superllm_cli.commands.logctl import ACTIONS, control

        client = Client(autostart=not no_autostart)
        if run_id in ACTIONS:
            control(client, out, run_id, target, before, json_out)
            return
        if target is not None or before is not None:
            from superllmd.errors import UsageError

            raise UsageError("a second argument and --before go with `superllm log rm`")
        if run_id is not None:
            found = client.run_record(run_id)
            if json_out:
                out.json(found)
            else:
                _show(found, out)
            return
        runs = client.runs(
            limit=limit, search=search, mode=mode, label=label, since=since, conversation_id=cid
        )
        if json_out:
            out.json(runs)
        else:
            _list(runs, out)

    run(ctx, body)


def _when(stamp: float | None) -> str:
    return "-" if stamp is None else time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp))


def _one_line(text: str | None, width: int = _PREVIEW) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _list(runs: Sequence[Mapping[str, Any]], out: Output) -> None:
    if not runs:
        out.status("no runs in the ledger yet")
        return
    lines = [("RUN", "TIME", "MODE", "COST", "PROMPT")]
    for r in runs:
        prompt = r.get("snippet") or r.get("prompt")
        status = "" if r["status"] == "ok" else f"[{r.get('error_code') or r['status']}] "
        lines.append(
            (
                r.get("short_id") or r["run_id"],  # unique now, and `log PREFIX` takes it
                _when(r["time"]),
                r["mode"],
                _cost(r),
                status + _one_line(prompt),
            )
        )
    from superllm_cli.money import table

    for line in table(lines):
        sys.stdout.write(strip_controls(line) + "\n")


def transcript_lines(found: Mapping[str, Any]) -> list[str]:
    """A run as plain text: header, then every event that carries a decision or an answer."""
    usage = found
    lines = [
        f"run {found['run_id']} · {found['mode']} · {_when(found['time'])}"
        + (f" · label {found['label']}" if found.get("label") else ""),
        f"models: {', '.join(found.get('participants') or [])}",
        f"tokens: {usage['input_tokens']} in / {usage['output_tokens']} out "
        f"({usage['cached_tokens']} cached) · cost {_cost(found)}"
        + (f" · conversation {found['conversation_id']}" if found.get("conversation_id") else ""),
        "",
    ]
    if found.get("prompt") is not None:
        lines += ["## prompt", found["prompt"], ""]
    transcript = found.get("transcript")
    if transcript is None:
        lines += ["(no transcript: prompts and answers are not logged)", ""]
    for event in transcript or []:
        lines += _event_lines(event)
    if found.get("answer") is not None:
        lines += ["## answer", found["answer"]]
    return lines


def _event_lines(event: dict[str, Any]) -> list[str]:
    kind = event.get("type")
    if kind in ("message", "judge.message"):
        who = "judge " if kind == "judge.message" else ""
        cost = _cost(event)
        return [
            f"## {who}{event['participant']} · round {event.get('round', 0)} · {cost}",
            event["text"],
            "",
        ]
    if kind == "error":
        who = event.get("participant") or "run"
        return [f"!! {who} failed: {event['code']}: {event['message']}", ""]
    if kind == "retry":
        return [f".. {event['participant']} retry {event['attempt']}: {event['code']}"]
    if kind == "round.finished":
        value = event.get("agreement")
        shown = "" if value is None else f" · agreement {value:.2f}"
        return [f"-- round {event['round']} finished{shown}", ""]
    return []


def _show(found: Mapping[str, Any], out: Output) -> None:
    lines = transcript_lines(found)
    if not out.rich_out:
        sys.stdout.write(strip_controls("\n".join(lines)) + "\n")
        return
    from rich.markdown import Markdown

    console = out._console(sys.stdout)
    console.print(Markdown("\n\n".join(_markdown_blocks(lines))))


def _markdown_blocks(lines: list[str]) -> list[str]:
    blocks: list[str] = []
    for line in lines:
        if line.startswith("## "):
            blocks.append("### " + line[3:])
        elif line:
            blocks.append(line)
    return blocks
