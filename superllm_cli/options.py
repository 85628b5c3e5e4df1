"""Options every command shares, in the ``Annotated`` style, and the shared runner."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

import typer

from superllm_cli._runner import ExitCode, Globals, guarded
from superllm_cli.render import Output

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


def globals_of(ctx: typer.Context) -> Globals:
    value = ctx.find_root().obj
    return value if isinstance(value, Globals) else Globals()


def run(ctx: typer.Context, body: Callable[[Output], T]) -> T:
    """Run a command body: superllm errors become a message and their exit code."""
    try:
        return guarded(globals_of(ctx), body)
    except ExitCode as exc:
        raise typer.Exit(exc.code) from None
