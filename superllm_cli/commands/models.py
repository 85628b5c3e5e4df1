"""``superllm models`` and ``superllm embed``."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from superllm_cli.completion import complete_providers
from superllm_cli.options import Label, NoAutostart, run
from superllm_cli.render import Output, strip_controls

__all__ = ["embed", "models"]


def _price(row: dict[str, Any]) -> str:
    if not row["priced"]:
        return "unpriced"
    cached = row.get("price_cached_input")
    cached_text = f" (cached {cached:g})" if cached is not None else ""
    return f"${row['price_input']:g} / ${row['price_output']:g}{cached_text}"


def _caps(row: dict[str, Any]) -> str:
    names = ("vision", "tools", "json_output", "embeddings")
    return ",".join(n.removesuffix("_output") for n in names if row.get(n)) or "-"


def models(
    ctx: typer.Context,
    provider: Annotated[
        str | None,
        typer.Option("--provider", help="Only this provider.", autocompletion=complete_providers),
    ] = None,
    capability: Annotated[
        list[str] | None,
        typer.Option("--capability", help="vision, tools, json, embeddings, streaming; repeat."),
    ] = None,
    max_price: Annotated[
        float | None,
        typer.Option("--max-price", min=0.0, help="USD per million tokens, input and output."),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    no_autostart: NoAutostart = False,
) -> None:
    """The models superllm knows: context, capabilities, prices per million tokens.

    Pick by capability with -m: cheapest, cheapest:vision, fastest, ALIAS:tools.
    """

    def body(out: Output) -> None:
        from superllm_cli.client import Client

        client = Client(autostart=not no_autostart)
        params = {"capability": capability or None, "provider": provider or None}
        params["max_price"] = None if max_price is None else str(max_price)
        rows = client.call("GET", client.query("/v1/models", params))
        if json_out:
            out.json(rows)
            return
        table = [("MODEL", "CONTEXT", "CAPABILITIES", "PRICE IN / OUT (USD/M)")] + [
            (r["model"], str(r.get("context_window") or "-"), _caps(r), _price(r)) for r in rows
        ]
        widths = [max(len(line[i]) for line in table) for i in range(3)]
        for line in table:
            cells = [c.ljust(w) for c, w in zip(line[:3], widths, strict=True)]
            sys.stdout.write(strip_controls("  ".join([*cells, line[3]])) + "\n")

    run(ctx, body)


def embed(
    ctx: typer.Context,
    texts: Annotated[
        list[str] | None, typer.Argument(help="Texts to embed; else one per line of stdin.")
    ] = None,
    model: Annotated[str | None, typer.Option("-m", "--model", help="provider/model.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object with all.")] = False,
    label: Label = None,
    no_autostart: NoAutostart = False,
) -> None:
    """Embed texts: prints one JSON array (the vector) per text, in order."""

    def body(out: Output) -> None:
        from superllm_cli.client import Client

        items = list(texts or [])
        if not items and sys.stdin is not None and not sys.stdin.isatty():
            items = [line.rstrip("\n") for line in sys.stdin if line.strip()]
        client = Client(autostart=not no_autostart)
        request: dict[str, Any] = {"texts": items, "env": client.env_for_request()}
        if model:
            request["model"] = model
        if label:
            request["label"] = label
        answer = client.call("POST", "/v1/embed", request)
        if json_out:
            out.json(answer)
            return
        for vector in answer["vectors"]:
            sys.stdout.write(json.dumps(vector) + "\n")

    run(ctx, body)
