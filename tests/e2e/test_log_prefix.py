"""`superllm log` prints each run's shortest unique id prefix, and takes it back."""

from __future__ import annotations

import json

from tests.e2e.conftest import Cli


def test_log_prints_the_shortest_unique_prefix_and_accepts_it(cli: Cli) -> None:
    for n in range(4):  # started within a second: their ids share a long time prefix
        assert cli("ask", "-m", "fake/echo", f"question {n}").returncode == 0
    full = [r["run_id"] for r in json.loads(cli("log", "--json").stdout)]
    listed = cli("log")
    assert listed.returncode == 0, listed.stderr
    shown = [line.split()[0] for line in listed.stdout.splitlines()[1:]]
    assert len(shown) == 4 and len(set(shown)) == 4
    for prefix, run_id in zip(shown, full, strict=True):
        assert run_id.startswith(prefix) and len(prefix) < len(run_id)
        # Unique: no other run starts with it; shortest: one character less is ambiguous
        # (or below the 7-character floor).
        assert [r for r in full if r.startswith(prefix)] == [run_id]
        assert len(prefix) == 7 or sum(r.startswith(prefix[:-1]) for r in full) > 1
        one = cli("log", "--json", prefix)
        assert one.returncode == 0, one.stderr
        assert json.loads(one.stdout)["run_id"] == run_id
