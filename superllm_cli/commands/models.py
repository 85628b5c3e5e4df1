"""``superllm models`` and ``superllm embed``."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer

from superllm_cli.completion import complete_providers
from superllm_cli.options import Label, NoAutostart, PrintJson, run
from superllm_cli.render import Output, strip_controls

if TYPE_CHECKING:
    from superllmd.protocol import ModelListing

__all__ = ["embed", "models", "refresh_listings"]


def _price(row: Mapping[str, Any]) -> str:
    if not row["priced"]:
        return "unpriced"
    cached = row.get("price_cached_input")
    cached_text = f" (cached {cached:g})" if cached is not None else ""
    return f"${row['price_input']:g} / ${row['price_output']:g}{cached_text}"


def _caps(row: Mapping[str, Any]) -> str:
    names = ("vision", "tools", "json_output", "embeddings")
    return ",".join(n.removesuffix("_output") for n in names if row.get(n)) or "-"


def refresh_listings(
    ids: list[str], *, timeout: float, autostart: bool, out: Output | None = None
) -> list[ModelListing]:
    """Ask the daemon to fetch and cache the model lists of ``ids`` (or every configured
    provider); one line on stderr for each provider that could not list (and, as a status
    line, for each that did)."""
    from superllm_cli import _calls_admin
    from superllm_cli.client import Client

    call = _calls_admin.refresh_models(ids, timeout=timeout)
    results = Client(autostart=autostart).execute(call)
    for r in results:
        if r.get("ok") and out is not None:
            out.status(f"{r['id']}: {r['count']} models listed ({r['latency_ms']} ms)")
        if not r.get("ok"):
            error = r.get("error")
            reason = (error and (error["message"] or error["code"])) or "no reason given"
            line = f"superllm: warning: could not list the models of {r['id']}: {reason}"
            sys.stderr.write(strip_controls(line) + "\n")
    return results


def _print_table(rows: Sequence[Mapping[str, Any]]) -> None:
    table = [("MODEL", "CONTEXT", "CAPABILITIES", "PRICE IN / OUT (USD/M)")] + [
        (r["model"], str(r.get("context_window") or "-"), _caps(r), _price(r)) for r in rows
    ]
    from superllm_cli.money import table as aligned

    for line in aligned(table):
        sys.stdout.write(strip_controls(line) + "\n")


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
    refresh: Annotated[
        bool,
        typer.Option(
            "--refresh", help="First ask each provider (or --provider) which models it serves."
        ),
    ] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.1, help="Seconds each provider has to list.")
    ] = 10.0,
    json_out: PrintJson = False,
    no_autostart: NoAutostart = False,
) -> None:
    """The models superllm knows: context, capabilities, prices per million tokens.

    --refresh asks the providers for the models they really serve and keeps the lists (shell
    completion offers them too); a model the price catalog does not know shows as unpriced.
    With --provider and nothing known for it, its list is fetched. Pick by capability with
    -m: cheapest, cheapest:vision, fastest, ALIAS:tools.
    """

    def body(out: Output) -> None:
        from superllm_cli import _calls
        from superllm_cli.client import Client
        from superllmd.errors import ProviderError

        autostart = not no_autostart
        if refresh:
            ids = [provider] if provider else []
            results = refresh_listings(ids, timeout=timeout, autostart=autostart, out=out)
            if results and not any(r.get("ok") for r in results):
                raise ProviderError(f"no provider could list its models ({len(results)} tried)")
        client = Client(autostart=autostart)
        listed = _calls.models(
            provider=provider or None,
            capabilities=capability or None,
            max_price=max_price,
        )
        rows = client.execute(listed)
        if provider and not refresh and not rows and not capability and max_price is None:
            # Nothing known for it (a plain OpenAI-compatible server, Ollama): ask it.
            results = refresh_listings([provider], timeout=timeout, autostart=autostart, out=out)
            if not any(r.get("ok") for r in results):
                raise ProviderError(f"{provider} offers no known model and could not list its own")
            rows = client.execute(listed)
        if json_out:
            out.json(rows)
        else:
            _print_table(rows)

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
