"""The ledger: every run and provider call in one SQLite file, written only by the daemon.

::

    db.py             Ledger: the writer thread (the only write connection), reads off-loop
    migrations.py     numbered migrations (PRAGMA user_version), never edited once shipped
    queries.py        spend for budgets, usage reports, --since/--until words
    history.py        runs, transcripts, search, conversations, cached responses read back
    recorder.py       the call and run hooks that write it
    cache.py          the response cache (a call hook)
    conversations.py  conversations, fragments and attachments given to a run

The daemon imports this package; the CLI never does (it would pull in sqlite3).
"""

from __future__ import annotations

from superllmd.ledger.db import Ledger, LedgerError
from superllmd.ledger.queries import spent_usd

__all__ = ["Ledger", "LedgerError", "spent_usd"]
