"""The SDK's calls beside the runs: providers and their model lists, history, budgets and
config, each written once as a :class:`~superllm_cli._calls.Call` (see ``_calls``), which
the CLI's commands send too. Stdlib only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from superllm_cli._calls import Call

if TYPE_CHECKING:  # the answers' shapes, for type checkers: the CLI does not pay for them
    from superllmd.protocol import ModelListing
    from superllmd.protocol_admin import (
        BudgetsCleared,
        BudgetsSet,
        ConfigChanged,
        ConfigReport,
        Conversation,
        ConversationDeleted,
        ConversationSummary,
        ProviderCheck,
        ProviderInfo,
        RunsForgotten,
    )

__all__ = [
    "CHECK_TIMEOUT",
    "check_providers",
    "clear_budgets",
    "config",
    "conversation",
    "conversations",
    "forget_conversation",
    "forget_runs",
    "providers",
    "refresh_models",
    "set_budget",
    "set_config",
]

#: Seconds each provider has to answer a check or a model list (the daemon's default).
CHECK_TIMEOUT = 10.0
# What the client waits beyond the providers' deadline: the daemon's own bookkeeping.
_SLACK = 30.0


def providers() -> Call[list[ProviderInfo]]:
    """Every provider the registry offers: its kind, where its key comes from, its circuit."""
    return Call("GET", "/v1/providers", env="present")


def check_providers(
    ids: list[str] | None = None, *, timeout: float = CHECK_TIMEOUT
) -> Call[list[ProviderCheck]]:
    """Prove that providers answer, in parallel, with the cheapest call each offers
    (without ``ids``: those worth checking, as ``superllm providers check``)."""
    body = {"ids": list(ids or []), "timeout": timeout}
    return Call("POST", "/v1/providers/check", body, env="forward", timeout=timeout + _SLACK)


def refresh_models(
    ids: list[str] | None = None, *, timeout: float = CHECK_TIMEOUT
) -> Call[list[ModelListing]]:
    """Ask providers which models they serve and cache the lists, so ``models()`` offers
    them too (``superllm models --refresh``); one provider's failure is its own row."""
    body = {"ids": list(ids or []), "timeout": timeout}
    return Call("POST", "/v1/models/refresh", body, env="forward", timeout=timeout + _SLACK)


def conversations(*, limit: int = 20) -> Call[list[ConversationSummary]]:
    """The latest conversations first (continue one with ``ask(conversation_id=...)``)."""
    return Call("GET", "/v1/conversations", params={"limit": limit}, key="conversations")


def conversation(conversation_id: str) -> Call[Conversation]:
    """Every message of one conversation, in order."""
    return Call("GET", f"/v1/conversations/{quote(conversation_id, safe='')}")


def forget_conversation(conversation_id: str) -> Call[ConversationDeleted]:
    """Remove a conversation's messages; its runs' costs stay in the ledger."""
    return Call("DELETE", f"/v1/conversations/{quote(conversation_id, safe='')}")


def forget_runs(run_id: str | None = None, *, before: str | None = None) -> Call[RunsForgotten]:
    """Drop the text of one run (a unique prefix of its id will do) or of every run
    ``before`` a time (``2025-01-31``, ``30d``); their calls, tokens and costs stay."""
    body = {"run_id": run_id} if run_id is not None else {"before": before}
    return Call("POST", "/v1/runs/forget", body)


def set_budget(
    *,
    daily_usd: float | None = None,
    monthly_usd: float | None = None,
    provider: str | None = None,
    label: str | None = None,
) -> Call[BudgetsSet]:
    """Set a daily and/or monthly limit in config.toml: global, for one ``provider`` or for
    one ``label`` (daily only); a limit left out is left as it was."""
    body: dict[str, Any] = {
        "daily_usd": daily_usd,
        "monthly_usd": monthly_usd,
        "provider": provider,
        "label": label,
    }
    return Call("PUT", "/v1/budgets", body)


def clear_budgets(*, provider: str | None = None, label: str | None = None) -> Call[BudgetsCleared]:
    """Remove the global limits, or those of one ``provider`` or one ``label``."""
    return Call("DELETE", "/v1/budgets", params={"provider": provider, "label": label})


def config() -> Call[ConfigReport]:
    """The settings in effect for this client (config.toml, then its ``SUPERLLM_*``)."""
    return Call("GET", "/v1/config", env="settings")


def set_config(key: str, value: str) -> Call[ConfigChanged]:
    """Set one dotted key (``providers.openai.base_url``) in config.toml; ``value`` is a TOML
    literal or plain text, and the file is written only if the result is valid."""
    return Call("PUT", "/v1/config", {"key": key, "value": value})
