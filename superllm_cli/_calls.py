"""The SDK's calls, each written once: what request it sends, and what it gives back.

A builder returns a :class:`Call`; :class:`~superllm_cli.client.Client` runs it blocking and
:class:`~superllm_cli.client.AsyncClient` awaits it, so the sync and async clients share
every signature and every request (no parallel copies). Stdlib only.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Literal, TypedDict, TypeVar, Unpack
from urllib.parse import quote

from superllmd.records import field, record

# The protocol's shapes are for type checkers only: importing them (and typing_extensions,
# which pydantic needs for the protocol's TypedDicts) would cost every CLI call. The options
# below are typing.TypedDict: nothing validates them with pydantic.
if TYPE_CHECKING:
    from superllmd.protocol import (
        BudgetReport,
        EmbedResult,
        Mode,
        ModelInfo,
        RunResult,
        RunSummary,
        Turn,
        UsageReport,
    )
    from superllmd.protocol_admin import RunRecord
    from superllmd.protocol_tools import ToolChoiceSpec, ToolSpec

__all__ = [
    "ROUTES",
    "AskOptions",
    "Call",
    "RunOptions",
    "ask",
    "budgets",
    "chain",
    "consensus",
    "debate",
    "embed",
    "mapreduce",
    "models",
    "redteam",
    "run",
    "run_record",
    "runs",
    "usage",
]

R = TypeVar("R")

#: The daemon route of each mode (``redteam`` is served at ``/v1/adversarial``).
ROUTES: dict[str, str] = {
    "ask": "ask",
    "consensus": "consensus",
    "debate": "debate",
    "redteam": "adversarial",
    "chain": "chain",
    "mapreduce": "mapreduce",
}


class AskOptions(TypedDict, total=False):
    """What every mode takes besides the prompt (see ``AskRequest`` in the protocol)."""

    system: str | None
    temperature: float | None
    max_tokens: int | None  # most tokens per answer
    options: dict[str, Any]  # model options, e.g. {"top_p": 0.9}
    label: str | None  # for usage and budgets
    max_cost: float | None  # USD the run may spend
    no_cache: bool
    cache_ttl: float | None  # seconds
    conversation_id: str | None
    continue_last: bool
    fragments: list[str]  # context texts
    attachments: list[dict[str, str]]  # {"name", "media_type", "data" (base64)}
    messages: list[Turn]  # earlier turns of a chat, given whole instead of a conversation
    stop: list[str]  # stop sequences
    json_output: bool  # ask the model for a JSON object
    stream: bool  # the daemon streams the answer (default); False: it comes whole
    json_schema: dict[str, Any] | None  # the answer is JSON for this schema, validated
    tools: list[ToolSpec]  # functions the model may call (ask only); see result["tool_calls"]
    tool_choice: ToolChoiceSpec  # "auto", "none", "required" or {"name": ...}


class RunOptions(AskOptions, total=False):
    """What the multi-model modes take besides (see ``RunRequest`` in the protocol)."""

    judge: str | None
    strategy: str | None
    rounds: int | None
    threshold: float | None
    quorum: int | None
    require_agreement: bool
    answer_type: str | None
    samples: str | None
    max_calls: int | None
    max_run_tokens: int | None
    timeout: float | None
    seed: int | None
    mode_options: dict[str, Any]


@record(frozen=True)
class Call(Generic[R]):
    """One request and how to read its answer.

    ``env``: what of the client's environment goes with it (``"forward"``: in the body, by
    the narrow rule of ``_env``; ``"settings"``: ``SUPERLLM_*`` as query parameters;
    ``"present"``: those and the names, never the values, of the set provider variables).
    ``run``: a mode run, streamed as events; its result is the ``run.finished`` payload.
    ``key``: the answer's field to return (``runs`` of ``{"runs": [...]}``).
    ``timeout``: seconds to wait for the answer (None: as long as it takes).
    """

    method: str
    path: str
    body: dict[str, Any] | None = None
    params: dict[str, Any] = field(default_factory=dict)
    env: Literal["forward", "settings", "present", "none"] = "none"
    run: bool = False
    key: str | None = None
    timeout: float | None = None


def _run(route: str, body: dict[str, Any]) -> Call[RunResult]:
    clean = {k: v for k, v in body.items() if v is not None}
    clean.setdefault("stream", True)
    return Call("POST", f"/v1/{route}", clean, env="forward", run=True)


def ask(prompt: str, *, model: str | None = None, **options: Unpack[AskOptions]) -> Call[RunResult]:
    """Ask one model (or an alias, a fallback chain, a selector such as ``cheapest``)."""
    return _run("ask", {"prompt": prompt, "model": model, **options})


def consensus(prompt: str, models: list[str], **options: Unpack[RunOptions]) -> Call[RunResult]:
    """Ask several models in parallel and merge their answers (``strategy``: synthesize,
    vote, rank...); the result reports their ``agreement``."""
    return _run("consensus", {"prompt": prompt, "models": list(models), **options})


def debate(prompt: str, models: list[str], **options: Unpack[RunOptions]) -> Call[RunResult]:
    """Let the models see each other's answers and revise, until they agree
    (``threshold``) or after ``rounds``."""
    return _run("debate", {"prompt": prompt, "models": list(models), **options})


def redteam(
    prompt: str,
    models: list[str],
    *,
    submode: Literal["critique", "dispute"] = "critique",
    **options: Unpack[RunOptions],
) -> Call[RunResult]:
    """Blue answers, red attacks, blue revises; the judge rules."""
    mode_options = {"submode": submode, **options.pop("mode_options", {})}
    body = {"prompt": prompt, "models": list(models), **options, "mode_options": mode_options}
    return _run("adversarial", body)


def chain(
    prompt: str,
    workflow: Mapping[str, Any] | str | Path,
    models: list[str] | None = None,
    **options: Unpack[RunOptions],
) -> Call[RunResult]:
    """Run a workflow of named steps over ``prompt``: a parsed TOML table, a path to a TOML
    file, or the name of a built-in workflow."""
    body: dict[str, Any] = {"prompt": prompt, "models": list(models or []), **options}
    if isinstance(workflow, Mapping):
        body["workflow"] = dict(workflow)
    elif Path(workflow).is_file():
        import tomllib  # a chain's workflow file only: not on every call's import path

        body["workflow"] = tomllib.loads(Path(workflow).read_text(encoding="utf-8"))
    else:
        body["mode_options"] = {**body.get("mode_options", {}), "builtin": str(workflow)}
    return _run("chain", body)


def mapreduce(prompt: str, models: list[str], **options: Unpack[RunOptions]) -> Call[RunResult]:
    """Split a long ``prompt``, map the pieces in parallel, reduce to one answer
    (``mode_options``: ``chunk_tokens``, ``overlap``, ``question``)."""
    return _run("mapreduce", {"prompt": prompt, "models": list(models), **options})


def run(
    mode: Mode,
    prompt: str,
    *,
    model: str | None = None,
    models: list[str] | None = None,
    workflow: Mapping[str, Any] | str | Path | None = None,
    **options: Unpack[RunOptions],
) -> Call[RunResult]:
    """Any mode by name: what ``stream()`` sends."""
    if mode == "ask":
        return _run("ask", {"prompt": prompt, "model": model, **options})
    if mode == "chain":
        if workflow is None:
            raise TypeError("chain needs a workflow")
        return chain(prompt, workflow, models, **options)
    names = list(models or ([model] if model else []))
    if mode == "redteam":  # its submode, as redteam() sends it
        return redteam(prompt, names, **options)
    return _run(ROUTES[mode], {"prompt": prompt, "models": names, **options})


def embed(
    texts: list[str], *, model: str | None = None, label: str | None = None
) -> Call[EmbedResult]:
    """One vector per text (``model``: default ``default_embedding_model``)."""
    body: dict[str, Any] = {"texts": list(texts), "model": model, "label": label}
    return Call(
        "POST", "/v1/embed", {k: v for k, v in body.items() if v is not None}, env="forward"
    )


def models(
    *,
    provider: str | None = None,
    capabilities: list[str] | None = None,
    max_price: float | None = None,
) -> Call[list[ModelInfo]]:
    """The models the configured providers offer, with capabilities and prices."""
    params: dict[str, Any] = {"provider": provider, "max_price": max_price}
    if capabilities:
        params["capability"] = ",".join(capabilities)
    return Call("GET", "/v1/models", params=params, env="settings")


def usage(
    *,
    by: str = "day",
    since: str | None = None,
    until: str | None = None,
    provider: str | None = None,
    model: str | None = None,
    mode: str | None = None,
    label: str | None = None,
) -> Call[UsageReport]:
    """Spending from the ledger: totals and one row per ``by`` (day, month, provider, model,
    mode, label); ``since``/``until`` take dates or spans such as ``7d``."""
    params = {
        "by": by,
        "since": since,
        "until": until,
        "provider": provider,
        "model": model,
        "mode": mode,
        "label": label,
    }
    return Call("GET", "/v1/usage", params=params)


def runs(
    *,
    limit: int = 20,
    mode: str | None = None,
    label: str | None = None,
    since: str | None = None,
    search: str | None = None,
    conversation_id: str | None = None,
) -> Call[list[RunSummary]]:
    """The latest runs first (``search``: runs whose prompt or answer hold every word)."""
    params = {
        "limit": limit,
        "mode": mode,
        "label": label,
        "since": since,
        "search": search,
        "conversation_id": conversation_id,
    }
    return Call("GET", "/v1/runs", params=params, key="runs")


def run_record(run_id: str) -> Call[RunRecord]:
    """One run with its transcript, as ``superllm log RUN_ID`` shows it."""
    return Call("GET", f"/v1/runs/{quote(run_id, safe='')}")


def budgets() -> Call[BudgetReport]:
    """Every configured budget: its limit, what is spent and reserved, what is left."""
    return Call("GET", "/v1/budgets", env="settings")
