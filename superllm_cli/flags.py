"""The options of the commands that call models, gathered as records (stdlib only).

``superllm_cli.options`` declares each option once (``Annotated`` with Typer) and gives a
command these fields through ``with_flags``; the fast path (``_fast``) fills the same
records without importing Typer, which is why they live here. The field annotations
name the aliases in ``superllm_cli.options`` and are only read from there.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from superllmd.records import record

if TYPE_CHECKING:
    from superllm_cli.options import (
        Attach,
        BinaryOk,
        CacheTtl,
        Cid,
        Continue,
        Extract,
        ExtractLast,
        Fragments,
        JsonOut,
        Judge,
        Label,
        MaxCalls,
        MaxCost,
        MaxOutput,
        ModelList,
        ModelOptions,
        Models,
        NoAutostart,
        NoCache,
        OldMaxTokens,
        Params,
        Seed,
        StreamJson,
        System,
        Temperature,
        TemplateName,
        Timeout,
        TokenBudget,
    )

__all__ = ["PARAM_OPTIONS", "Common", "RunFlags", "join_params", "shaped"]

#: The names of the template-parameter option, whose value is two words (``-p KEY VALUE``).
PARAM_OPTIONS = ("-p", "--param")


@record
class Common:
    """The options of every command that calls models (``ask`` and the modes)."""

    system: System = None
    temperature: Temperature = None
    option: ModelOptions = None
    template: TemplateName = None
    param: Params = None
    json_out: JsonOut = False
    stream_json: StreamJson = False
    extract: Extract = False
    extract_last: ExtractLast = False
    max_cost: MaxCost = None
    continue_: Continue = False
    cid: Cid = None
    fragment: Fragments = None
    attach: Attach = None
    no_cache: NoCache = False
    cache_ttl: CacheTtl = None
    label: Label = None
    no_autostart: NoAutostart = False
    binary_ok: BinaryOk = False


def shaped(flags: Common, answer: str) -> str:
    """The answer as ``-x/--extract`` or ``--extract-last`` asks to print it."""
    if not (flags.extract or flags.extract_last):
        return answer
    from superllm_cli.schema import extract_block

    return extract_block(answer, last=flags.extract_last and not flags.extract)


@record
class RunFlags(Common):
    """The options every multi-model mode takes besides ``Common``."""

    model: Models = None
    models: ModelList = None
    judge: Judge = None
    max_output: MaxOutput = None
    max_calls: MaxCalls = None
    token_budget: TokenBudget = None
    max_tokens: OldMaxTokens = None
    timeout: Timeout = None
    seed: Seed = None

    def participants(self) -> list[str]:
        """``-m`` repeated, then ``--models a,b,c``."""
        names = list(self.model or [])
        if self.models:
            names += [m.strip() for m in self.models.split(",") if m.strip()]
        return names

    def run_tokens(self) -> int | None:
        """The run's token budget: ``--token-budget``, or the deprecated ``--max-tokens``."""
        if self.max_tokens is not None:
            sys.stderr.write(
                "warning: --max-tokens in the modes is deprecated: it sets the run's token "
                "budget, now --token-budget; in the next release it will cap each answer, "
                "like --max-output and as in ask\n"
            )
            if self.token_budget is None:
                return self.max_tokens
        return self.token_budget


def join_params(args: list[str]) -> list[str]:
    """``-p KEY VALUE`` as ``-p KEY=VALUE``: a ``-p`` word without ``=`` is joined with the
    next one, so both forms parse as one value (``llm`` takes two words; ``KEY=VALUE`` was
    superllm's first form). Words after ``--`` are left alone."""
    joined: list[str] = []
    rest = list(args)
    while rest:
        word = rest.pop(0)
        joined.append(word)
        if word == "--":
            joined += rest
            break
        if word in PARAM_OPTIONS and len(rest) >= 2 and "=" not in rest[0]:
            joined.append(f"{rest.pop(0)}={rest.pop(0)}")
    return joined
