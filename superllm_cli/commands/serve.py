"""``superllm serve``: the gateway on TCP, and ``superllm serve token create|list|revoke``.

Example::

    superllm serve token create ci --budget-daily 1 --rpm 60 --models 'openai/*'
    superllm serve --port 8765          # foreground; or set [daemon] listen in config
    curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8765/superllm/v1/health
"""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer

from superllm_cli.commands.serve_people import team_app, user_app
from superllm_cli.options import NoAutostart, PrintJson, run
from superllm_cli.render import Output

__all__ = ["app"]

app = typer.Typer(
    help="Serve superllm to other programs over TCP (OpenAI/Anthropic-compatible, tokens).",
    invoke_without_command=True,
)
token_app = typer.Typer(help="Create, list and revoke gateway tokens.", no_args_is_help=True)
app.add_typer(token_app, name="token")
app.add_typer(user_app, name="user")
app.add_typer(team_app, name="team")


@app.callback()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="TCP port.")] = 8765,
    allow_remote: Annotated[
        bool,
        typer.Option("--allow-remote", help="Allow a --host other machines can reach."),
    ] = False,
) -> None:
    """Run the daemon in the foreground with the gateway's TCP door open (Ctrl-C stops).

    Every request needs a token (`superllm serve token create NAME`). To keep the door open
    with the background daemon instead, set `[daemon] listen = "127.0.0.1:8765"`.
    """
    if ctx.invoked_subcommand is not None or ctx.resilient_parsing:
        return
    from superllmd.launch import is_listening
    from superllmd.paths import get_paths

    if is_listening(get_paths().socket):
        sys.stderr.write(
            "superllm: a daemon is already running; stop it first (`superllm daemon stop`), "
            'or set [daemon] listen = "HOST:PORT" and restart it\n'
        )
        raise typer.Exit(3)
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    argv = [sys.executable, "-m", "superllmd", "--foreground", "--listen", where]
    if allow_remote:
        argv.append("--allow-remote")
    sys.stdout.flush()
    os.execv(sys.executable, argv)


@token_app.command()
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A name for the token (shown in usage).")],
    budget_daily: Annotated[
        float | None, typer.Option("--budget-daily", min=0.0, help="USD per local day.")
    ] = None,
    rpm: Annotated[int | None, typer.Option("--rpm", min=1, help="Requests a minute.")] = None,
    tpm: Annotated[int | None, typer.Option("--tpm", min=1, help="Tokens a minute.")] = None,
    models: Annotated[
        list[str] | None,
        typer.Option("--models", help="Models it may use (patterns like 'openai/*'); repeat."),
    ] = None,
    expires: Annotated[
        str | None, typer.Option("--expires", help="When it stops working: 2026-12-31, 30d.")
    ] = None,
    user: Annotated[
        str | None, typer.Option("--user", help="The user it belongs to (serve user create).")
    ] = None,
    no_autostart: NoAutostart = False,
) -> None:
    """Create a token and print it (once: only its hash is kept)."""

    def body(out: Output) -> None:
        from superllm_cli.client import Client

        request: dict[str, Any] = {
            "name": name,
            "budget_daily": budget_daily,
            "rpm": rpm,
            "tpm": tpm,
            "models": list(models or []),
            "expires": _expiry(expires),
            "user": user,
        }
        answer = Client(autostart=not no_autostart).call("POST", "/v1/gateway/tokens", request)
        sys.stdout.write(answer["token"] + "\n")
        sys.stderr.write(f"token {name!r} created; it is shown only now, so keep it safe\n")

    run(ctx, body)


@token_app.command(name="list")
def list_(
    ctx: typer.Context,
    json_out: PrintJson = False,
    no_autostart: NoAutostart = False,
) -> None:
    """Every token: its limits, last use and spend (today and in all)."""

    def body(out: Output) -> None:
        from superllm_cli.client import Client

        answer = Client(autostart=not no_autostart).call("GET", "/v1/gateway/tokens")
        if json_out:
            out.json(answer)
            return
        sys.stdout.write(_table(answer["tokens"]))

    run(ctx, body)


@token_app.command()
def revoke(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The token's name.")],
    no_autostart: NoAutostart = False,
) -> None:
    """Revoke a token: refused from now on, also on connections already open."""

    def body(out: Output) -> None:
        from urllib.parse import quote

        from superllm_cli.client import Client

        Client(autostart=not no_autostart).call("DELETE", f"/v1/gateway/tokens/{quote(name)}")
        out.status(f"token {name!r} revoked")

    run(ctx, body)


def _expiry(text: str | None) -> float | None:
    if text is None:
        return None
    import time

    from superllmd.errors import UsageError
    from superllmd.ledger.queries import parse_when

    word = text.strip()
    if word and word[-1] in "dhw" and word[:-1].replace(".", "").isdigit():
        # "30d" means 30 days from now (parse_when reads it as ago).
        now = time.time()
        ago = parse_when(word, now=now)
        assert ago is not None
        return now + (now - ago)
    when = parse_when(word, end=True)
    if when is None:
        raise UsageError("--expires: give a date (2026-12-31) or a span (30d)")
    return when


def _table(tokens: list[dict[str, Any]]) -> str:
    import time

    from superllm_cli.money import table, usd

    if not tokens:
        return "no tokens; create one with `superllm serve token create NAME`\n"
    now = time.time()
    rows = [("NAME", "STATE", "LIMITS", "LAST USED", "TODAY", "ALL")]
    for t in tokens:
        expired = t["expires"] is not None and t["expires"] <= now
        state = "revoked" if t["revoked"] else "expired" if expired else "live"
        limits = (
            ", ".join(
                part
                for part in (
                    f"${t['budget_daily_usd']:g}/day" if t["budget_daily_usd"] is not None else "",
                    f"{t['rpm']} rpm" if t["rpm"] else "",
                    f"{t['tpm']} tpm" if t["tpm"] else "",
                    " ".join(t["models"]),
                )
                if part
            )
            or "-"
        )
        used = "never"
        if t["last_used"]:
            used = time.strftime("%Y-%m-%d %H:%M", time.localtime(t["last_used"]))
        rows.append(
            (t["name"], state, limits, used, usd(t["spent_today_usd"]), usd(t["spent_usd"]))
        )
    return "\n".join(table(rows, right={4, 5})) + "\n"
