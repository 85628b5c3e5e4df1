"""``superllm serve user|team create|list|rm``: a team gateway's users and teams.

Example::

    superllm serve team create platform --budget-daily 20
    superllm serve user create ana --team platform --budget-daily 5
    superllm serve token create ana-laptop --user ana
    superllm usage --by team
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from superllm_cli.options import NoAutostart, PrintJson, run
from superllm_cli.render import Output

__all__ = ["team_app", "user_app"]

user_app = typer.Typer(help="Users of a team gateway: tokens belong to them.", no_args_is_help=True)
team_app = typer.Typer(help="Teams of a team gateway: users belong to them.", no_args_is_help=True)

BudgetDaily = Annotated[
    float | None, typer.Option("--budget-daily", min=0.0, help="USD per local day.")
]


def _post(kind: str, request: dict[str, Any], no_autostart: bool) -> None:
    from superllm_cli.client import Client

    Client(autostart=not no_autostart).call("POST", f"/v1/gateway/{kind}s", request)


@user_app.command("create")
def create_user(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The user's name (shown in usage).")],
    team: Annotated[str | None, typer.Option("--team", help="The team it belongs to.")] = None,
    budget_daily: BudgetDaily = None,
    no_autostart: NoAutostart = False,
) -> None:
    """Create a user, or change its team and budget when it exists."""

    def body(out: Output) -> None:
        _post("user", {"name": name, "team": team, "budget_daily": budget_daily}, no_autostart)
        out.status(f"user {name!r} saved")

    run(ctx, body)


@team_app.command("create")
def create_team(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The team's name (shown in usage).")],
    budget_daily: BudgetDaily = None,
    no_autostart: NoAutostart = False,
) -> None:
    """Create a team, or change its budget when it exists."""

    def body(out: Output) -> None:
        _post("team", {"name": name, "budget_daily": budget_daily}, no_autostart)
        out.status(f"team {name!r} saved")

    run(ctx, body)


def _list(ctx: typer.Context, kind: str, json_out: bool, no_autostart: bool) -> None:
    def body(out: Output) -> None:
        from superllm_cli.client import Client
        from superllm_cli.commands.budget import usd

        answer = Client(autostart=not no_autostart).call("GET", f"/v1/gateway/{kind}s")
        if json_out:
            out.json(answer)
            return
        rows = answer[f"{kind}s"]
        if not rows:
            sys.stdout.write(f"no {kind}s; create one with `superllm serve {kind} create NAME`\n")
            return
        middle = "TEAM" if kind == "user" else "USERS"
        lines = [f"{'NAME':<20} {middle:<16} {'BUDGET/DAY':>10} {'TODAY':>9}"]
        for row in rows:
            what = row["team"] or "-" if kind == "user" else str(row["users"])
            budget = "-" if row["budget_daily_usd"] is None else usd(row["budget_daily_usd"])
            lines.append(
                f"{row['name']:<20} {what:<16} {budget:>10} {usd(row['spent_today_usd']):>9}"
            )
        sys.stdout.write("\n".join(lines) + "\n")

    run(ctx, body)


@user_app.command("list")
def list_users(
    ctx: typer.Context, json_out: PrintJson = False, no_autostart: NoAutostart = False
) -> None:
    """Every user: its team, daily budget and what it spent today."""
    _list(ctx, "user", json_out, no_autostart)


@team_app.command("list")
def list_teams(
    ctx: typer.Context, json_out: PrintJson = False, no_autostart: NoAutostart = False
) -> None:
    """Every team: how many users, its daily budget and what it spent today."""
    _list(ctx, "team", json_out, no_autostart)


def _remove(ctx: typer.Context, kind: str, name: str, no_autostart: bool) -> None:
    def body(out: Output) -> None:
        from urllib.parse import quote

        from superllm_cli.client import Client

        Client(autostart=not no_autostart).call("DELETE", f"/v1/gateway/{kind}s/{quote(name)}")
        out.status(f"{kind} {name!r} removed")

    run(ctx, body)


@user_app.command("rm")
def remove_user(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The user's name.")],
    no_autostart: NoAutostart = False,
) -> None:
    """Remove a user; its tokens keep working, without a user."""
    _remove(ctx, "user", name, no_autostart)


@team_app.command("rm")
def remove_team(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The team's name.")],
    no_autostart: NoAutostart = False,
) -> None:
    """Remove a team that has no users left."""
    _remove(ctx, "team", name, no_autostart)
