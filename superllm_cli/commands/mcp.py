"""``superllm mcp``: serve superllm's models and modes to MCP clients over stdio."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from superllm_cli.options import NoAutostart, globals_of, run
from superllm_cli.render import Output

__all__ = ["mcp"]


def mcp(
    ctx: typer.Context,
    print_config: Annotated[
        str | None,
        typer.Option(
            "--print-config",
            metavar="CLIENT",
            help="Print the snippet for claude-desktop, claude-code, codex or cursor.",
        ),
    ] = None,
    no_autostart: NoAutostart = False,
) -> None:
    """Serve superllm as an MCP server on stdin/stdout (tools, recent runs, chains).

    MCP clients start this command themselves: add it with --print-config CLIENT.
    Tools: ask, consensus, debate, redteam, chain, mapreduce, models, usage. Only the
    protocol goes to stdout; logs go to stderr (-v for more).
    """
    from superllm_cli.mcp.clients import CLIENTS

    if print_config is not None:
        if print_config not in CLIENTS:
            raise typer.BadParameter(
                f"use one of {', '.join(CLIENTS)}", param_hint="--print-config"
            )

        def show(out: Output) -> None:
            from superllm_cli.mcp.clients import snippet

            sys.stderr.write(f"# {CLIENTS[print_config]}\n")
            sys.stdout.write(snippet(print_config, os.environ))

        run(ctx, show)
        return

    def serve(out: Output) -> None:
        from superllm_cli.mcp.stdio import serve as serve_stdio

        serve_stdio(os.environ, autostart=not no_autostart, verbose=globals_of(ctx).verbose)

    run(ctx, serve)
