"""The answers of the native API's routes beside the runs (API v1): providers, history,
budgets and config, as the SDK returns them.

Stdlib only, like protocol.py, whose request shapes (``BudgetSetRequest``,
``ForgetRunsRequest``, ``ConfigSetRequest``, ``ModelsRefreshRequest``) these answer.
"""

from __future__ import annotations

from typing import Any

from typing_extensions import TypedDict

from superllmd.protocol import ErrorInfo, RunResult, RunSummary

__all__ = [
    "BudgetsCleared",
    "BudgetsSet",
    "CallRecord",
    "ConfigChanged",
    "ConfigReport",
    "Conversation",
    "ConversationDeleted",
    "ConversationList",
    "ConversationMessage",
    "ConversationSummary",
    "FragmentRef",
    "ProviderCheck",
    "ProviderInfo",
    "RunRecord",
    "RunsForgotten",
]


class ProviderInfo(TypedDict):
    """One row of ``GET /v1/providers``: a provider, and whether it can be called now."""

    id: str
    kind: str
    base_url: str | None
    #: Where its key comes from (``keyring``, ``$OPENAI_API_KEY``, ``api_key_cmd``), or None.
    key_source: str | None
    key_env: list[str]
    configured: bool
    models: list[str]
    #: ``{"state": "closed" | "open" | "half_open", ...}``: an open one is skipped by chains.
    circuit: dict[str, Any]


class ProviderCheck(TypedDict):
    """One provider's answer to ``POST /v1/providers/check``: the cheapest call that proves
    it answers (``via``: health, list_models or complete), or its error."""

    id: str
    ok: bool
    latency_ms: int
    via: str | None
    model: str | None
    error: ErrorInfo | None


class ConversationSummary(TypedDict):
    """One row of ``GET /v1/conversations``, latest first (times in seconds since 1970)."""

    conversation_id: str
    created: float
    updated: float
    mode: str | None
    model: str | None
    label: str | None
    title: str | None
    messages: int  # how many


class ConversationList(TypedDict):
    conversations: list[ConversationSummary]


class ConversationMessage(TypedDict):
    role: str
    content: str | None  # None where ``log_prompts = false`` kept the text out


class Conversation(TypedDict):
    """``GET /v1/conversations/{id}``: every message, in order."""

    conversation_id: str
    messages: list[ConversationMessage]


class ConversationDeleted(TypedDict):
    """``DELETE /v1/conversations/{id}``: its messages are gone; its runs' costs stay."""

    conversation_id: str
    deleted: bool


class RunsForgotten(TypedDict):
    """``POST /v1/runs/forget``: the runs whose text was dropped (their costs stay)."""

    runs: int
    run_ids: list[str]


class CallRecord(TypedDict):
    """One provider call of a run, as the ledger holds it."""

    call_id: str
    time: float
    ended: float | None
    provider: str
    model: str
    participant: str | None
    role: str | None
    round: int
    attempt: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cost_usd: float | None
    unpriced: int  # 1: the model had no known price
    latency_ms: int | None
    status: str
    error_code: str | None


class FragmentRef(TypedDict):
    hash: str
    size: int


class RunRecord(RunSummary):
    """``GET /v1/runs/{id}``: one run in full, as ``superllm log RUN_ID`` replays it."""

    request: dict[str, Any] | None
    result: RunResult | None
    transcript: list[dict[str, Any]] | None  # the run's events, in order
    calls: list[CallRecord]
    fragments: list[FragmentRef]


class BudgetsSet(TypedDict):
    """``PUT /v1/budgets``: the config.toml keys written."""

    path: str
    set: list[str]


class BudgetsCleared(TypedDict):
    """``DELETE /v1/budgets``: the config.toml keys removed (none if none was set)."""

    path: str
    cleared: list[str]


class ConfigReport(TypedDict):
    """``GET /v1/config``: the settings in effect (config.toml, then ``SUPERLLM_*``)."""

    path: str
    settings: dict[str, Any]


class ConfigChanged(TypedDict):
    """``PUT /v1/config``: the key written; the file is written only if the result is valid."""

    path: str
    key: str
