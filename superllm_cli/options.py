"""Options every command shares, in the ``Annotated`` style, and the shared runner."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, TypeVar

import typer

from superllm_cli.render import ColorMode, Output

__all__ = ["BinaryOk", "Globals", "Label", "NoAutostart", "globals_of", "run"]

T = TypeVar("T")

Label = Annotated[
    str | None,
    typer.Option("--label", envvar="SUPERLLM_LABEL", help="Name this run for usage and budgets."),
]
BinaryOk = Annotated[
    bool,
    typer.Option(
        "--binary-ok", help="Send stdin even if it is not UTF-8 text (bad bytes replaced)."
    ),
]
NoAutostart = Annotated[
    bool, typer.Option("--no-autostart", help="Fail instead of starting the daemon.")
]


@dataclass
class Globals:
    color: ColorMode = "auto"
    verbose: bool = False
    debug: bool = False

    def output(self) -> Output:
        return Output(self.color, self.verbose)


def globals_of(ctx: typer.Context) -> Globals:
    value = ctx.find_root().obj
    return value if isinstance(value, Globals) else Globals()


def run(ctx: typer.Context, body: Callable[[Output], T]) -> T:
    """Run a command body: superllm errors become a message and their exit code."""
    from superllmd.errors import SuperllmError

    g = globals_of(ctx)
    out = g.output()
    try:
        return body(out)
    except SuperllmError as exc:
        if g.debug:
            raise
        out.error(exc.message)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        sys.stderr.write("\n")
        raise typer.Exit(130) from None
    except BrokenPipeError:
        # The reader went away (superllm ask ... | head): not an error worth a message.
        sys.stderr.close()
        raise typer.Exit(0) from None
