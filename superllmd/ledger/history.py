"""Reading runs, conversations and cached responses back out of the ledger.

Synchronous functions over a connection (``base.Conn``), like queries.py; the daemon runs
them on the ledger's reader thread.
"""

from __future__ import annotations

import json
from typing import Any

from superllmd.errors import UsageError
from superllmd.ledger.base import Conn, dialect

__all__ = [
    "cache_get",
    "conversation_messages",
    "conversation_model",
    "conversation_owner",
    "get_run",
    "last_conversation",
    "list_conversations",
    "list_runs",
    "search_runs",
]

_SUMMARY_KEYS = [
    "run_id",
    "time",
    "finished",
    "mode",
    "label",
    "conversation_id",
    "participants",
    "prompt",
    "answer",
    "agreement",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cost_usd",
    "latency_ms",
    "status",
    "error_code",
]


def _summary_columns(table: str = "") -> str:
    """The summary's columns, prompt and answer cut to 200 characters."""
    t = f"{table}." if table else ""
    columns = [f"{t}id" if k == "run_id" else f"{t}{k}" for k in _SUMMARY_KEYS]
    columns[7] = f"substr({t}prompt, 1, 200)"
    columns[8] = f"substr({t}answer, 1, 200)"
    return ", ".join(columns)


_SUMMARY = _summary_columns()


def _summary(row: tuple[Any, ...]) -> dict[str, Any]:
    out = dict(zip(_SUMMARY_KEYS, row, strict=True))
    out["participants"] = json.loads(out["participants"] or "[]")
    return out


def list_runs(
    conn: Conn,
    *,
    limit: int = 20,
    mode: str | None = None,
    label: str | None = None,
    since: float | None = None,
    conversation_id: str | None = None,
) -> list[dict[str, Any]]:
    """The latest runs first, each a summary (prompt and answer cut to 200 characters)."""
    where, params = ["1 = 1"], []
    for clause, value in (
        ("mode = ?", mode),
        ("label = ?", label),
        ("time >= ?", since),
        ("conversation_id = ?", conversation_id),
    ):
        if value is not None:
            where.append(clause)
            params.append(value)
    rows = conn.execute(
        f"SELECT {_SUMMARY} FROM runs WHERE {' AND '.join(where)} ORDER BY time DESC LIMIT ?",
        [*params, limit],
    ).fetchall()
    return _with_short_ids(conn, [_summary(r) for r in rows])


#: Never shorter than this, as git does: a 3-character id reads like a typo.
MIN_SHORT_ID = 7


def short_id(conn: Conn, run_id: str) -> str:
    """The shortest prefix of ``run_id`` (at least MIN_SHORT_ID characters) that no other
    run in the ledger shares: one past the longest prefix shared with either neighbour in
    id order. ``superllm log PREFIX`` accepts it."""
    shared = 0
    for query in (
        "SELECT id FROM runs WHERE id < ? ORDER BY id DESC LIMIT 1",
        "SELECT id FROM runs WHERE id > ? ORDER BY id LIMIT 1",
    ):
        row = conn.execute(query, (run_id,)).fetchone()
        if row is not None:
            other = str(row[0])
            common = next(
                (i for i, (a, b) in enumerate(zip(run_id, other, strict=False)) if a != b),
                min(len(run_id), len(other)),
            )
            shared = max(shared, common)
    return run_id[: max(MIN_SHORT_ID, shared + 1)]


def _with_short_ids(conn: Conn, runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for run in runs:
        run["short_id"] = short_id(conn, run["run_id"])
    return runs


def _fts_query(text: str) -> str:
    # Each word as a quoted phrase: what the user typed is text to find, not FTS syntax.
    words = [w.replace('"', '""') for w in text.split()]
    return " ".join(f'"{w}"' for w in words)


def search_runs(conn: Conn, text: str, *, limit: int = 20) -> list[dict[str, Any]]:
    """Runs whose prompt or answer contain every word of ``text``, best match first, each
    with a ``snippet`` around the match."""
    query = _fts_query(text)
    if not query:
        raise UsageError("--search needs some text to look for")
    if dialect(conn) == "postgres":
        return _with_short_ids(conn, _search_postgres(conn, text.split(), limit))
    rows = conn.execute(
        f"SELECT {_summary_columns('r')}, snippet(runs_fts, -1, '[', ']', '...', 12) "
        "FROM runs_fts JOIN runs r ON r.rowid = runs_fts.rowid "
        "WHERE runs_fts MATCH ? ORDER BY rank LIMIT ?",
        (query, limit),
    ).fetchall()
    found = []
    for row in rows:
        summary = _summary(row[:-1])
        summary["snippet"] = row[-1]
        found.append(summary)
    return _with_short_ids(conn, found)


def _search_postgres(conn: Conn, words: list[str], limit: int) -> list[dict[str, Any]]:
    """search_runs without FTS: every word in the prompt or the answer (ILIKE), the latest
    first, the snippet cut around the first word found."""
    where, params = [], []
    for word in words:
        pattern = "%" + _like_escape(word) + "%"
        where.append("(prompt ILIKE ? ESCAPE '\\' OR answer ILIKE ? ESCAPE '\\')")
        params += [pattern, pattern]
    rows = conn.execute(
        f"SELECT {_SUMMARY}, prompt, answer FROM runs WHERE {' AND '.join(where)} "
        "ORDER BY time DESC LIMIT ?",
        [*params, limit],
    ).fetchall()
    found = []
    for row in rows:
        summary = _summary(row[:-2])
        summary["snippet"] = _snippet(f"{row[-2] or ''} {row[-1] or ''}", words[0])
        found.append(summary)
    return found


def _snippet(text: str, word: str, around: int = 40) -> str:
    at = text.lower().find(word.lower())
    if at < 0:
        return text[: 2 * around]
    start, end = max(at - around, 0), at + len(word) + around
    core = f"{text[start:at]}[{text[at : at + len(word)]}]{text[at + len(word) : end]}"
    return ("..." if start else "") + core + ("..." if end < len(text) else "")


def get_run(conn: Conn, run_id: str) -> dict[str, Any]:
    """One run in full: summary, request, result, transcript, its calls and fragments.

    A unique prefix of the id is enough. Raises UsageError for no match or several.
    """
    matches = conn.execute(
        "SELECT id FROM runs WHERE id = ? UNION ALL "
        "SELECT id FROM runs WHERE id LIKE ? ESCAPE '\\' AND id != ? LIMIT 3",
        (run_id, _like_prefix(run_id), run_id),
    ).fetchall()
    if not matches:
        raise UsageError(f"no run {run_id!r} in the ledger; `superllm log` lists runs")
    if matches[0][0] != run_id and len(matches) > 1:
        raise UsageError(f"{run_id!r} matches several runs; give more of the id")
    full_id = matches[0][0]
    row = conn.execute(
        f"SELECT {_SUMMARY}, prompt, answer, request, result, transcript FROM runs WHERE id = ?",
        (full_id,),
    ).fetchone()
    out = _summary(row[:-5])
    out["prompt"], out["answer"] = row[-5], row[-4]
    for key, raw in zip(("request", "result", "transcript"), row[-3:], strict=True):
        out[key] = json.loads(raw) if raw else None
    if isinstance(out["request"], dict) and out["prompt"] is not None:
        out["request"].setdefault("prompt", out["prompt"])  # stored once, in runs.prompt
    call_keys = [
        "call_id",
        "time",
        "ended",
        "provider",
        "model",
        "participant",
        "role",
        "round",
        "attempt",
        "input_tokens",
        "output_tokens",
        "cached_tokens",
        "cost_usd",
        "unpriced",
        "latency_ms",
        "status",
        "error_code",
    ]
    out["calls"] = [
        dict(zip(call_keys, r, strict=True))
        for r in conn.execute(
            f"SELECT {', '.join(k if k != 'call_id' else 'id' for k in call_keys)} FROM calls "
            "WHERE run_id = ? ORDER BY time, attempt",
            (full_id,),
        )
    ]
    out["fragments"] = [
        {"hash": h, "size": s}
        for h, s in conn.execute(
            "SELECT f.hash, f.size FROM run_fragments rf JOIN fragments f ON f.hash = rf.hash "
            "WHERE rf.run_id = ? ORDER BY rf.position",
            (full_id,),
        )
    ]
    return out


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _like_prefix(text: str) -> str:
    return _like_escape(text) + "%"


def last_conversation(conn: Conn, owner: str | None = None) -> str | None:
    """The most recently updated conversation of ``owner`` (a gateway token's name; None for
    the socket's own user)."""
    row = conn.execute(
        "SELECT c.id FROM conversations c WHERE EXISTS (SELECT 1 FROM runs r "
        "WHERE r.conversation_id = c.id AND r.token IS NOT DISTINCT FROM ?) "
        "ORDER BY c.updated DESC LIMIT 1",
        (owner,),
    ).fetchone()
    return None if row is None else str(row[0])


def conversation_owner(conn: Conn, conversation_id: str) -> tuple[str | None]:
    """``(token,)``: who holds a conversation, the token of its first run (None: the socket's
    user). A conversation with no run yet belongs to the socket's user."""
    row = conn.execute(
        "SELECT token FROM runs WHERE conversation_id = ? ORDER BY time LIMIT 1",
        (conversation_id,),
    ).fetchone()
    return (None,) if row is None else (None if row[0] is None else str(row[0]),)


def conversation_model(conn: Conn, conversation_id: str) -> str | None:
    """The model a conversation was last held with (None if unknown or not recorded)."""
    row = conn.execute(
        "SELECT model FROM conversations WHERE id = ?", (conversation_id,)
    ).fetchone()
    return None if row is None or row[0] is None else str(row[0])


def conversation_messages(conn: Conn, conversation_id: str) -> list[tuple[str, str | None]] | None:
    """(role, content) in order, or None if there is no such conversation. Content is None
    where it was not stored (``log_prompts = false``)."""
    known = conn.execute("SELECT 1 FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
    if known is None:
        return None
    rows = conn.execute(
        "SELECT m.role, m.content, m.from_run, m.run_id, r.prompt, r.answer FROM messages m "
        "LEFT JOIN runs r ON r.id = m.run_id AND m.from_run = 1 "
        "WHERE m.conversation_id = ? ORDER BY m.id",
        (conversation_id,),
    ).fetchall()
    out: list[tuple[str, str | None]] = []
    for role, stored, from_run, run_id, prompt, answer in rows:
        content = stored
        if from_run:
            content = answer if role == "assistant" else _with_fragments(conn, run_id, prompt)
        out.append((str(role), content))
    return out


def _with_fragments(conn: Conn, run_id: str, prompt: str | None) -> str | None:
    """A run's prompt as it was sent: its fragments first, each followed by a blank line."""
    if prompt is None:
        return None
    texts = [
        text
        for (text,) in conn.execute(
            "SELECT f.content FROM run_fragments rf JOIN fragments f ON f.hash = rf.hash "
            "WHERE rf.run_id = ? ORDER BY rf.position",
            (run_id,),
        )
    ]
    if any(text is None for text in texts):
        return None  # a fragment's text was not kept
    return "\n\n".join([*texts, prompt])


def list_conversations(conn: Conn, *, limit: int = 20) -> list[dict[str, Any]]:
    keys = ("conversation_id", "created", "updated", "mode", "model", "label", "title", "messages")
    rows = conn.execute(
        "SELECT c.id, c.created, c.updated, c.mode, c.model, c.label, c.title, "
        "(SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id) "
        "FROM conversations c ORDER BY c.updated DESC LIMIT ?",
        (limit,),
    ).fetchall()
    return [dict(zip(keys, r, strict=True)) for r in rows]


def cache_get(conn: Conn, key: str, not_before: float) -> tuple[Any, ...] | None:
    """(text, input, output, cached tokens, finish_reason, response_model) of a cached
    response stored at or after ``not_before``, or None."""
    row: tuple[Any, ...] | None = conn.execute(
        "SELECT text, input_tokens, output_tokens, cached_tokens, finish_reason, response_model "
        "FROM response_cache WHERE key = ? AND time >= ?",
        (key, not_before),
    ).fetchone()
    return row
