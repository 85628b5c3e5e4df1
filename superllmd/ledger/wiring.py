"""How the daemon plugs the ledger into the call path (one place, so state.py stays small).

Hook order matters: the recorder first (it sees every attempt start, so a call killed
mid-way is marked), then the response cache (a hit answers before any budget is reserved),
then whatever the daemon adds after (budgets).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from superllmd.config import ConfigStore
from superllmd.errors import ConfigError
from superllmd.ledger.base import Backend
from superllmd.ledger.cache import ResponseCache
from superllmd.ledger.conversations import Conversations
from superllmd.ledger.db import Ledger
from superllmd.ledger.recorder import LedgerRecorder
from superllmd.orchestrator.run import Caller

__all__ = ["LedgerParts", "attach"]


@dataclass(frozen=True, slots=True)
class LedgerParts:
    ledger: Backend
    conversations: Conversations
    recorder: LedgerRecorder
    cache: ResponseCache


def open_backend(path: Path, config: ConfigStore) -> Backend:
    """The SQLite file at ``path``, or the PostgreSQL database ``[ledger] url`` names."""
    try:
        settings = config.get(os.environ).ledger
    except ConfigError:  # the daemon reports a bad config on its own, before this
        settings = None
    if settings is not None and settings.url:
        from superllmd.ledger.pg import PgLedger

        return PgLedger.open(settings.url, pool_size=settings.pool_size, lease_s=settings.lease_s)
    return Ledger.open(path)


def attach(path: Path, config: ConfigStore, caller: Caller) -> LedgerParts:
    """Open the ledger (``open_backend``) and put its hooks first on ``caller``.

    Raises LedgerError (exit 3, saying what to do) when it cannot be opened.
    """

    def log_prompts(environ: Mapping[str, str]) -> bool:
        try:
            return config.get(environ or os.environ).daemon.log_prompts
        except ConfigError:  # the request fails on its own config error; keep the default
            return True

    ledger = open_backend(path, config)
    conversations = Conversations(ledger)
    recorder = LedgerRecorder(ledger, log_prompts=log_prompts, on_run=conversations.record)
    cache = ResponseCache(ledger, persist=log_prompts)
    caller.hooks[:0] = [recorder, cache]
    caller.run_hooks.insert(0, recorder)
    return LedgerParts(ledger, conversations, recorder, cache)
