"""``superllm usage``: what was spent, from the daemon's ledger. The command line is
defined here; what it does is in ``superllm_cli._usage`` (shared with the fast path)."""

from __future__ import annotations

from typing import Annotated

import typer

from superllm_cli._usage import BY, UsageArgs, format_cost, usage_body
from superllm_cli.completion import complete_models, complete_providers
from superllm_cli.options import NoAutostart, PrintJson, run

__all__ = ["BY", "format_cost", "usage"]


def usage(
    ctx: typer.Context,
    by: Annotated[
        str,
        typer.Option(
            "--by", help="day, week, month, provider, model, mode, label, token, user, team."
        ),
    ] = "day",
    since: Annotated[
        str | None, typer.Option("--since", help="7d, 12h, today, 2025-01-31, or 0 for all time.")
    ] = "30d",
    until: Annotated[str | None, typer.Option("--until", help="Same forms; a date counts.")] = None,
    provider: Annotated[
        str | None,
        typer.Option("--provider", help="Only this provider.", autocompletion=complete_providers),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option("--model", help="Only this provider/model.", autocompletion=complete_models),
    ] = None,
    mode: Annotated[str | None, typer.Option("--mode", help="Only this mode (ask, ...).")] = None,
    label: Annotated[str | None, typer.Option("--label", help="Only this label.")] = None,
    json_out: PrintJson = False,
    csv_out: Annotated[bool, typer.Option("--csv", help="Print CSV.")] = False,
    no_autostart: NoAutostart = False,
) -> None:
    """Tokens and cost: totals and a breakdown by day, week, month, provider, model, mode,
    label, gateway token, or a team gateway's user or team."""
    args = UsageArgs(
        by=by,
        since=since,
        until=until,
        provider=provider,
        model=model,
        mode=mode,
        label=label,
        json_out=json_out,
        csv_out=csv_out,
        no_autostart=no_autostart,
    )
    bad = args.bad_value()
    if bad:
        raise typer.BadParameter(bad[1], param_hint=bad[0])
    run(ctx, lambda out: usage_body(out, args))
