"""``superllm providers list``: what the daemon can talk to, and whether each one is usable.

The daemon resolves keys, so the CLI sends only the *names* of its set environment variables
(plus its ``SUPERLLM_*`` settings): enough to say "the key would come from $GROQ_API_KEY"
without any key leaving this process.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import urlencode

import typer

from superllm_cli.options import NoAutostart, run
from superllm_cli.render import Output, strip_controls

__all__ = ["app", "fetch_providers", "format_table", "query_for"]

app = typer.Typer(help="List and inspect the LLM providers.", no_args_is_help=True)


def query_for(environ: Mapping[str, str]) -> str:
    """The query string for GET /v1/providers: settings by value, other variables by name."""
    params = {k: v for k, v in environ.items() if k.startswith("SUPERLLM_")}
    present = sorted(k for k, v in environ.items() if v and not k.startswith("SUPERLLM_"))
    params["present"] = ",".join(present)
    return urlencode(params)


def _key_text(row: Mapping[str, Any]) -> str:
    if row.get("key_source"):
        return str(row["key_source"])
    names = " or ".join(f"${n}" for n in row.get("key_env") or ())
    if row.get("configured"):
        return "none needed" if not names else f"none ({names} optional)"
    return f"missing: {names}" if names else "missing"


def format_table(rows: list[Mapping[str, Any]]) -> list[str]:
    """Aligned text lines: readable on a terminal, greppable in a pipe."""
    header = ("PROVIDER", "KIND", "READY", "KEY", "BASE URL")
    table = [header] + [
        (
            str(r["id"]),
            str(r["kind"]),
            "yes" if r.get("configured") else "no",
            _key_text(r),
            str(r.get("base_url") or "-"),
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in table) for i in range(len(header) - 1)]
    lines = []
    for line in table:
        cells = [cell.ljust(w) for cell, w in zip(line[:-1], widths, strict=True)]
        lines.append("  ".join([*cells, line[-1]]))
    return lines


def fetch_providers(*, autostart: bool) -> list[Mapping[str, Any]]:
    from superllm_cli.client import Client

    rows: list[Mapping[str, Any]] = Client(autostart=autostart).call(
        "GET", "/v1/providers?" + query_for(os.environ)
    )
    return rows


@app.command(name="list")
def list_(
    ctx: typer.Context,
    json_out: Annotated[bool, typer.Option("--json", help="Print the list as JSON.")] = False,
    no_autostart: NoAutostart = False,
) -> None:
    """Every provider, its kind and base URL, and where its API key would come from.

    Keys are never printed: KEY shows a source such as keyring or $GROQ_API_KEY.
    """

    def body(out: Output) -> None:
        rows = fetch_providers(autostart=not no_autostart)
        if json_out:
            out.json(rows)
            return
        for line in format_table(rows):
            sys.stdout.write(strip_controls(line) + "\n")

    run(ctx, body)
