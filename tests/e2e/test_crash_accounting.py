"""Runs and calls cut short are still counted: their run row exists from the start, an
abandoned stream's tokens are recorded, and after kill -9 the run is listed as interrupted
with the calls and cost it had."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from superllm_cli.client import Client
from tests.e2e.conftest import Cli, daemon_pids, write_config


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
    # The run is finished as interrupted, with what its call used, while the daemon runs on.
    run = _until(
        lambda: _query(
            home,
            "SELECT status, error_code, input_tokens, output_tokens FROM runs "
            "WHERE id = ? AND status != 'running'",
            run_id,
        ),
        "the run marked interrupted",
    )
    assert run == [("interrupted", "client_gone", input_tokens, output_tokens)]


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


STALLED, FINISHED = 8, 4


def test_kill_9_under_streaming_load_keeps_the_usage_of_answered_calls(
    home: Path, env: dict[str, str], cli: Cli
) -> None:
    """Twelve streams at once, eight stalled mid-answer and four finished, then kill -9: every
    call the upstream had answered has its tokens and its cost in the ledger, and every run is
    listed with them."""
    config = home / "config" / "config.toml"
    prices = '[prices."fake/stall"]\ninput = 1.0\noutput = 2.0\n'
    prices += '[prices."fake/echo"]\ninput = 1.0\noutput = 2.0\n'
    write_config(home, config.read_text() + prices)
    seen: dict[str, str] = {}  # run id -> the last event type its client saw
    lock = threading.Lock()
    keep: list[Any] = []  # the stalled streams stay open until the kill

    def stream(model: str, n: int) -> None:
        client = Client(environ=env)
        events = client.events(
            "POST", "/v1/ask", {"prompt": f"tell me more, stream {n}", "model": model}
        )
        keep.append(events)
        for event in events:
            with lock:
                seen[event["run_id"]] = event["type"]
            if event["type"] in ("delta", "run.finished") and model == "fake/stall":
                return

    threads = [
        threading.Thread(target=stream, args=("fake/stall" if n < STALLED else "fake/echo", n))
        for n in range(STALLED + FINISHED)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(seen) == STALLED + FINISHED
    assert sorted(seen.values()) == ["delta"] * STALLED + ["run.finished"] * FINISHED
    for pid in daemon_pids(home):
        os.kill(pid, signal.SIGKILL)
    _until(lambda: not daemon_pids(home), "the daemon gone")
    assert cli("log", "--json").returncode == 0  # a new daemon recovers the ledger
    calls = _query(
        home,
        "SELECT run_id, status, input_tokens, output_tokens, cost_usd FROM calls "
        f"WHERE run_id IN ({', '.join('?' * len(seen))})",
        *seen,
    )
    assert len(calls) == STALLED + FINISHED
    for run_id, status, input_tokens, output_tokens, cost in calls:
        expected = "interrupted" if seen[run_id] == "delta" else "ok"
        assert status == expected, (run_id, status)
        assert input_tokens >= 1 and output_tokens >= 1, (run_id, status)
        assert cost is not None and cost > 0, (run_id, status)
    runs = _query(
        home,
        f"SELECT id, status, cost_usd, prompt FROM runs WHERE id IN ({', '.join('?' * len(seen))})",
        *seen,
    )
    assert len(runs) == STALLED + FINISHED
    for run_id, status, cost, prompt in runs:
        assert status == ("interrupted" if seen[run_id] == "delta" else "ok"), run_id
        assert cost is not None and cost > 0 and prompt.startswith("tell me more"), run_id
