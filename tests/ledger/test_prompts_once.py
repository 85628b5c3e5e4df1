"""Each prompt is stored once (migration 5): the run row holds it, everything else refers."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from superllmd.ledger import history
from superllmd.ledger.migrations import latest_version, migrate, user_version
from tests.fakes.openai import FakeOpenAI
from tests.ledger.test_recorder import World

PROMPT = "zebra quartz prompt " * 50
FRAGMENT = "a fragment of context, kept in fragments"


def _occurrences(conn: sqlite3.Connection, needle: str, skip: frozenset[str] = frozenset()) -> int:
    """How many text cells of the ledger's own tables (not the search index, not the columns
    in ``skip``) contain ``needle``."""
    found = 0
    tables = [
        r[0]
        for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        if not r[0].startswith("runs_fts") and r[0] != "sqlite_sequence"
    ]
    for table in tables:
        columns = [r[1] for r in conn.execute(f"PRAGMA table_info('{table}')")]
        for column in [c for c in columns if c not in skip]:
            found += conn.execute(
                f"SELECT COUNT(*) FROM {table} WHERE instr(CAST({column} AS TEXT), ?) > 0",
                (needle,),
            ).fetchone()[0]
    return int(found)


def _v4_database(path: Path) -> sqlite3.Connection:
    """A ledger of schema 4 with rows as the code of that version wrote them."""
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, target=4)
    runs = [
        ("r-plain", PROMPT, "the answer", None),
        ("r-frag", "with a fragment", "second answer", FRAGMENT),
        ("r-private", None, None, None),  # log_prompts = false
    ]
    conn.execute(
        "INSERT INTO conversations (id, created, updated, mode) VALUES ('c1', 1, 1, 'ask')"
    )
    for n, (run_id, prompt, answer, fragment) in enumerate(runs):
        request = {"prompt": prompt, "temperature": 0.5} if prompt else {"temperature": 0.5}
        conn.execute(
            "INSERT INTO runs (id, time, mode, prompt, answer, status, request, conversation_id) "
            "VALUES (?, ?, 'ask', ?, ?, 'ok', ?, 'c1')",
            (run_id, n, prompt, answer, json.dumps(request)),
        )
        sent = prompt
        if fragment is not None:
            conn.execute(
                "INSERT INTO fragments (hash, created, size, content) VALUES ('h1', 1, 1, ?)",
                (fragment,),
            )
            conn.execute("INSERT INTO run_fragments VALUES (?, 'h1', 0)", (run_id,))
            sent = f"{fragment}\n\n{prompt}"
        for role, content in (("user", sent), ("assistant", answer)):
            conn.execute(
                "INSERT INTO messages (conversation_id, run_id, time, role, content) "
                "VALUES ('c1', ?, ?, ?, ?)",
                (run_id, n, role, content),
            )
    return conn


def test_migration_5_folds_stored_copies_into_references(tmp_path: Path) -> None:
    conn = _v4_database(tmp_path / "ledger.sqlite3")
    before = conn.execute("SELECT role, content FROM messages ORDER BY id").fetchall()
    assert _occurrences(conn, PROMPT) == 3  # runs.prompt, runs.request, messages.content
    assert migrate(conn) == list(range(5, latest_version() + 1))
    assert user_version(conn) == latest_version()
    assert _occurrences(conn, PROMPT) == 1
    # The conversation reads back exactly as before, fragments and unkept text included.
    assert history.conversation_messages(conn, "c1") == before
    assert before[0] == ("user", PROMPT) and before[2] == ("user", f"{FRAGMENT}\n\nwith a fragment")
    assert before[4] == ("user", None)
    # A user turn of a run with fragments is not folded (its text stays exact).
    assert conn.execute(
        "SELECT from_run FROM messages WHERE run_id = 'r-frag' AND role = 'user'"
    ).fetchone() == (0,)
    shown = history.get_run(conn, "r-plain")
    assert shown["request"] == {"prompt": PROMPT, "temperature": 0.5}
    assert history.get_run(conn, "r-private")["request"] == {"temperature": 0.5}
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI(delay=0.01).start()
    try:
        yield server
    finally:
        server.stop()


def test_a_new_run_stores_its_prompt_once(tmp_path: Path, fake: FakeOpenAI) -> None:
    w = World(tmp_path, fake)
    try:
        first = asyncio.run(w.ask({"prompt": PROMPT, "fragments": [FRAGMENT]}, model="gpt-4o"))
        asyncio.run(w.ask({"prompt": "and then?", "continue_last": True}, model="gpt-4o"))
    finally:
        w.close()
    conn = sqlite3.connect(tmp_path / "ledger.sqlite3")
    # The fake echoes the prompt back: the columns holding the answer hold it too.
    answers = frozenset({"answer", "result", "transcript", "text"})
    try:
        assert _occurrences(conn, PROMPT, answers) == 1
        assert _occurrences(conn, FRAGMENT, answers) == 1
        cid = first["conversation_id"]
        messages = history.conversation_messages(conn, cid)
        assert [m[0] for m in messages] == ["user", "assistant", "user", "assistant"]
        assert messages[0] == ("user", f"{FRAGMENT}\n\n{PROMPT}")
        assert messages[2] == ("user", "and then?")
        assert history.get_run(conn, first["run_id"])["request"]["prompt"] == PROMPT
    finally:
        conn.close()
    # The second turn was sent the first one whole, as read back.
    sent = fake.chat_requests()[-1]["messages"]
    assert sent[0] == {"role": "user", "content": f"{FRAGMENT}\n\n{PROMPT}"}
