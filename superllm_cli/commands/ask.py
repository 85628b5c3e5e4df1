"""``superllm ask``: one model. The command line is defined here (its common options in
``superllm_cli.options``); what it does is in ``superllm_cli._ask`` (shared with the fast
path, ``superllm_cli._fast``)."""

from __future__ import annotations

from typing import Annotated

import typer

from superllm_cli._ask import AskArgs, ask_body
from superllm_cli.completion import complete_models
from superllm_cli.flags import Common
from superllm_cli.options import (
    MaxTokens,
    Prompt,
    SchemaOpt,
    StreamMode,
    StreamOpt,
    run,
    with_flags,
)
from superllmd.records import fields

__all__ = ["ask"]

Model = Annotated[
    str | None,
    typer.Option(
        "-m", "--model", help="provider/model or an alias.", autocompletion=complete_models
    ),
]


@with_flags(Common)
def ask(
    ctx: typer.Context,
    prompt: Prompt = None,
    model: Model = None,
    max_tokens: MaxTokens = None,
    stream: StreamOpt = StreamMode.auto,
    schema: SchemaOpt = None,
    *,
    flags: Common,
) -> None:
    """Ask one model. The answer streams to stdout; pipe-friendly."""
    common = {name: getattr(flags, name) for name in fields(Common)}
    args = AskArgs(
        prompt=prompt,
        model=model,
        max_tokens=max_tokens,
        stream=stream.value,
        schema=schema,
        **common,
    )
    code = run(ctx, lambda out: ask_body(out, args))
    if code:
        raise typer.Exit(code)
