"""``superllm consensus|debate|redteam|chain|mapreduce``: several models at once.

The commands are thin: they gather the prompt and flags into a RunRequest, send it to the
daemon's ``/v1/<mode>`` route and show the events. The modes live in the daemon.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from superllm_cli.commands.ask import (
    Attach,
    CacheTtl,
    Cid,
    Continue,
    Fragments,
    MaxCost,
    NoCache,
    context_fields,
    parse_options,
    read_prompt,
)
from superllm_cli.completion import complete_model_list, complete_models
from superllm_cli.options import BinaryOk, Label, NoAutostart, run
from superllm_cli.render import Output

__all__ = ["chain", "consensus", "debate", "mapreduce", "redteam"]

Prompt = Annotated[str | None, typer.Argument(help="The prompt; stdin is added after it.")]
Models = Annotated[
    list[str] | None,
    typer.Option(
        "-m", "--model", help="A participant; repeat for more.", autocompletion=complete_models
    ),
]
ModelList = Annotated[
    str | None,
    typer.Option("--models", help="Participants: a,b,c.", autocompletion=complete_model_list),
]
Judge = Annotated[
    str | None,
    typer.Option("--judge", help="Judge / synthesiser model.", autocompletion=complete_models),
]
Strategy = Annotated[str | None, typer.Option("--strategy", help="How answers are merged.")]
Rounds = Annotated[int | None, typer.Option("--rounds", min=1, help="Most rounds.")]
Threshold = Annotated[
    float | None, typer.Option("--threshold", min=0.0, max=1.0, help="Agreement to stop at.")
]
Quorum = Annotated[int | None, typer.Option("--quorum", min=1, help="Answers that suffice.")]
Require = Annotated[
    bool, typer.Option("--require-agreement", help="Exit 6 unless the threshold is reached.")
]
AnswerType = Annotated[
    str | None,
    typer.Option("--answer-type", help="numeric, choice, boolean, short, code or free."),
]
System = Annotated[str | None, typer.Option("-s", "--system", help="System prompt.")]
Temperature = Annotated[
    float | None, typer.Option("--temperature", min=0.0, max=2.0, help="Sampling temperature.")
]
MaxOutput = Annotated[
    int | None, typer.Option("--max-output", min=1, help="Most tokens per model answer.")
]
Options = Annotated[list[str] | None, typer.Option("-o", "--option", help="key=value; repeat.")]
MaxCalls = Annotated[int | None, typer.Option("--max-calls", min=1, help="Run budget: calls.")]
MaxTokens = Annotated[
    int | None, typer.Option("--max-tokens", min=1, help="Run budget: tokens in and out.")
]
Timeout = Annotated[float | None, typer.Option("--timeout", min=0.1, help="Run budget: seconds.")]
Seed = Annotated[int | None, typer.Option("--seed", help="Seed for shuffles and sampling.")]
JsonOut = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
StreamJson = Annotated[bool, typer.Option("--stream-json", help="Print every event as JSON.")]
Tui = Annotated[bool, typer.Option("--tui", help="Watch the run in the terminal UI.")]


def _send(
    ctx: typer.Context,
    route: str,
    prompt: str | None,
    params: dict[str, Any],
    *,
    extra: dict[str, Any] | Callable[[], dict[str, Any]] | None = None,
) -> None:
    def body(out: Output) -> None:
        from superllm_cli.client import Client
        from superllm_cli.runview import consume_run, print_failures, print_warnings, summary
        from superllmd.errors import DaemonError, from_dict

        context = context_fields(  # before the prompt: `-f -` reads stdin
            continue_=params["continue_"],
            cid=params["cid"],
            fragments=params["fragment"],
            attach=params["attach"],
            no_cache=params["no_cache"],
            cache_ttl=params["cache_ttl"],
        )
        binary_ok = bool(params.get("binary_ok"))
        text = (
            _chain_input(prompt, binary_ok)
            if route == "chain"
            else read_prompt(prompt, binary_ok=binary_ok)
        )
        client = Client(autostart=not params["no_autostart"])
        models = list(params["model"] or [])
        if params["models"]:
            models += [m.strip() for m in params["models"].split(",") if m.strip()]
        request: dict[str, Any] = {
            "prompt": text,
            "models": models,
            "options": parse_options(params["option"] or []),
            "env": client.env_for_request(),
            "require_agreement": bool(params.get("require_agreement")),
        }
        for key, field in (
            ("judge", "judge"),
            ("strategy", "strategy"),
            ("rounds", "rounds"),
            ("threshold", "threshold"),
            ("quorum", "quorum"),
            ("answer_type", "answer_type"),
            ("system", "system"),
            ("temperature", "temperature"),
            ("max_output", "max_tokens"),
            ("max_calls", "max_calls"),
            ("max_tokens", "max_run_tokens"),
            ("timeout", "timeout"),
            ("seed", "seed"),
            ("label", "label"),
            ("max_cost", "max_cost"),
        ):
            if params.get(key) is not None:
                request[field] = params[key]
        request.update(context)
        # A callable is read here, so that its usage errors are reported like the rest.
        request.update(extra() if callable(extra) else extra or {})
        if params.get("tui"):  # consensus|debate --tui: the TUI shows this run instead
            from superllm_cli.commands.tui import open_run

            open_run(route, request, out, autostart=not params["no_autostart"])
            return
        events = client.events("POST", f"/v1/{route}", request)
        result = consume_run(
            events, out, json_out=params["json_out"], stream_json=params["stream_json"]
        )
        if not result:
            raise DaemonError("the daemon ended the run without a result")
        if not (params["json_out"] or params["stream_json"]):
            out.status(summary(result))
        print_failures(result, out)
        print_warnings(result, out)
        if result.get("error"):
            exc = from_dict(result["error"])
            if params["json_out"] or params["stream_json"]:
                raise typer.Exit(exc.exit_code)
            raise exc

    run(ctx, body)


def consensus(
    ctx: typer.Context,
    prompt: Prompt = None,
    model: Models = None,
    models: ModelList = None,
    judge: Judge = None,
    strategy: Strategy = None,
    quorum: Quorum = None,
    threshold: Threshold = None,
    require_agreement: Require = False,
    answer_type: AnswerType = None,
    samples: Annotated[str | None, typer.Option("--samples", help="auto: adaptive top-up.")] = None,
    system: System = None,
    temperature: Temperature = None,
    max_output: MaxOutput = None,
    option: Options = None,
    max_calls: MaxCalls = None,
    max_tokens: MaxTokens = None,
    timeout: Timeout = None,
    seed: Seed = None,
    json_out: JsonOut = False,
    stream_json: StreamJson = False,
    tui: Tui = False,
    max_cost: MaxCost = None,
    continue_: Continue = False,
    cid: Cid = None,
    fragment: Fragments = None,
    attach: Attach = None,
    no_cache: NoCache = False,
    cache_ttl: CacheTtl = None,
    label: Label = None,
    no_autostart: NoAutostart = False,
    binary_ok: BinaryOk = False,
) -> None:
    """Ask several models in parallel and merge their answers."""
    _send(ctx, "consensus", prompt, locals(), extra={"samples": samples} if samples else None)


def debate(
    ctx: typer.Context,
    prompt: Prompt = None,
    model: Models = None,
    models: ModelList = None,
    judge: Judge = None,
    rounds: Rounds = None,
    threshold: Threshold = None,
    require_agreement: Require = False,
    answer_type: AnswerType = None,
    system: System = None,
    temperature: Temperature = None,
    max_output: MaxOutput = None,
    option: Options = None,
    max_calls: MaxCalls = None,
    max_tokens: MaxTokens = None,
    timeout: Timeout = None,
    seed: Seed = None,
    json_out: JsonOut = False,
    stream_json: StreamJson = False,
    tui: Tui = False,
    max_cost: MaxCost = None,
    continue_: Continue = False,
    cid: Cid = None,
    fragment: Fragments = None,
    attach: Attach = None,
    no_cache: NoCache = False,
    cache_ttl: CacheTtl = None,
    label: Label = None,
    no_autostart: NoAutostart = False,
    binary_ok: BinaryOk = False,
) -> None:
    """Let models argue in rounds until they agree."""
    _send(ctx, "debate", prompt, locals())


def redteam(
    ctx: typer.Context,
    prompt: Prompt = None,
    model: Models = None,
    models: ModelList = None,
    judge: Judge = None,
    submode: Annotated[str, typer.Option("--submode", help="critique or dispute.")] = "critique",
    rounds: Rounds = None,
    answer_type: AnswerType = None,
    system: System = None,
    temperature: Temperature = None,
    max_output: MaxOutput = None,
    option: Options = None,
    max_calls: MaxCalls = None,
    max_tokens: MaxTokens = None,
    timeout: Timeout = None,
    seed: Seed = None,
    json_out: JsonOut = False,
    stream_json: StreamJson = False,
    max_cost: MaxCost = None,
    continue_: Continue = False,
    cid: Cid = None,
    fragment: Fragments = None,
    attach: Attach = None,
    no_cache: NoCache = False,
    cache_ttl: CacheTtl = None,
    label: Label = None,
    no_autostart: NoAutostart = False,
    binary_ok: BinaryOk = False,
) -> None:
    """Blue answers, red attacks, blue revises; a judge rules."""
    params = locals()
    _send(ctx, "adversarial", prompt, params, extra={"mode_options": {"submode": submode}})


def chain(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Workflow TOML, or a built-in name: refine.")],
    prompt: Prompt = None,
    model: Models = None,
    models: ModelList = None,
    judge: Judge = None,
    system: System = None,
    temperature: Temperature = None,
    max_output: MaxOutput = None,
    option: Options = None,
    max_calls: MaxCalls = None,
    max_tokens: MaxTokens = None,
    timeout: Timeout = None,
    seed: Seed = None,
    json_out: JsonOut = False,
    stream_json: StreamJson = False,
    max_cost: MaxCost = None,
    continue_: Continue = False,
    cid: Cid = None,
    fragment: Fragments = None,
    attach: Attach = None,
    no_cache: NoCache = False,
    cache_ttl: CacheTtl = None,
    label: Label = None,
    no_autostart: NoAutostart = False,
    binary_ok: BinaryOk = False,
) -> None:
    """Run a workflow of named steps (a TOML file) over the input."""
    params = locals()
    _send(ctx, "chain", prompt, params, extra=lambda: _workflow(file))


def _chain_input(prompt: str | None, binary_ok: bool) -> str:
    """A chain's input, from the argument and/or stdin like every command; a workflow may
    need none, so an empty input is not an error here (stdin that is not text still is)."""
    from superllm_cli._stdin import read_stdin

    piped = read_stdin(binary_ok=binary_ok)
    return "\n\n".join(p for p in (prompt, piped.strip("\n")) if p and p.strip())


def _workflow(file: Path) -> dict[str, Any]:
    import tomllib

    from superllmd.errors import UsageError

    if str(file) in ("refine",) and not file.exists():
        return {"mode_options": {"builtin": str(file)}}
    try:
        return {"workflow": tomllib.loads(file.read_text(encoding="utf-8"))}
    except OSError as exc:
        raise UsageError(f"cannot read workflow {file}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{file}: invalid TOML: {exc}") from None


def mapreduce(
    ctx: typer.Context,
    prompt: Prompt = None,
    model: Models = None,
    models: ModelList = None,
    judge: Judge = None,
    chunk_tokens: Annotated[int | None, typer.Option("--chunk-tokens", min=50)] = None,
    overlap: Annotated[int | None, typer.Option("--overlap", min=0)] = None,
    question: Annotated[
        str | None, typer.Option("-q", "--question", help="What to ask of the input.")
    ] = None,
    system: System = None,
    temperature: Temperature = None,
    max_output: MaxOutput = None,
    option: Options = None,
    max_calls: MaxCalls = None,
    max_tokens: MaxTokens = None,
    timeout: Timeout = None,
    seed: Seed = None,
    json_out: JsonOut = False,
    stream_json: StreamJson = False,
    max_cost: MaxCost = None,
    continue_: Continue = False,
    cid: Cid = None,
    fragment: Fragments = None,
    attach: Attach = None,
    no_cache: NoCache = False,
    cache_ttl: CacheTtl = None,
    label: Label = None,
    no_autostart: NoAutostart = False,
    binary_ok: BinaryOk = False,
) -> None:
    """Split a long input, map it in parallel across models, reduce to one answer."""
    params = locals()
    mode_options = {
        k: v
        for k, v in (("chunk_tokens", chunk_tokens), ("overlap", overlap), ("question", question))
        if v is not None
    }
    _send(ctx, "mapreduce", prompt, params, extra={"mode_options": mode_options})
