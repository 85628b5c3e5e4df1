"""``superllm chat``: a line REPL over one conversation (see superllm_cli/chat.py)."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from superllm_cli.completion import complete_models
from superllm_cli.options import Cid, Continue, Label, NoAutostart, run
from superllm_cli.render import Output

__all__ = ["chat"]

_PROMPT = "> "


def _read(prompt: str) -> str | None:
    """One line from the user; None at end of input (Ctrl-D)."""
    try:
        return input(prompt)
    except EOFError:
        return None


def _multi() -> str | None:
    lines: list[str] = []
    while (line := _read(". ")) is not None and line.strip() != "!end":
        lines.append(line)
    return "\n".join(lines) if line is not None else None


def _history(path: str) -> None:
    try:
        import readline
    except ImportError:  # not every Python has it; the chat works without history
        return
    import atexit
    import contextlib
    from pathlib import Path

    from superllmd.privacy import open_private

    with contextlib.suppress(OSError):
        # The lines typed are prompts: born 0600 whichever readline library writes them.
        os.close(open_private(Path(path)))
        readline.read_history_file(path)
    readline.set_history_length(1000)
    atexit.register(readline.write_history_file, path)


def chat(
    ctx: typer.Context,
    model: Annotated[
        str | None,
        typer.Option(
            "-m", "--model", help="provider/model or an alias.", autocompletion=complete_models
        ),
    ] = None,
    system: Annotated[str | None, typer.Option("-s", "--system", help="System prompt.")] = None,
    continue_: Continue = False,
    cid: Cid = None,
    label: Label = None,
    no_autostart: NoAutostart = False,
) -> None:
    """Chat with a model, a turn per line; every turn goes into one conversation.

    Type /help for the commands (!multi, /model, /system, /save, /cost). Ctrl-C cancels an
    answer, not the chat; Ctrl-D leaves.
    """

    def body(out: Output) -> None:
        from superllm_cli.chat import HELP, ChatSession
        from superllm_cli.client import Client

        client = Client(autostart=not no_autostart)
        client.health() if no_autostart else client.start()
        _history(str(client.paths.state_dir / "chat_history"))
        session = ChatSession(
            client, model=model, system=system, conversation_id=cid, continue_last=continue_
        )
        session.label = label
        sys.stderr.write(f"superllm chat: {HELP}\n")
        while True:
            try:
                line = _read(_PROMPT)
                if line is not None and line.strip() == "!multi":
                    line = _multi()
            except KeyboardInterrupt:  # at the prompt: drop the line, keep the chat
                sys.stdout.write("\n")
                continue
            if line is None:
                sys.stdout.write("\n")
                break
            text = line.strip()
            if not text:
                continue
            if text.startswith("/"):
                if not session.command(text):
                    break
                continue
            session.turn(line)
        if session.turns:
            sys.stderr.write(session.cost_line() + "\n")

    run(ctx, body)
