"""``superllm budget set|show|clear``: spending limits the daemon enforces before each call.

Example::

    superllm budget set --daily 2 --monthly 30
    superllm budget set --daily 0.50 --label nightly     # what the cron job may spend a day
    superllm budget show
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import typer

from superllm_cli.completion import complete_providers
from superllm_cli.money import table, usd
from superllm_cli.options import NoAutostart, PrintJson, run
from superllm_cli.render import Output, strip_controls

__all__ = ["app", "gauge", "usd"]

app = typer.Typer(help="Daily and monthly spending limits.", no_args_is_help=True)

# Not the shared Label option: SUPERLLM_LABEL in a cron job's environment must not turn
# `budget set` into a label budget by accident.
BudgetLabel = Annotated[
    str | None, typer.Option("--label", help="The budget of runs with this --label (daily).")
]
Provider = Annotated[
    str | None,
    typer.Option(
        "--provider", help="The budget of one provider.", autocompletion=complete_providers
    ),
]


@app.command(name="set")
def set_(
    ctx: typer.Context,
    daily: Annotated[
        float | None, typer.Option("--daily", min=0.0, help="USD per local calendar day.")
    ] = None,
    monthly: Annotated[
        float | None, typer.Option("--monthly", min=0.0, help="USD per local calendar month.")
    ] = None,
    provider: Provider = None,
    label: BudgetLabel = None,
    no_autostart: NoAutostart = False,
) -> None:
    """Set a daily and/or monthly limit: global, for one --provider, or for one --label."""

    def body(out: Output) -> None:
        from superllm_cli import _calls_admin
        from superllm_cli.client import Client

        call = _calls_admin.set_budget(
            daily_usd=daily, monthly_usd=monthly, provider=provider, label=label
        )
        answer = Client(autostart=not no_autostart).execute(call)
        out.status(f"set {', '.join(answer['set'])} in {answer['path']}")

    run(ctx, body)


@app.command()
def show(
    ctx: typer.Context,
    json_out: PrintJson = False,
    no_autostart: NoAutostart = False,
) -> None:
    """Every budget: its limit, spent today or this month, held by calls in flight, left."""

    def body(out: Output) -> None:
        from superllm_cli.client import Client

        answer = Client(autostart=not no_autostart).budgets()
        if json_out:
            out.json(answer)
        elif not answer["budgets"]:
            sys.stdout.write("no budgets set; set one with `superllm budget set --daily USD`\n")
        elif out.rich_out:
            out._console(sys.stdout).print(_rich_table(answer["budgets"]))
        else:
            _plain_table(answer["budgets"])

    run(ctx, body)


@app.command()
def clear(
    ctx: typer.Context,
    provider: Provider = None,
    label: BudgetLabel = None,
    no_autostart: NoAutostart = False,
) -> None:
    """Remove the global limits, or those of one --provider or one --label."""

    def body(out: Output) -> None:
        from superllm_cli.client import Client

        client = Client(autostart=not no_autostart)
        answer = client.clear_budgets(provider=provider or None, label=label or None)
        cleared = ", ".join(answer["cleared"]) or "nothing (no such budget was set)"
        out.status(f"cleared {cleared} in {answer['path']}")

    run(ctx, body)


def gauge(used: float, width: int = 20) -> str:
    """A bar of ``width`` cells, full at 100% of the limit (and beyond)."""
    filled = round(min(max(used, 0.0), 1.0) * width)
    return "█" * filled + "░" * (width - filled)


def _used(row: Mapping[str, Any]) -> float:
    limit = row["limit_usd"]
    taken = row["spent_usd"] + row["reserved_usd"]
    return 1.0 if limit <= 0 else taken / limit


def _cells(row: Mapping[str, Any]) -> list[str]:
    spent = usd(row["spent_usd"]) + ("+" if row["unpriced"] else "")
    when = "today" if row["period"] == "day" else "this month"
    return [
        strip_controls(row["budget"]),
        usd(row["limit_usd"]),
        f"{spent} {when}",
        usd(row["reserved_usd"]),
        usd(row["left_usd"]),
    ]


_HEADINGS = ["budget", "limit", "spent", "reserved", "left"]


def _plain_table(rows: Sequence[Mapping[str, Any]]) -> None:
    for line in table([_HEADINGS, *(_cells(r) for r in rows)]):
        sys.stdout.write(line + "\n")


def _rich_table(rows: Sequence[Mapping[str, Any]]) -> Any:
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, header_style="bold", pad_edge=False)
    for heading in _HEADINGS:
        table.add_column(heading, justify="left" if heading == "budget" else "right")
    table.add_column("used")
    for row in rows:
        used = _used(row)
        style = "red" if used >= 1 else "yellow" if used >= 0.8 else "green"
        bar = Text(gauge(used), style=style)
        bar.append(f" {used:.0%}")
        table.add_row(*_cells(row), bar)
    if any(r["unpriced"] for r in rows):
        table.caption = "+ some calls were unpriced and are not counted"
    return table
