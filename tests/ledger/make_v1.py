"""Write tests/ledger/data/ledger-v1.sqlite3: a ledger of the first schema, with some rows.

Run once when the first schema shipped; the file is checked in and upgraded by the tests on
every run (STYLE.md habit 7), so a migration that loses or mangles old rows fails CI. The
test suite also reruns this script into a temporary folder and compares the dump with the
checked-in file, so the two cannot drift apart silently.

    python -m tests.ledger.make_v1 [PATH]
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

from superllmd.ledger.migrations import migrate

DEFAULT = Path(__file__).parent / "data" / "ledger-v1.sqlite3"
T0 = 1735732800.0  # 2025-01-01T12:00:00Z

RUNS = [
    # id, time, mode, label, participants, prompt, answer, tokens in/out/cached, cost, status
    (
        "r-v1-ask",
        T0,
        "ask",
        None,
        ["openai/gpt-4.1-mini"],
        "What is the capital of France?",
        "Paris.",
        9,
        2,
        0,
        0.0000068,
        "ok",
    ),
    (
        "r-v1-consensus",
        T0 + 60,
        "consensus",
        "nightly",
        ["openai/gpt-4.1", "fake/echo"],
        "Is 91 prime?",
        "no",
        30,
        6,
        8,
        None,
        "ok",
    ),
    (
        "r-v1-error",
        T0 + 86400,
        "ask",
        None,
        ["openai/gpt-4.1-mini"],
        "hello",
        None,
        0,
        0,
        0,
        0.0,
        "error",
    ),
]
CALLS = [
    # id, time, run, mode, provider, model, in, out, cached, cost, unpriced, status, error
    ("c-v1-1", T0, "r-v1-ask", "ask", "openai", "gpt-4.1-mini", 9, 2, 0, 0.0000068, 0, "ok", None),
    (
        "c-v1-2",
        T0 + 60,
        "r-v1-consensus",
        "consensus",
        "openai",
        "gpt-4.1",
        15,
        3,
        8,
        0.00004,
        0,
        "ok",
        None,
    ),
    (
        "c-v1-3",
        T0 + 60,
        "r-v1-consensus",
        "consensus",
        "fake",
        "echo",
        15,
        3,
        0,
        None,
        1,
        "ok",
        None,
    ),
    (
        "c-v1-4",
        T0 + 86400,
        "r-v1-error",
        "ask",
        "openai",
        "gpt-4.1-mini",
        0,
        0,
        0,
        None,
        0,
        "error",
        "server_error",
    ),
    (
        "c-v1-5",
        T0 + 86400,
        "r-v1-error",
        "ask",
        "openai",
        "gpt-4.1-mini",
        0,
        0,
        0,
        None,
        0,
        "in_flight",
        None,
    ),
]


def make(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        migrate(conn, target=1)
        for run_id, t, mode, label, who, prompt, answer, tin, tout, tcached, cost, status in RUNS:
            conn.execute(
                "INSERT INTO runs (id, time, finished, mode, label, conversation_id, "
                "participants, prompt, answer, input_tokens, output_tokens, cached_tokens, "
                "cost_usd, latency_ms, status, request, result, transcript) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    t,
                    t + 1,
                    mode,
                    label,
                    "c-v1" if mode == "ask" else None,
                    json.dumps(who),
                    prompt,
                    answer,
                    tin,
                    tout,
                    tcached,
                    cost,
                    1000,
                    status,
                    json.dumps({"prompt": prompt}),
                    json.dumps({"answer": answer}),
                    "[]",
                ),
            )
        for row in CALLS:
            conn.execute(
                "INSERT INTO calls (id, time, ended, run_id, mode, provider, model, "
                "input_tokens, output_tokens, cached_tokens, cost_usd, unpriced, latency_ms, "
                "status, error_code) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1000, ?, ?)",
                (*row[:2], row[1] + 1, *row[2:]),
            )
        conn.execute(
            "INSERT INTO conversations (id, created, updated, mode) VALUES (?, ?, ?, 'ask')",
            ("c-v1", T0, T0 + 86400),
        )
        for i, (role, text) in enumerate(
            [("user", "What is the capital of France?"), ("assistant", "Paris.")]
        ):
            conn.execute(
                "INSERT INTO messages (conversation_id, run_id, time, role, content) "
                "VALUES ('c-v1', ?, ?, ?, ?)",
                ("r-v1-ask", T0 + i, role, text),
            )
        conn.execute("VACUUM")
    finally:
        conn.close()


if __name__ == "__main__":
    make(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT)
