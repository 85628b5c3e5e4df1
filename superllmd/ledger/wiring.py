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
from superllmd.ledger.cache import ResponseCache
from superllmd.ledger.conversations import Conversations
from superllmd.ledger.db import Ledger
from superllmd.ledger.recorder import LedgerRecorder
from superllmd.orchestrator.run import Caller

__all__ = ["LedgerParts", "attach"]


@dataclass(frozen=True, slots=True)
class LedgerParts:
    ledger: Ledger
    conversations: Conversations
    recorder: LedgerRecorder
    cache: ResponseCache


def attach(path: Path, config: ConfigStore, caller: Caller) -> LedgerParts:
    """Open the ledger at ``path`` and put its hooks first on ``caller``.

    Raises LedgerError (exit 3, saying what to do) when the file cannot be opened.
    """

    def log_prompts(environ: Mapping[str, str]) -> bool:
        try:
            return config.get(environ or os.environ).daemon.log_prompts
        except ConfigError:  # the request fails on its own config error; keep the default
            return True

    ledger = Ledger.open(path)
    conversations = Conversations(ledger)
    recorder = LedgerRecorder(ledger, log_prompts=log_prompts, on_run=conversations.record)
    cache = ResponseCache(ledger, persist=log_prompts)
    caller.hooks[:0] = [recorder, cache]
    caller.run_hooks.insert(0, recorder)
    return LedgerParts(ledger, conversations, recorder, cache)
