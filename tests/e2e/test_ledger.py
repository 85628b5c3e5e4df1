"""The ledger under abuse: kill -9 with 200 calls in flight, and 50 CLIs at once.

What must hold (issue 5, point 8): the file always opens and passes SQLite's integrity check,
no row is half-written, every call whose answer a client received before the kill is there,
the calls cut short are marked interrupted, and parallel clients never see a lock error.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from superllm_cli.client import Client
from tests.e2e.conftest import SUPERLLM, Cli, daemon_pids

IN_FLIGHT = 200
ROUNDS = 10
ANSWERED_BEFORE_KILL = 40
#: Of the 200, calls to ``fake/stall`` that stream a word and then hang: the kill always
#: finds them in flight, however fast or slow the machine is.
STALLED = 5
#: Only a hung daemon takes this long; the test waits for states, not for times.
PATIENCE = 300.0


def _ledger(home: Path) -> sqlite3.Connection:
    return sqlite3.connect(home / "data" / "ledger.sqlite3", isolation_level=None)


class _Seen:
    """What the clients have seen so far, and a condition to wait on it."""

    def __init__(self) -> None:
        self.received: list[str] = []  # run ids whose answer arrived
        self.stalled = 0  # stalled calls that have streamed their first word
        self.changed = threading.Condition()

    def wait(self, ready: Callable[[], bool], what: str) -> None:
        with self.changed:
            assert self.changed.wait_for(ready, PATIENCE), f"never saw {what}"


def _drive(client: Client, seen: _Seen, i: int) -> None:
    # 1 to 20 words, streamed a word every 50 ms by fake/slow: answers land over a second.
    model = "fake/stall" if i < STALLED else "fake/slow"
    body = {"prompt": " ".join(f"w{i}x{j}" for j in range(1 + i % 20)), "model": model}
    counted = False
    with contextlib.suppress(Exception):  # the daemon dies under us: that is the point
        for event in client.events("POST", "/v1/ask", body):
            with seen.changed:
                if event["type"] == "message":
                    seen.received.append(event["run_id"])
                elif event["type"] == "delta" and i < STALLED and not counted:
                    seen.stalled += 1
                    counted = True
                seen.changed.notify_all()
        # A stalled call's stream stays open (closing it would cancel the call) until the
        # kill cuts it.


def _stalled_on_disk(home: Path) -> int:
    """Stalled calls whose in_flight row is committed (they never settle, so it stays)."""
    conn = _ledger(home)
    try:
        query = "SELECT COUNT(*) FROM calls WHERE status = 'in_flight' AND model = 'stall'"
        return int(conn.execute(query).fetchone()[0])
    finally:
        conn.close()


def _kill_with_calls_in_flight(home: Path, env: dict[str, str]) -> list[str]:
    """Start a daemon, put 200 streaming calls through it, kill -9 it once some have been
    answered; the run ids whose answers the clients received."""
    Client(environ=env).start()
    # The drivers never start a daemon: one whose request the kill cut before its answer
    # began would otherwise start a new daemon and resend, and that daemon's start would
    # settle the rows this round checks (it did, on a loaded machine).
    client = Client(environ=env, autostart=False)
    seen = _Seen()
    threads = [
        threading.Thread(target=_drive, args=(client, seen, i), daemon=True)
        for i in range(IN_FLIGHT)
    ]
    for t in threads:
        t.start()
    seen.wait(lambda: len(seen.received) >= ANSWERED_BEFORE_KILL, "40 answers")
    seen.wait(lambda: seen.stalled == STALLED, "every stalled call streaming")
    # The stalled calls' in_flight rows are committed (a row is queued when its attempt
    # starts), so the kill is sure to leave some behind for the next start to settle.
    deadline = time.monotonic() + PATIENCE
    while _stalled_on_disk(home) < STALLED:
        assert time.monotonic() < deadline, "the stalled calls never reached the ledger"
        time.sleep(0.01)
    for pid in daemon_pids(home):
        os.kill(pid, signal.SIGKILL)
    for t in threads:
        t.join(10)
    with seen.changed:
        return list(seen.received)


def _check(home: Path, received: list[str]) -> dict[str, int]:
    conn = _ledger(home)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows: list[Any] = conn.execute(
            "SELECT run_id, status, ended, latency_ms, output_tokens FROM calls"
        ).fetchall()
    finally:
        conn.close()
    settled_ok = {run_id for run_id, status, *_ in rows if status == "ok"}
    missing = set(received) - settled_ok
    assert not missing, f"{len(missing)} answered calls are not in the ledger"
    for _run_id, status, ended, latency, tokens in rows:
        assert status in ("in_flight", "ok", "interrupted", "error"), status
        if status == "ok":  # a settled row is whole
            assert ended is not None and latency is not None and tokens > 0
    counts: dict[str, int] = {}
    for _, status, *_ in rows:
        counts[status] = counts.get(status, 0) + 1
    return counts


def test_kill_9_with_200_calls_in_flight_ten_times(home: Path, env: dict[str, str]) -> None:
    left_in_flight = 0
    for _ in range(ROUNDS):
        received = _kill_with_calls_in_flight(home, env)
        assert len(received) >= ANSWERED_BEFORE_KILL
        counts = _check(home, received)
        # The previous round's cut calls were marked when this round's daemon started.
        assert counts.get("interrupted", 0) >= left_in_flight
        left_in_flight = counts.get("in_flight", 0)
        assert left_in_flight >= STALLED, "the kill should have caught calls in flight"
    Client(environ=env).start()  # one more start settles the last round's
    counts = _check(home, [])
    assert counts.get("in_flight", 0) == 0
    assert counts["interrupted"] >= ROUNDS  # at least one per round, in practice ~150


def test_fifty_clis_at_once_through_xargs(home: Path, env: dict[str, str], cli: Cli) -> None:
    # No daemon yet: the fifty race to start one, as a cron burst would. --json prints each
    # result in one write, so fifty processes sharing a pipe cannot interleave their lines.
    result = subprocess.run(
        f"seq 50 | xargs -P 50 -I{{}} {SUPERLLM} ask --json -m fake/echo 'question {{}}'",
        shell=True,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    assert "lock" not in result.stderr.lower()
    answers = sorted(json.loads(line)["answer"] for line in result.stdout.splitlines())
    assert answers == sorted(f"echo: question {n}" for n in range(1, 51))
    conn = _ledger(home)
    try:
        assert conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 50
        assert conn.execute("SELECT COUNT(*) FROM calls WHERE status = 'ok'").fetchone()[0] == 50
    finally:
        conn.close()
    daemon_log = (home / "state" / "superllmd.log").read_text()
    assert "ledger:" not in daemon_log and "locked" not in daemon_log  # no write was dropped
    listed = cli("log", "--json", "-n", "100")
    assert listed.returncode == 0, listed.stderr
    assert len(json.loads(listed.stdout)) == 50
