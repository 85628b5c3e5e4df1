"""The command line's options, each defined once, and the runner every command body uses.

A flag means the same in every command that takes it: the ``Annotated`` aliases here are
the only definition of ``-s``, ``--temperature``, ``-o``, ``--json``, ``-t``, ``-p``, ... The
commands that call models take them as one dataclass (``flags.Common`` for ``ask``,
``flags.RunFlags`` for the modes) through :func:`with_flags`, so five signatures do not
repeat 25 parameters.

Choices (``--stream``, ``--color``, ``--strategy``) are enums, so ``--help`` lists their
values and a wrong one is refused by the parser with the list.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from enum import Enum, StrEnum
from typing import Annotated, Any, TypeVar, get_type_hints

import typer
from typer.core import TyperCommand

from superllm_cli._runner import ExitCode, Globals, guarded
from superllm_cli.completion import complete_conversations, complete_model_list, complete_models
from superllm_cli.flags import Common, RunFlags, join_params
from superllm_cli.render import ColorMode, Output
from superllmd.records import fields

__all__ = [
    "Attach",
    "BinaryOk",
    "CacheTtl",
    "Cid",
    "ColorChoice",
    "Common",
    "Continue",
    "Fragments",
    "Globals",
    "Label",
    "MaxCost",
    "NoAutostart",
    "NoCache",
    "ParamCommand",
    "PrintJson",
    "Prompt",
    "RunFlags",
    "Strategy",
    "StreamMode",
    "globals_of",
    "run",
    "with_flags",
]

T = TypeVar("T")
F = TypeVar("F", bound=Common)


class StreamMode(StrEnum):
    """``ask --stream``: when the answer is streamed as it is written."""

    auto = "auto"
    always = "always"
    never = "never"


class ColorChoice(StrEnum):
    """``--color``: colour and rich rendering on stdout."""

    auto = "auto"
    always = "always"
    never = "never"

    @property
    def mode(self) -> ColorMode:
        return self.value


class Strategy(StrEnum):
    """``consensus --strategy``: how the answers are merged (``rank`` is ``council``)."""

    vote = "vote"
    synthesize = "synthesize"
    council = "council"
    rank = "rank"
    medoid = "medoid"
    usc = "usc"


def _values(choices: type[Enum]) -> str:
    return ", ".join(str(member.value) for member in choices)


# -- options every model-calling command takes ------------------------------------------

Prompt = Annotated[str | None, typer.Argument(help="The prompt; stdin is added after it.")]
System = Annotated[str | None, typer.Option("-s", "--system", help="System prompt.")]
Temperature = Annotated[
    float | None, typer.Option("--temperature", min=0.0, max=2.0, help="Sampling temperature.")
]
ModelOptions = Annotated[
    list[str] | None, typer.Option("-o", "--option", help="Model option key=value; repeat.")
]
JsonOut = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
#: ``--json`` of the listing and management commands (budget show, log, usage...).
PrintJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]
StreamJson = Annotated[
    bool, typer.Option("--stream-json", help="Print every event as a JSON line.")
]
MaxCost = Annotated[
    float | None,
    typer.Option("--max-cost", min=0.0, help="Refuse calls that could take the run over USD."),
]
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
    typer.Option(
        "-p",
        "--param",
        metavar="KEY VALUE",
        help="A template parameter: -p KEY VALUE (or KEY=VALUE); repeat.",
    ),
]
Label = Annotated[
    str | None,
    typer.Option("--label", envvar="SUPERLLM_LABEL", help="Name this run for usage and budgets."),
]
NoAutostart = Annotated[
    bool, typer.Option("--no-autostart", help="Fail instead of starting the daemon.")
]
BinaryOk = Annotated[
    bool,
    typer.Option(
        "--binary-ok", help="Send stdin even if it is not UTF-8 text (bad bytes replaced)."
    ),
]
Extract = Annotated[
    bool, typer.Option("-x", "--extract", help="Print only the answer's first fenced code block.")
]
ExtractLast = Annotated[
    bool, typer.Option("--extract-last", help="Print only the answer's last fenced code block.")
]
SchemaOpt = Annotated[
    str | None,
    typer.Option(
        "--schema",
        metavar="SCHEMA",
        help="Answer as JSON for this schema: a JSON Schema file, or 'name str, age int: years'.",
    ),
]
_CAP_HELP = "Most tokens per answer (the output cap)."
# ask: --max-tokens is the output cap; --max-output is the same, the modes' spelling.
MaxTokens = Annotated[
    int | None, typer.Option("--max-tokens", "--max-output", min=1, help=_CAP_HELP)
]

# -- options of the multi-model modes ---------------------------------------------------

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
MaxOutput = Annotated[int | None, typer.Option("--max-output", min=1, help=_CAP_HELP)]
MaxCalls = Annotated[int | None, typer.Option("--max-calls", min=1, help="Run budget: calls.")]
TokenBudget = Annotated[
    int | None, typer.Option("--token-budget", min=1, help="Run budget: tokens in and out.")
]
# Until 0.x the modes' --max-tokens was the run budget; it stays, hidden and warning, for
# one release, then becomes the output cap as in ask.
OldMaxTokens = Annotated[int | None, typer.Option("--max-tokens", min=1, hidden=True)]
Timeout = Annotated[float | None, typer.Option("--timeout", min=0.1, help="Run budget: seconds.")]
Seed = Annotated[int | None, typer.Option("--seed", help="Seed for shuffles and sampling.")]

# -- options of some modes --------------------------------------------------------------

StrategyOpt = Annotated[
    Strategy | None,
    typer.Option("--strategy", help=f"How answers are merged: {_values(Strategy)}."),
]
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
Tui = Annotated[bool, typer.Option("--tui", help="Watch the run in the terminal UI.")]
StreamOpt = Annotated[
    StreamMode,
    typer.Option("--stream", help=f"When to stream the answer: {_values(StreamMode)}."),
]
ColorOpt = Annotated[
    ColorChoice,
    typer.Option("--color", help=f"Colour: {_values(ColorChoice)} (NO_COLOR is honoured)."),
]


def with_flags(kind: type[F]) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Give a command the options of ``kind`` (after its own) and call it with them gathered
    as ``flags=kind(...)``. Typer reads the rewritten signature, so help, completion, the
    man page and the parser see ordinary options."""
    # The fields' annotations name this module's aliases (flags.py is stdlib only).
    hints = get_type_hints(kind, globalns=globals(), include_extras=True)
    # The class's own options first (a mode's -m/--models before the common ones).
    defaults = fields(kind)
    own_first = sorted(defaults, key=lambda name: name not in vars(kind)["__annotations__"])
    shared = [
        inspect.Parameter(
            name, inspect.Parameter.KEYWORD_ONLY, default=defaults[name], annotation=hints[name]
        )
        for name in own_first
    ]

    def wrap(func: Callable[..., None]) -> Callable[..., None]:
        own = [
            p
            for p in inspect.signature(func, eval_str=True).parameters.values()
            if p.name != "flags"
        ]

        @functools.wraps(func)
        def command(*args: Any, **kwargs: Any) -> None:
            values = {name: kwargs.pop(name) for name in defaults}
            func(*args, flags=kind(**values), **kwargs)

        params = [*own, *shared]
        command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        return command

    return wrap


class ParamCommand(TyperCommand):
    """A command whose ``-p KEY VALUE`` takes two words, as in ``llm``, while ``-p KEY=VALUE``
    keeps working (``flags.join_params``, which the fast path applies too)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, join_params(args))


def globals_of(ctx: typer.Context) -> Globals:
    value = ctx.find_root().obj
    return value if isinstance(value, Globals) else Globals()


def run(ctx: typer.Context, body: Callable[[Output], T]) -> T:
    """Run a command body: superllm errors become a message and their exit code."""
    try:
        return guarded(globals_of(ctx), body)
    except ExitCode as exc:
        raise typer.Exit(exc.code) from None
