"""Reading the ledger: spend for budgets, usage reports, and the time words users type.

Every function takes a connection (``base.Conn``: SQLite's, or the PostgreSQL backend's
reader) and runs synchronously: the daemon calls them on the ledger's reader thread
(``await ledger.read(...)``), tests and scripts call them on a connection of their own.

What counts (the rules ``superllm usage`` and budgets share):

- only settled calls (``in_flight`` ones have no usage yet);
- ``calls`` are requests that reached a provider: a cache hit (status ``cached``) or a call a
  budget refused before sending is not one; cache hits are counted apart;
- tokens and cost come from those calls; a cache hit costs nothing;
- a total is unknown (None) as soon as one call in it used tokens of an unpriced model.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from typing import TYPE_CHECKING, Any

from superllmd.errors import UsageError
from superllmd.ledger.base import Conn, dialect

if TYPE_CHECKING:
    from superllmd.ledger.db import Ledger

__all__ = [
    "GROUPS",
    "parse_when",
    "prune_cache",
    "recover_interrupted",
    "spent_usd",
    "usage_report",
]

# How a breakdown keys its rows; dates are the daemon's local time.
GROUPS: dict[str, str] = {
    "day": "date(time, 'unixepoch', 'localtime')",
    # Monday of the week: move to the coming Sunday (or stay on one), then back six days.
    "week": "date(time, 'unixepoch', 'localtime', 'weekday 0', '-6 days')",
    "month": "strftime('%Y-%m', time, 'unixepoch', 'localtime')",
    "provider": "provider",
    "model": "provider || '/' || model",
    "mode": "mode",
    "label": "coalesce(label, '')",
    "token": "coalesce(token, '')",
    # A call's user and team are its token's (migration 8).
    "user": "coalesce((SELECT t.user_name FROM gateway_tokens t WHERE t.name = calls.token), '')",
    "team": (
        "coalesce((SELECT u.team FROM gateway_tokens t JOIN users u ON u.name = t.user_name "
        "WHERE t.name = calls.token), '')"
    ),
}

#: The calls of a user's tokens, of a team's users' tokens.
USER_CALLS = "token IN (SELECT t.name FROM gateway_tokens t WHERE t.user_name = ?)"
TEAM_CALLS = (
    "token IN (SELECT t.name FROM gateway_tokens t JOIN users u ON u.name = t.user_name "
    "WHERE u.team = ?)"
)
# The same keys in PostgreSQL (the session's time zone is the daemon's, see pg.py).
_PG_TIME_GROUPS: dict[str, str] = {
    "day": "to_char(to_timestamp(time), 'YYYY-MM-DD')",
    "week": "to_char(date_trunc('week', to_timestamp(time)), 'YYYY-MM-DD')",
    "month": "to_char(to_timestamp(time), 'YYYY-MM')",
}
_TIME_GROUPS = {"day", "week", "month"}

# Calls that reached a provider: not answered by the cache, not refused by a budget.
_SENT = "(status NOT IN ('cached', 'refused'))"
# Counts as CASE sums: PostgreSQL cannot SUM a comparison.
_SUMS = f"""
    SUM(CASE WHEN {_SENT} THEN 1 ELSE 0 END) AS calls,
    SUM(CASE WHEN status = 'cached' THEN 1 ELSE 0 END) AS cache_hits,
    SUM(CASE WHEN status IN ('error', 'refused', 'interrupted') THEN 1 ELSE 0 END) AS errors,
    SUM(CASE WHEN {_SENT} THEN input_tokens ELSE 0 END) AS input_tokens,
    SUM(CASE WHEN {_SENT} THEN output_tokens ELSE 0 END) AS output_tokens,
    SUM(CASE WHEN {_SENT} THEN cached_tokens ELSE 0 END) AS cached_tokens,
    SUM(CASE WHEN {_SENT} THEN coalesce(cost_usd, 0) ELSE 0 END) AS cost,
    SUM(CASE WHEN {_SENT} THEN coalesce(unpriced, 0) ELSE 0 END) AS unpriced
"""


def spent_usd(
    conn_or_ledger: Conn | Ledger,
    since: float,
    *,
    provider: str | None = None,
    label: str | None = None,
    token: str | None = None,
    user: str | None = None,
    team: str | None = None,
) -> tuple[float, bool]:
    """USD spent by calls that started at or after ``since`` (unix time), and whether any of
    them used an unpriced model (then the sum understates the truth); ``user`` and ``team``
    keep the calls made with their tokens.

    Given a Ledger (from a thread, not the event loop: use ``await ledger.spent_usd``), it
    reads through a short-lived read-only connection of its own.
    """
    from superllmd.ledger import db

    if isinstance(conn_or_ledger, db.Ledger):
        conn = db.connect(conn_or_ledger.path, readonly=True)
        try:
            return spent_usd(
                conn, since, provider=provider, label=label, token=token, user=user, team=team
            )
        finally:
            conn.close()
    where = ["time >= ?", "status != 'in_flight'"]
    params: list[Any] = [since]
    if provider is not None:
        where.append("provider = ?")
        params.append(provider)
    if label is not None:
        where.append("label = ?")
        params.append(label)
    if token is not None:
        where.append("token = ?")
        params.append(token)
    for clause, value in ((USER_CALLS, user), (TEAM_CALLS, team)):
        if value is not None:
            where.append(clause)
            params.append(value)
    row = conn_or_ledger.execute(
        "SELECT coalesce(SUM(cost_usd), 0), coalesce(MAX(unpriced), 0) FROM calls WHERE "
        + " AND ".join(where),
        params,
    ).fetchone()
    return float(row[0]), bool(row[1])


#: What ``recover_interrupted`` sets on a run a dead daemon left ``running``: interrupted,
#: finished with its last call, with the tokens and cost its calls recorded.
RUN_INTERRUPTED = (
    "status = 'interrupted', error_code = 'daemon_stopped', "
    "finished = coalesce((SELECT max(ended) FROM calls WHERE run_id = runs.id), time), "
    "input_tokens = (SELECT coalesce(sum(input_tokens), 0) FROM calls WHERE run_id = runs.id), "
    "output_tokens = (SELECT coalesce(sum(output_tokens), 0) FROM calls WHERE run_id = runs.id), "
    "cached_tokens = (SELECT coalesce(sum(cached_tokens), 0) FROM calls WHERE run_id = runs.id), "
    "cost_usd = (SELECT sum(cost_usd) FROM calls WHERE run_id = runs.id)"
)
#: ... and on a call it left ``in_flight`` (its tokens and cost are what it recorded so far).
CALL_INTERRUPTED = (
    "status = 'interrupted', error_code = 'daemon_stopped', ended = coalesce(ended, time)"
)


def recover_interrupted(conn: Conn) -> int:
    """Mark calls a dead daemon left ``in_flight`` as interrupted; how many there were.

    Runs at a SQLite daemon's start, before the writer starts, under the daemon lock:
    nothing is in flight. (Instances sharing a PostgreSQL ledger cannot: the others' calls
    are in flight. They mark what an instance whose lease ran out left, ledger/instances.py.)
    """
    cursor = conn.execute(f"UPDATE calls SET {CALL_INTERRUPTED} WHERE status = 'in_flight'")
    # Runs it left unfinished: interrupted, with the calls and cost they did have.
    conn.execute(f"UPDATE runs SET {RUN_INTERRUPTED} WHERE status = 'running'")
    return cursor.rowcount


def prune_cache(conn: Conn, keep_s: float = 30 * 86400) -> int:
    """Drop cached responses older than ``keep_s`` (no --cache-ttl reaches that far back in
    practice); how many went. Runs at startup, so the cache cannot grow without bound."""
    cursor = conn.execute("DELETE FROM response_cache WHERE time < ?", (time.time() - keep_s,))
    return cursor.rowcount


def usage_report(
    conn: Conn,
    *,
    by: str = "day",
    since: float | None = None,
    until: float | None = None,
    provider: str | None = None,
    model: str | None = None,
    mode: str | None = None,
    label: str | None = None,
    token: str | None = None,
) -> dict[str, Any]:
    """Totals and one row per ``by`` key: ``{"totals": {...}, "rows": [{by: key, ...}]}``.

    ``token`` keeps only the calls made with that gateway token (what MCP over HTTP shows
    its caller)."""
    if by not in GROUPS:
        raise UsageError(f"--by {by!r}: use one of {', '.join(GROUPS)}")
    where: list[str] = ["status != 'in_flight'"]
    params: list[Any] = []
    for column, value in (("time >= ?", since), ("time < ?", until)):
        if value is not None:
            where.append(column)
            params.append(value)
    if provider:
        where.append("provider = ?")
        params.append(provider)
    if model:
        if "/" in model:
            where.append("provider || '/' || model = ?")
        else:
            where.append("model = ?")
        params.append(model)
    if mode:
        where.append("mode = ?")
        params.append(mode)
    if label:
        where.append("label = ?")
        params.append(label)
    if token is not None:
        where.append("token = ?")
        params.append(token)
    clause = " AND ".join(where)
    totals = conn.execute(f"SELECT {_SUMS} FROM calls WHERE {clause}", params).fetchone()
    order = "k" if by in _TIME_GROUPS else "cost DESC, calls DESC, k"
    group = GROUPS[by]
    if by in _PG_TIME_GROUPS and dialect(conn) == "postgres":
        group = _PG_TIME_GROUPS[by]
    rows = conn.execute(
        f"SELECT {group} AS k, {_SUMS} FROM calls WHERE {clause} GROUP BY k ORDER BY {order}",
        params,
    ).fetchall()
    return {
        "by": by,
        "since": since,
        "until": until,
        "totals": _figures(totals),
        "rows": [{by: row[0], **_figures(row[1:])} for row in rows],
    }


def _figures(row: Any) -> dict[str, Any]:
    calls, hits, errors, tokens_in, tokens_out, tokens_cached, cost, unpriced = row
    return {
        "calls": int(calls or 0),
        "input_tokens": int(tokens_in or 0),
        "output_tokens": int(tokens_out or 0),
        "cached_tokens": int(tokens_cached or 0),
        "cost_usd": None if unpriced else round(float(cost or 0.0), 10),
        # What is known when cost_usd is null: the priced calls' sum and the unpriced count.
        "known_cost_usd": round(float(cost or 0.0), 10),
        "unpriced_calls": int(unpriced or 0),
        "cache_hits": int(hits or 0),
        "errors": int(errors or 0),
    }


_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)$")
_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_when(text: str | None, *, now: float | None = None, end: bool = False) -> float | None:
    """What users type for --since/--until -> unix time (None for nothing).

    ``7d``, ``12h``, ``30m``, ``2w`` (that long ago), ``today``, ``yesterday``, a date
    ``2025-01-31`` (its local midnight; as an ``end``, the midnight after, so the day is
    included), an ISO time ``2025-01-31T14:00``, or unix seconds.
    """
    if text is None or not text.strip():
        return None
    word = text.strip().lower()
    now = time.time() if now is None else now
    if match := _RELATIVE.match(word):
        return now - float(match.group(1)) * _UNITS[match.group(2)]
    today = dt.datetime.fromtimestamp(now).date()
    days = {"today": today, "yesterday": today - dt.timedelta(days=1)}
    if word in days or re.fullmatch(r"\d{4}-\d{2}-\d{2}", word):
        try:
            day = days.get(word) or dt.date.fromisoformat(word)
        except ValueError:
            raise UsageError(f"{text!r} is not a date (write it as 2025-01-31)") from None
        if end:
            day += dt.timedelta(days=1)
        return dt.datetime.combine(day, dt.time()).timestamp()
    try:
        return float(word)
    except ValueError:
        pass
    try:
        return dt.datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        raise UsageError(
            f"{text!r} is not a time: write 7d, 12h, today, yesterday, 2025-01-31 or "
            "2025-01-31T14:00"
        ) from None
