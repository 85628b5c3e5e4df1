"""``superllm ask``: one model. The command line is defined here; what it does is in
``superllm_cli._ask`` (shared with the fast path, ``superllm_cli._fast``)."""

from __future__ import annotations

from typing import Annotated

import typer

from superllm_cli._ask import (
    AskArgs,
    ask_body,
    build_request,
    context_fields,
    parse_options,
    read_prompt,
    template_params,
)
from superllm_cli.completion import complete_conversations, complete_models
from superllm_cli.options import BinaryOk, Label, NoAutostart, run

__all__ = [
    "Attach",
    "CacheTtl",
    "Cid",
    "Continue",
    "Fragments",
    "MaxCost",
    "NoCache",
    "ask",
    "build_request",
    "context_fields",
    "parse_options",
    "read_prompt",
    "template_params",
]

MaxCost = Annotated[
    float | None,
    typer.Option("--max-cost", min=0.0, help="Refuse calls that could take the run over USD."),
]

# Conversations, context and the response cache (every mode takes these too).
Continue = Annotated[bool, typer.Option("-c", "--continue", help="Continue the last conversation.")]
Cid = Annotated[
    str | None,
    typer.Option("--cid", help="Continue conversation ID.", autocompletion=complete_conversations),
]
Fragments = Annotated[
    list[str] | None,
    typer.Option("-f", "--fragment", help="Add a file's text as context (- for stdin); repeat."),
]
Attach = Annotated[
    list[str] | None, typer.Option("-a", "--attach", help="Attach an image; repeat.")
]
NoCache = Annotated[bool, typer.Option("--no-cache", help="Do not answer from the cache.")]
CacheTtl = Annotated[
    str | None,
    typer.Option("--cache-ttl", help="Oldest cached answer to use: 90s, 30m, 2h, 1d (1d)."),
]

TemplateName = Annotated[
    str | None,
    typer.Option("-t", "--template", help="Use a prompt template (superllm templates list)."),
]
Params = Annotated[
    list[str] | None,
    typer.Option("-p", "--param", help="A template parameter key=value; repeat."),
]


def ask(
    ctx: typer.Context,
    prompt: Annotated[
        str | None, typer.Argument(help="The prompt; stdin is added after it.")
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "-m", "--model", help="provider/model or an alias.", autocompletion=complete_models
        ),
    ] = None,
    system: Annotated[str | None, typer.Option("-s", "--system", help="System prompt.")] = None,
    temperature: Annotated[
        float | None, typer.Option("--temperature", min=0.0, max=2.0, help="Sampling temperature.")
    ] = None,
    max_tokens: Annotated[
        int | None, typer.Option("--max-tokens", min=1, help="Most tokens to generate.")
    ] = None,
    option: Annotated[
        list[str] | None, typer.Option("-o", "--option", help="Model option key=value; repeat.")
    ] = None,
    stream: Annotated[str, typer.Option("--stream", help="auto, always or never.")] = "auto",
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    stream_json: Annotated[
        bool, typer.Option("--stream-json", help="Print every event as a JSON line.")
    ] = False,
    max_cost: MaxCost = None,
    continue_: Continue = False,
    cid: Cid = None,
    fragment: Fragments = None,
    attach: Attach = None,
    no_cache: NoCache = False,
    cache_ttl: CacheTtl = None,
    template: TemplateName = None,
    param: Params = None,
    label: Label = None,
    no_autostart: NoAutostart = False,
    binary_ok: BinaryOk = False,
) -> None:
    """Ask one model. The answer streams to stdout; pipe-friendly."""
    args = AskArgs(
        prompt=prompt,
        model=model,
        system=system,
        temperature=temperature,
        max_tokens=max_tokens,
        option=option,
        stream=stream,
        json_out=json_out,
        stream_json=stream_json,
        max_cost=max_cost,
        continue_=continue_,
        cid=cid,
        fragment=fragment,
        attach=attach,
        no_cache=no_cache,
        cache_ttl=cache_ttl,
        template=template,
        param=param,
        label=label,
        no_autostart=no_autostart,
        binary_ok=binary_ok,
    )
    bad = args.bad_value()
    if bad:
        raise typer.BadParameter(bad[1], param_hint=bad[0])
    code = run(ctx, lambda out: ask_body(out, args))
    if code:
        raise typer.Exit(code)
