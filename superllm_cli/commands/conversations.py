"""``superllm conversations list|show|rm``: the conversations the daemon keeps for -c/--cid."""

from __future__ import annotations

import sys
import time
from typing import Annotated

import typer

from superllm_cli.completion import complete_conversations
from superllm_cli.options import NoAutostart, PrintJson, run
from superllm_cli.render import Output, strip_controls

__all__ = ["app"]

app = typer.Typer(
    help="List, show and remove conversations (what -c continues).", no_args_is_help=True
)

Cid = Annotated[
    str, typer.Argument(help="A conversation id.", autocompletion=complete_conversations)
]


@app.command(name="list")
def list_(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("-n", "--limit", min=1, help="How many.")] = 20,
    json_out: PrintJson = False,
    no_autostart: NoAutostart = False,
) -> None:
    """The latest conversations: id, last update, model, turns, title."""

    def body(out: Output) -> None:
        from superllm_cli.client import Client

        rows = Client(autostart=not no_autostart).conversations(limit=limit)
        if json_out:
            out.json(rows)
            return
        if not rows:
            out.status("no conversations yet")
            return
        for r in rows:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(r["updated"]))
            title = " ".join((r.get("title") or "").split())[:60]
            line = (
                f"{r['conversation_id']}  {when}  {r.get('model') or '-'}  {r['messages']}  {title}"
            )
            sys.stdout.write(strip_controls(line) + "\n")

    run(ctx, body)


@app.command()
def show(
    ctx: typer.Context, cid: Cid, json_out: PrintJson = False, no_autostart: NoAutostart = False
) -> None:
    """Every message of one conversation, in order."""

    def body(out: Output) -> None:
        from superllm_cli.client import Client

        found = Client(autostart=not no_autostart).conversation(cid)
        if json_out:
            out.json(found)
            return
        for message in found["messages"]:
            text = message["content"] if message["content"] is not None else "(not stored)"
            sys.stdout.write(strip_controls(f"## {message['role']}\n{text}\n\n"))

    run(ctx, body)


@app.command()
def rm(ctx: typer.Context, cid: Cid, no_autostart: NoAutostart = False) -> None:
    """Remove a conversation's messages; its runs' costs stay in the ledger."""

    def body(out: Output) -> None:
        from superllm_cli.client import Client

        Client(autostart=not no_autostart).forget_conversation(cid)
        sys.stdout.write(f"removed conversation {cid}\n")

    run(ctx, body)
