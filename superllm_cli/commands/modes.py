"""``superllm consensus|debate|redteam|chain|mapreduce``: several models at once.

The commands are thin: their options (``superllm_cli.options.RunFlags`` plus each mode's
own) become the SDK's ``RunOptions`` (``superllm_cli.request``), the SDK's call builder
makes the request for the daemon's route, and the events are shown. The modes live in the
daemon.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from superllm_cli.flags import shaped
from superllm_cli.options import (
    AnswerType,
    Prompt,
    Quorum,
    Require,
    Rounds,
    RunFlags,
    SchemaOpt,
    StrategyOpt,
    Threshold,
    Tui,
    run,
    with_flags,
)
from superllm_cli.render import Output

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from superllmd.protocol import Mode

__all__ = ["chain", "consensus", "debate", "mapreduce", "redteam"]

Samples = Annotated[str | None, typer.Option("--samples", help="auto: adaptive top-up.")]
Submode = Annotated[str, typer.Option("--submode", help="critique or dispute.")]
Workflow = Annotated[Path, typer.Argument(help="Workflow TOML, or a built-in name: refine.")]
ChunkTokens = Annotated[
    int | None, typer.Option("--chunk-tokens", min=50, help="Tokens per piece.")
]
Overlap = Annotated[
    int | None, typer.Option("--overlap", min=0, help="Tokens shared by neighbours.")
]
Question = Annotated[str | None, typer.Option("-q", "--question", help="What to ask of the input.")]
_BUILTIN_WORKFLOWS = ("refine",)


def _send(
    ctx: typer.Context,
    mode: Mode,
    prompt: str | None,
    flags: RunFlags,
    *,
    tui: bool = False,
    workflow: Path | None = None,
    schema: str | None = None,
    **knobs: Any,
) -> None:
    def body(out: Output) -> None:
        from superllm_cli import _calls
        from superllm_cli.client import Client
        from superllm_cli.request import prepare, run_options
        from superllm_cli.runview import consume_run, print_failures, print_warnings, summary
        from superllmd.errors import DaemonError, from_dict

        if schema is not None:
            from superllm_cli.schema import load_schema

            knobs["json_schema"] = load_schema(schema)
        client = Client(autostart=not flags.no_autostart)
        reader = _chain_input if mode == "chain" else None
        ready = prepare(flags, prompt, client.paths.config_dir, read=reader)
        # Read here, so that a bad workflow is reported like the other usage errors.
        steps = _workflow(workflow) if workflow is not None else None
        options = run_options(flags, ready.options, **knobs)
        models = flags.participants() or ready.models
        call = _calls.run(mode, ready.text, models=models, workflow=steps, **options)
        if tui:  # consensus|debate --tui: the TUI shows this run instead
            from superllm_cli.commands.tui import open_run

            request = {**(call.body or {}), "env": client.env_for_request()}
            open_run(call.path.removeprefix("/v1/"), request, out, autostart=not flags.no_autostart)
            return
        quiet = flags.json_out or flags.stream_json
        events = client.run_events(call)
        if not quiet:
            events = _shaped_answer(events, flags)
        result = consume_run(events, out, json_out=flags.json_out, stream_json=flags.stream_json)
        if not result:
            raise DaemonError("the daemon ended the run without a result")
        if not quiet:
            out.status(summary(result))
        print_failures(result, out)
        print_warnings(result, out)
        if result.get("error"):
            exc = from_dict(result["error"])
            if quiet:
                raise typer.Exit(exc.exit_code)
            raise exc

    run(ctx, body)


def _shaped_answer(events: Iterator[dict[str, Any]], flags: RunFlags) -> Iterator[dict[str, Any]]:
    """The events, the final answer as -x/--extract-last would print it."""
    for event in events:
        if event.get("type") == "run.finished" and event["result"].get("answer"):
            result = {**event["result"], "answer": shaped(flags, event["result"]["answer"])}
            yield {**event, "result": result}
        else:
            yield event


@with_flags(RunFlags)
def consensus(
    ctx: typer.Context,
    prompt: Prompt = None,
    strategy: StrategyOpt = None,
    quorum: Quorum = None,
    threshold: Threshold = None,
    require_agreement: Require = False,
    answer_type: AnswerType = None,
    samples: Samples = None,
    schema: SchemaOpt = None,
    tui: Tui = False,
    *,
    flags: RunFlags,
) -> None:
    """Ask several models in parallel and merge their answers (with --schema: JSON objects,
    voted field by field)."""
    _send(
        ctx,
        "consensus",
        prompt,
        flags,
        tui=tui,
        strategy=strategy.value if strategy else None,
        quorum=quorum,
        threshold=threshold,
        require_agreement=require_agreement or None,
        answer_type=answer_type,
        samples=samples,
        schema=schema,
    )


@with_flags(RunFlags)
def debate(
    ctx: typer.Context,
    prompt: Prompt = None,
    rounds: Rounds = None,
    threshold: Threshold = None,
    require_agreement: Require = False,
    answer_type: AnswerType = None,
    tui: Tui = False,
    *,
    flags: RunFlags,
) -> None:
    """Let models argue in rounds until they agree."""
    _send(
        ctx,
        "debate",
        prompt,
        flags,
        tui=tui,
        rounds=rounds,
        threshold=threshold,
        require_agreement=require_agreement or None,
        answer_type=answer_type,
    )


@with_flags(RunFlags)
def redteam(
    ctx: typer.Context,
    prompt: Prompt = None,
    submode: Submode = "critique",
    rounds: Rounds = None,
    answer_type: AnswerType = None,
    *,
    flags: RunFlags,
) -> None:
    """Blue answers, red attacks, blue revises; a judge rules."""
    _send(
        ctx,
        "redteam",
        prompt,
        flags,
        rounds=rounds,
        answer_type=answer_type,
        mode_options={"submode": submode},
    )


@with_flags(RunFlags)
def chain(ctx: typer.Context, file: Workflow, prompt: Prompt = None, *, flags: RunFlags) -> None:
    """Run a workflow of named steps (a TOML file) over the input."""
    _send(ctx, "chain", prompt, flags, workflow=file)


def _chain_input(prompt: str | None, binary_ok: bool) -> str:
    """A chain's input, from the argument and/or stdin like every command; a workflow may
    need none, so an empty input is not an error here (stdin that is not text still is)."""
    from superllm_cli._stdin import read_stdin

    piped = read_stdin(binary_ok=binary_ok)
    return "\n\n".join(p for p in (prompt, piped.strip("\n")) if p and p.strip())


def _workflow(file: Path) -> Mapping[str, Any] | str:
    """The parsed workflow file, or the name of a built-in one."""
    import tomllib

    from superllmd.errors import UsageError

    if str(file) in _BUILTIN_WORKFLOWS and not file.exists():
        return str(file)
    try:
        return tomllib.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read workflow {file}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{file}: invalid TOML: {exc}") from None


@with_flags(RunFlags)
def mapreduce(
    ctx: typer.Context,
    prompt: Prompt = None,
    chunk_tokens: ChunkTokens = None,
    overlap: Overlap = None,
    question: Question = None,
    *,
    flags: RunFlags,
) -> None:
    """Split a long input, map it in parallel across models, reduce to one answer."""
    knobs = {"chunk_tokens": chunk_tokens, "overlap": overlap, "question": question}
    mode_options = {k: v for k, v in knobs.items() if v is not None}
    _send(ctx, "mapreduce", prompt, flags, mode_options=mode_options)
