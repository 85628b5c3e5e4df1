"""Terminal output: rich renderables on a terminal, plain flushed text in pipes.

rich is imported only on the terminal path; a pipe gets bytes as they arrive, with no colour
and no control characters. Status and errors go to stderr.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterable
from typing import IO, Any, Literal

__all__ = ["Output", "capped_note", "strip_controls", "usage_line"]

ColorMode = Literal["auto", "always", "never"]

# C0 controls except tab and newline, DEL, and C1 controls: what a pipe must never receive.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def strip_controls(text: str) -> str:
    return _CONTROLS.sub("", text)


class Output:
    def __init__(self, color: ColorMode = "auto", verbose: bool = False) -> None:
        self.stdout_tty = sys.stdout.isatty()
        self.stderr_tty = sys.stderr.isatty()
        no_color = bool(os.environ.get("NO_COLOR"))
        self.color = color == "always" or (color == "auto" and not no_color)
        self.verbose = verbose
        self.rich_out = (self.stdout_tty and color != "never") or color == "always"

    def _console(self, stream: IO[str]) -> Any:
        from rich.console import Console

        return Console(
            file=stream,
            no_color=not self.color,
            force_terminal=True if self.color and self.rich_out else None,
            highlight=False,
        )

    # -- answers ------------------------------------------------------------------------

    def answer_stream(self, pieces: Iterable[str]) -> str:
        """Print an answer as it streams; return the whole text."""
        if not self.rich_out:
            return self._plain_stream(pieces)
        from rich.live import Live
        from rich.markdown import Markdown

        text = ""
        console = self._console(sys.stdout)
        with Live(
            Markdown(""), console=console, refresh_per_second=12, vertical_overflow="visible"
        ) as live:
            for piece in pieces:
                text += piece
                live.update(Markdown(text))
        return text

    def _plain_stream(self, pieces: Iterable[str]) -> str:
        out = sys.stdout
        text = ""
        for piece in pieces:
            clean = strip_controls(piece)
            text += clean
            out.write(clean)
            out.flush()
        if text and not text.endswith("\n"):
            out.write("\n")
            out.flush()
        return text

    def answer(self, text: str) -> None:
        self.answer_stream([text])

    def json(self, value: Any) -> None:
        sys.stdout.write(json.dumps(value, ensure_ascii=False) + "\n")
        sys.stdout.flush()

    def json_line(self, value: Any) -> None:
        sys.stdout.write(json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n")
        sys.stdout.flush()

    # -- status and errors (stderr) -----------------------------------------------------

    def status(self, message: str) -> None:
        """A status line: always on a terminal, in pipes only with -v."""
        if not (self.stderr_tty or self.verbose):
            return
        if self.stderr_tty and self.color:
            self._console(sys.stderr).print(f"[dim]{_escape(message)}[/dim]")
        else:
            sys.stderr.write(strip_controls(message) + "\n")

    def error(self, message: str) -> None:
        if self.stderr_tty and self.color:
            self._console(sys.stderr).print(f"[bold red]error:[/bold red] {_escape(message)}")
        else:
            sys.stderr.write(f"superllm: error: {strip_controls(message)}\n")
        sys.stderr.flush()

    def table(self, rows: list[tuple[str, str]]) -> None:
        from superllm_cli.money import table

        for line in table(rows):
            sys.stdout.write(line + "\n")


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def usage_line(result: dict[str, Any]) -> str:
    usage = result.get("usage") or {}
    from superllm_cli.money import cost_of, cost_text, duration, io_tokens

    cost = cost_text(*cost_of(result))
    parts = [
        str(result.get("model") or result.get("mode")),
        io_tokens(usage),
        duration(result.get("latency_ms") or 0),
        cost,
    ]
    return " · ".join([*parts, *capped_note(result)])


def capped_note(result: dict[str, Any]) -> list[str]:
    """``answer capped at 812 tokens (--max-cost had $0.0013 left)`` when a budget shortened
    the run's answers, else nothing."""
    capped = result.get("capped")
    if not isinstance(capped, dict):
        return []
    calls = int(capped.get("calls") or 1)
    what = "answer" if calls == 1 else f"{calls} answers"
    return [f"{what} capped at {capped.get('max_tokens')} tokens ({capped.get('reason')})"]
