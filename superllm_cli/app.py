"""The root command: global options and one sub-app per command group. No logic here."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from superllm_cli.commands import (
    ask,
    budget,
    chat,
    completions,
    config,
    conversations,
    daemon,
    keys,
    log,
    mcp,
    models,
    modes,
    providers,
    serve,
    templates,
    tui,
    usage,
)
from superllm_cli.completion import COMPLETE_VAR
from superllm_cli.examples import OVERVIEW, attach
from superllm_cli.options import ColorChoice, ColorOpt, Globals, ParamCommand
from superllmd import __version__

__all__ = ["app", "main", "typer_main"]

app = typer.Typer(
    name="superllm",
    help="One command for many LLMs.",
    invoke_without_command=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"superllm {__version__}\n")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    color: ColorOpt = ColorChoice.auto,
    verbose: Annotated[
        bool, typer.Option("-v", "--verbose", help="Status lines on stderr.")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    ctx.obj = Globals(color=color.mode, verbose=verbose, debug=debug)
    if ctx.invoked_subcommand is None and not ctx.resilient_parsing:
        sys.stdout.write(OVERVIEW)
        raise typer.Exit(0)


app.command(name="ask", cls=ParamCommand)(ask.ask)
app.command(name="chat")(chat.chat)
app.command(name="models")(models.models)
app.command(name="embed")(models.embed)
app.command(name="usage")(usage.usage)
app.command(name="log")(log.log)
app.command(name="tui")(tui.tui)
app.command(name="mcp")(mcp.mcp)
for _command in (modes.consensus, modes.debate, modes.redteam, modes.chain, modes.mapreduce):
    app.command(cls=ParamCommand)(_command)
app.add_typer(daemon.app, name="daemon")
app.add_typer(config.app, name="config")
app.add_typer(providers.app, name="providers")
app.add_typer(keys.app, name="keys")
app.add_typer(budget.app, name="budget")
app.add_typer(serve.app, name="serve")
app.add_typer(conversations.app, name="conversations")
app.add_typer(templates.app, name="templates")
app.command(name="completions")(completions.completions)
attach(app)


def main() -> None:
    """The ``superllm`` command (``superllm_cli.entry``: the fast path, else Typer)."""
    from superllm_cli.entry import main as entry_main

    entry_main()


def typer_main() -> None:
    """Typer reads the command line (``entry.main`` has guarded the streams)."""
    if COMPLETE_VAR in os.environ:  # a Tab press: Typer answers it, registered shells only
        from typer._completion_classes import completion_init

        completion_init()
    app()
