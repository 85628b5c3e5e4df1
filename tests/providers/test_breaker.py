"""The circuit breaker: a provider failing again and again is cooled down, skipped by
fallback chains, and tried again with one call after a pause."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from superllmd.api import create_app
from superllmd.paths import get_paths
from superllmd.providers.breaker import CircuitBreaker
from superllmd.state import DaemonState
from tests.fakes.openai import FakeOpenAI


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_it_opens_after_threshold_failures_in_a_row() -> None:
    breaker = CircuitBreaker(threshold=3, cooldown=30, clock=Clock())
    for _ in range(2):
        breaker.record("p", ok=False)
    assert breaker.state("p") == "closed" and not breaker.skips("p")
    breaker.record("p", ok=True)  # a success resets the count
    for _ in range(2):
        breaker.record("p", ok=False)
    assert breaker.state("p") == "closed"
    breaker.record("p", ok=False)
    assert breaker.state("p") == "open" and breaker.skips("p")
    assert breaker.state("other") == "closed"  # per provider
    assert breaker.snapshot()["p"] == {
        "state": "open",
        "failures": 3,
        "trips": 1,
        "retry_in_s": 30.0,
    }


def test_after_the_pause_one_trial_call_closes_or_reopens_it() -> None:
    clock = Clock()
    breaker = CircuitBreaker(threshold=1, cooldown=10, clock=clock)
    breaker.record("p", ok=False)
    clock.now += 9.9
    assert breaker.state("p") == "open"
    clock.now += 0.2
    assert breaker.state("p") == "half_open" and not breaker.skips("p")
    breaker._circuits["p"].probing = True  # what before_call does for the trial call
    assert breaker.skips("p")  # only one trial at a time
    breaker.record("p", ok=False)  # the trial failed: open again, a new pause
    assert breaker.state("p") == "open" and breaker.snapshot()["p"]["trips"] == 2
    clock.now += 10.1
    assert breaker.state("p") == "half_open"
    breaker.record("p", ok=True)
    assert breaker.state("p") == "closed" and breaker.snapshot()["p"]["failures"] == 0


@pytest.fixture
def client(short_home: Path, fake_openai: FakeOpenAI) -> Iterator[TestClient]:
    config = short_home / "config" / "config.toml"
    config.parent.mkdir(mode=0o700, parents=True)
    config.write_text(
        '[aliases]\nchain = ["flaky/error-503", "steady/echo"]\n'
        "[daemon]\nbreaker_threshold = 2\nbreaker_cooldown = 3600\n"
        f'[providers.flaky]\nkind = "openai-compatible"\nbase_url = "{fake_openai.base_url}"\n'
        f'[providers.steady]\nkind = "openai-compatible"\nbase_url = "{fake_openai.base_url}"\n'
    )
    state = DaemonState.create(get_paths({"SUPERLLM_HOME": str(short_home)}), use_keyring=False)
    with TestClient(create_app(state), raise_server_exceptions=False) as test_client:
        yield test_client


def _flaky_calls(fake: FakeOpenAI) -> int:
    return sum(1 for r in fake.chat_requests() if r.get("model") == "error-503")


def test_a_chain_skips_a_provider_whose_circuit_is_open(
    client: TestClient, fake_openai: FakeOpenAI
) -> None:
    before = _flaky_calls(fake_openai)
    first = client.post("/v1/ask", json={"prompt": "hi", "model": "chain"})
    assert first.status_code == 200 and first.json()["answer"] == "echo: hi"
    tried = _flaky_calls(fake_openai) - before
    assert tried >= 2  # its retries failed too: the circuit opened
    health = client.get("/v1/health").json()
    assert health["circuits"]["flaky"]["state"] == "open"
    assert health["circuits"]["steady"]["state"] == "closed"
    second = client.post("/v1/ask", json={"prompt": "again", "model": "chain"})
    assert second.status_code == 200 and second.json()["answer"] == "echo: again"
    assert _flaky_calls(fake_openai) - before == tried  # skipped: not called again
    assert [p["model"] for p in second.json()["participants"]] == ["steady/echo"]
    rows = {r["id"]: r for r in client.get("/v1/providers").json()}
    assert rows["flaky"]["circuit"]["state"] == "open"
    # Named on its own (no chain to fall back on), the provider is still called.
    alone = client.post("/v1/ask", json={"prompt": "alone", "model": "flaky/error-503"})
    assert alone.status_code != 200 and _flaky_calls(fake_openai) - before > tried


def test_providers_list_shows_a_cooling_provider() -> None:
    from superllm_cli.commands.providers import format_table

    base = {"kind": "openai-compatible", "configured": True, "key_env": [], "base_url": "u"}
    rows = [
        {**base, "id": "a", "circuit": {"state": "open", "retry_in_s": 12.5}},
        {**base, "id": "b", "circuit": {"state": "half_open"}},
        {**base, "id": "c", "circuit": {"state": "closed"}},
    ]
    lines = format_table(rows)
    assert "cooling (12.5s)" in lines[1] and "trial" in lines[2] and " yes " in lines[3]
