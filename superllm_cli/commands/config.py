"""``superllm config show|path|set``. The daemon owns configuration; the CLI only asks."""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any
from urllib.parse import urlencode

import typer

from superllm_cli.options import NoAutostart, run
from superllm_cli.render import Output

__all__ = ["app"]

app = typer.Typer(help="Show and change config.toml.", no_args_is_help=True)


@app.command()
def path(ctx: typer.Context) -> None:
    """Print where config.toml lives."""

    def body(out: Output) -> None:
        from superllmd.paths import get_paths

        sys.stdout.write(f"{get_paths().config_file}\n")

    run(ctx, body)


@app.command()
def show(
    ctx: typer.Context,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    no_autostart: NoAutostart = False,
) -> None:
    """Print the effective settings: config.toml with SUPERLLM_* variables applied."""

    def body(out: Output) -> None:
        from superllm_cli.client import Client

        env = {k: v for k, v in os.environ.items() if k.startswith("SUPERLLM_")}
        answer = Client(autostart=not no_autostart).call("GET", "/v1/config?" + urlencode(env))
        if json_out:
            out.json(answer["settings"])
            return
        sys.stdout.write(f"# {answer['path']}\n")
        _print_toml(answer["settings"], [])

    run(ctx, body)


@app.command(name="set")
def set_(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="Dotted key, e.g. providers.openai.base_url")],
    value: Annotated[str, typer.Argument(help="The value (TOML literal or plain text).")],
    no_autostart: NoAutostart = False,
) -> None:
    """Set one key in config.toml; the file is written only if the result is valid."""

    def body(out: Output) -> None:
        from superllm_cli.client import Client

        answer = Client(autostart=not no_autostart).call(
            "PUT", "/v1/config", {"key": key, "value": value}
        )
        out.status(f"set {answer['key']} in {answer['path']}")

    run(ctx, body)


def _print_toml(settings: dict[str, Any], prefix: list[str]) -> None:
    import json

    scalars = {k: v for k, v in settings.items() if not isinstance(v, dict)}
    tables = {k: v for k, v in settings.items() if isinstance(v, dict)}
    if prefix and (scalars or not tables):
        sys.stdout.write(f"\n[{'.'.join(prefix)}]\n")
    for key, value in scalars.items():
        if value is not None:
            sys.stdout.write(f"{key} = {json.dumps(value)}\n")
    for key, value in tables.items():
        _print_toml(value, [*prefix, key])
