"""Runs and calls cut short are still counted: their run row exists from the start, an
abandoned stream's tokens are recorded, and after kill -9 the run is listed as interrupted
with the calls and cost it had."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from superllm_cli.client import Client
from tests.e2e.conftest import Cli, daemon_pids


def _query(home: Path, sql: str, *args: Any) -> list[Any]:
    conn = sqlite3.connect(home / "data" / "ledger.sqlite3", isolation_level=None)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def _until(check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"never saw {what}")


def _stalled_run(env: dict[str, str]) -> tuple[Client, Any, str]:
    """A streamed ask to fake/stall (a word, then silence), read up to its first delta."""
    client = Client(environ=env)
    events = client.events("POST", "/v1/ask", {"prompt": "tell me more", "model": "fake/stall"})
    run_id = ""
    for event in events:
        run_id = event["run_id"]
        if event["type"] == "delta":
            break
    return client, events, run_id


def test_an_abandoned_stream_counts_its_tokens_and_has_a_run_row(
    home: Path, env: dict[str, str]
) -> None:
    _client, events, run_id = _stalled_run(env)
    # The run is listed while it runs.
    running = _until(
        lambda: _query(home, "SELECT status FROM runs WHERE id = ?", run_id), "the run row"
    )
    assert running[0][0] == "running"
    events.close()  # the client goes away (Ctrl-C): the daemon cancels the call
    row = _until(
        lambda: _query(
            home,
            "SELECT input_tokens, output_tokens FROM calls WHERE run_id = ? "
            "AND status = 'interrupted'",
            run_id,
        ),
        "the interrupted call",
    )
    input_tokens, output_tokens = row[0]
    assert input_tokens >= 1 and output_tokens >= 1  # the prompt and the word it streamed


def test_after_kill_9_the_run_is_interrupted_with_its_calls(
    home: Path, env: dict[str, str], cli: Cli
) -> None:
    _client, _events, run_id = _stalled_run(env)
    _until(
        lambda: _query(
            home, "SELECT 1 FROM calls WHERE run_id = ? AND status = 'in_flight'", run_id
        ),
        "the in-flight call on disk",
    )
    for pid in daemon_pids(home):
        os.kill(pid, signal.SIGKILL)
    _until(lambda: not daemon_pids(home), "the daemon gone")
    listed = cli("log", "--json")  # starts a daemon, which recovers the ledger
    assert listed.returncode == 0, listed.stderr
    runs = json.loads(listed.stdout)
    runs = runs.get("runs", runs) if isinstance(runs, dict) else runs
    mine = [r for r in runs if r.get("id", r.get("run_id")) == run_id]
    assert mine and mine[0]["status"] == "interrupted", runs
    calls = _query(home, "SELECT status FROM calls WHERE run_id = ?", run_id)
    assert calls == [("interrupted",)]
