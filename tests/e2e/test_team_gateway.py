"""A team gateway: two or three real ``superllm serve`` instances, one PostgreSQL ledger.

Each instance has its own SUPERLLM_HOME (socket, config, log) and the same ``[ledger] url``;
the upstream is the fake OpenAI server behind the priced ``openai/gpt-4.1-mini``, with some
latency so that calls overlap. Each instance reaches it with a key of its own, so the fake
can say which instance sent each request. What must hold: one daily budget across all
instances (a race of 64 calls overshoots by at most one call's estimate), nothing a client
was answered is missing from the ledger after a kill -9 and what the killed instance had in
flight is marked interrupted by a survivor once its lease ran out, and a database restart
under load ends with calls either answered and recorded or refused cleanly, the instances
reconnected.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from superllmd.testing.server import FakeRequest, Writer
from tests.e2e.conftest import SUPERLLM, base_env, kill_daemons, write_config
from tests.fakes.openai import FakeOpenAI
from tests.pg import PgServer

pytestmark = pytest.mark.postgres

MODEL = "openai/gpt-4.1-mini"
MAX_TOKENS = 50


class SlowUpstream(FakeOpenAI):
    """The fake OpenAI with a fixed latency per chat request; ``answer_only[key] = n``
    answers that key's first n requests and holds the later ones (until it stops)."""

    latency = 0.15

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.answer_only: dict[str, int] = {}

    async def chat(self, request: FakeRequest, w: Writer) -> None:
        key = request.headers.get("authorization", "").removeprefix("Bearer ")
        if key in self.answer_only:
            earlier = self.requests[: next(i for i, r in enumerate(self.requests) if r is request)]
            if self._chats(earlier, key) >= self.answer_only[key]:
                await asyncio.sleep(3600)
        await asyncio.sleep(self.latency)
        await super().chat(request, w)

    def served_by(self, key: str) -> int:
        return self._chats(self.requests, key)

    @staticmethod
    def _chats(requests: list[FakeRequest], key: str) -> int:
        return sum(
            1
            for r in requests
            if r.path.endswith("/chat/completions")
            and r.headers.get("authorization") == f"Bearer {key}"
        )


@pytest.fixture
def upstream() -> Iterator[SlowUpstream]:
    server = SlowUpstream(delay=0.0).start()
    try:
        yield server
    finally:
        server.stop()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Instance:
    """One ``superllm serve`` process."""

    def __init__(self, name: str, upstream: SlowUpstream, pg_url: str, lease_s: float) -> None:
        self.name = name
        self.key = f"sk-{name}"
        self.home = Path(tempfile.mkdtemp(prefix="slt", dir="/tmp"))
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        write_config(
            self.home,
            f'[providers.openai]\nbase_url = "{upstream.base_url}"\n'
            f'api_key_cmd = "echo {self.key}"\n[ledger]\nurl = "{pg_url}"\nlease_s = {lease_s}\n',
        )
        self.env = base_env(self.home)
        self.process: subprocess.Popen[bytes] | None = None
        self.terminated = False

    def start(self) -> Instance:
        return self.spawn().wait_open()

    def spawn(self) -> Instance:
        assert SUPERLLM
        self.process = subprocess.Popen(
            [SUPERLLM, "serve", "--port", str(self.port)],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return self

    def wait_open(self) -> Instance:
        assert self.process is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
                return self
            assert self.process.poll() is None, f"instance {self.name} exited"
            time.sleep(0.05)
        raise AssertionError(f"instance {self.name} did not open its port")

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        assert SUPERLLM
        return subprocess.run(
            [SUPERLLM, *args], env=self.env, capture_output=True, text=True, timeout=60
        )

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def terminate(self) -> None:
        """Ask it to stop, once (a second SIGTERM would cut its drain short)."""
        if self.process is not None and self.process.poll() is None and not self.terminated:
            self.process.send_signal(signal.SIGTERM)
            self.terminated = True

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
        kill_daemons(self.home)
        import shutil

        shutil.rmtree(self.home, ignore_errors=True)


@pytest.fixture
def lease_s() -> float:
    """The instances' ``[ledger] lease_s`` (a test may parametrize a shorter one)."""
    return 60.0


@pytest.fixture
def team(upstream: SlowUpstream, pg_url: str, lease_s: float) -> Iterator[list[Instance]]:
    instances = [Instance(n, upstream, pg_url, lease_s) for n in ("a", "b", "c")]
    try:
        for instance in instances:  # started together, as a deployment would
            instance.spawn()
        for instance in instances:
            instance.wait_open()
        yield instances
    finally:
        for instance in instances:  # they drain together
            instance.terminate()
        for instance in instances:
            instance.stop()


def _token(instance: Instance, *args: str) -> str:
    created = instance.cli("serve", "token", "create", "team", *args)
    assert created.returncode == 0, created.stderr
    return created.stdout.strip()


def _ask(url: str, token: str, i: int) -> tuple[int, Any]:
    try:
        response = httpx.post(
            f"{url}/v1/chat/completions",
            headers={"authorization": f"Bearer {token}"},
            json={
                "model": MODEL,
                "max_tokens": MAX_TOKENS,
                "messages": [{"role": "user", "content": f"question {i} " + "lorem " * 40}],
            },
            timeout=60,
        )
    except httpx.HTTPError as exc:
        return -1, repr(exc)
    return response.status_code, response.json()


def _ledger(pg_url: str, sql: str) -> Any:
    with psycopg.connect(pg_url) as conn:
        return conn.execute(sql).fetchone()


def _each_estimate() -> float:
    """One call's worst case, as the budget reserves it (input bound, MAX_TOKENS out)."""
    from pathlib import Path as P

    from superllmd.budget import BudgetManager
    from superllmd.config import ProviderSettings
    from superllmd.orchestrator.hooks import CallInfo, RunInfo
    from superllmd.providers._http import HttpClients
    from superllmd.providers.base import ChatRequest, KindContext, Message
    from superllmd.providers.keys import KeyResolver
    from superllmd.providers.openai import OpenAIKind
    from superllmd.providers.registry import Target

    kind = OpenAIKind(KindContext(HttpClients(), KeyResolver(use_keyring=False), P("/x")))
    target = Target(
        kind.create("openai", ProviderSettings(base_url="http://x/v1"), {"OPENAI_API_KEY": "x"}),
        "gpt-4.1-mini",
    )
    text = "question 63 " + "lorem " * 40
    request = ChatRequest("gpt-4.1-mini", (Message("user", text),), max_tokens=MAX_TOKENS)
    each = BudgetManager.estimate(CallInfo(RunInfo("p", "ask"), target, request, "p", "p", 0, 1))
    assert each is not None
    return each


def test_a_budget_race_of_64_calls_over_three_instances(
    team: list[Instance], upstream: SlowUpstream, pg_url: str
) -> None:
    each = _each_estimate()
    limit = 10.5 * each
    token = _token(team[0], "--budget-daily", f"{limit:.10f}")
    # One call on each instance first, so that every instance takes part (which of them
    # wins the race's places is up to timing: on a slow machine one may win none).
    for i, instance in enumerate(team):
        assert _ask(instance.url, token, i)[0] == 200
    with ThreadPoolExecutor(64) as pool:
        results = list(pool.map(lambda i: _ask(team[i % 3].url, token, i), range(3, 64)))
    statuses = [status for status, _ in results]
    assert set(statuses) <= {200, 402}, results
    answered = 3 + statuses.count(200)
    assert answered >= 10  # the budget is used, not refused wholesale
    spent, calls = _ledger(
        pg_url, "SELECT coalesce(sum(cost_usd), 0), count(*) FROM calls WHERE status = 'ok'"
    )
    assert spent <= limit + each, f"spent {spent} of {limit} (+{each})"
    # The ledger has exactly what the fake served, and each instance sent upstream just
    # the calls it answered.
    for n, instance in enumerate(team):
        mine = [status for i, status in enumerate(statuses, start=3) if i % 3 == n]
        assert upstream.served_by(instance.key) == 1 + mine.count(200), instance.name
    assert calls == answered == sum(upstream.served_by(i.key) for i in team)
    assert _ledger(pg_url, "SELECT count(*) FROM reservations") == (0,)


def _rows(pg_url: str, sql: str, *params: Any) -> list[Any]:
    with psycopg.connect(pg_url) as conn:
        return conn.execute(sql, params).fetchall()


def _until(what: str, check: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"still not {what} after {timeout} s"
        time.sleep(0.05)


@pytest.mark.parametrize("lease_s", [3.0])
def test_kill_9_of_one_instance_under_load_loses_nothing_and_its_calls_end_interrupted(
    team: list[Instance], upstream: SlowUpstream, pg_url: str
) -> None:
    """b is killed while 18 of its calls wait on the upstream (which answers only its first
    six) and a serves on: every answer either gave is in the ledger, and once b's lease ran
    out a marked b's calls in flight interrupted and dropped its budget reservations, so
    the ledger's calls are exactly the requests the upstream had."""
    token = _token(team[0], "--budget-daily", "100")  # each call reserves, in the database
    a, b = team[0], team[1]
    upstream.answer_only[b.key] = 6
    assert b.process is not None
    ((b_name,),) = _rows(pg_url, "SELECT name FROM instances WHERE pid = %s", b.process.pid)
    with ThreadPoolExecutor(48) as pool:
        futures = [pool.submit(_ask, (a, b)[i % 2].url, token, i) for i in range(48)]
        # Every request of b has reached the upstream and has its row in the ledger.
        _until("sent", lambda: upstream.served_by(b.key) == 24)
        count_b = "SELECT count(*) FROM calls WHERE instance = %s"
        _until("recorded", lambda: _rows(pg_url, count_b, b_name) == [(24,)])
        b.kill()
        results = [f.result() for f in futures]
    from_a = [r for i, r in enumerate(results) if i % 2 == 0]
    from_b = [r for i, r in enumerate(results) if i % 2 == 1]
    assert all(status == 200 for status, _ in from_a), from_a
    answered_b = sum(status == 200 for status, _ in from_b)
    assert answered_b <= 6 and sum(status == -1 for status, _ in from_b) >= 18

    # a sweeps once b's lease has run out (a beat is a third of the lease).
    in_flight = "SELECT count(*) FROM calls WHERE status = 'in_flight'"
    _until("swept", lambda: _rows(pg_url, in_flight) == [(0,)])
    by_status = dict(
        _rows(pg_url, "SELECT status, count(*) FROM calls WHERE instance = %s GROUP BY 1", b_name)
    )
    assert by_status.get("ok", 0) >= answered_b and by_status["interrupted"] >= 18
    assert by_status.get("ok", 0) + by_status["interrupted"] == upstream.served_by(b.key)
    assert _rows(pg_url, "SELECT count(*) FROM calls WHERE status = 'ok' AND instance != %s",
                 b_name) == [(upstream.served_by(a.key),)]  # fmt: skip
    # Its reservations stopped counting with its lease, and are dropped a lease later.
    _until("released", lambda: _rows(pg_url, "SELECT count(*) FROM reservations") == [(0,)])

    # usage and log, asked of the survivor, show them: the calls add up to what the upstream
    # served, b's cut-off runs are listed as interrupted.
    usage = json.loads(a.cli("usage", "--json", "--by", "model").stdout)
    served = upstream.served_by(a.key) + upstream.served_by(b.key)
    assert usage["totals"]["calls"] == served == 48
    assert usage["totals"]["errors"] == by_status["interrupted"]
    listed = json.loads(a.cli("log", "--json", "--limit", "100").stdout)
    runs = listed["runs"] if isinstance(listed, dict) else listed
    interrupted = [r for r in runs if r["status"] == "interrupted"]
    assert len(interrupted) == by_status["interrupted"]
    # The survivor still answers.
    assert _ask(a.url, token, 99)[0] == 200


def test_a_database_restart_under_load(
    team: list[Instance], upstream: SlowUpstream, pg_url: str, pg_server: PgServer
) -> None:
    token = _token(team[0], "--budget-daily", "100")
    a, b = team[0], team[1]
    upstream.latency = 0.8  # the restart finds calls on their way to and from the upstream
    with ThreadPoolExecutor(40) as pool:
        futures = [pool.submit(_ask, (a, b)[i % 2].url, token, i) for i in range(40)]
        deadline = time.monotonic() + 30
        while upstream.served_by(a.key) + upstream.served_by(b.key) < 10:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        pg_server.restart("immediate")
        in_flight = sum(not f.done() for f in futures)
        results = [f.result() for f in futures]
    assert in_flight >= 10
    statuses = [status for status, _ in results]
    # Answered, or refused cleanly with an error body (never a dropped connection).
    assert set(statuses) <= {200, 503}, results
    for status, body in results:
        if status == 503:
            assert "ledger database" in body["error"]["message"], body
    answered = statuses.count(200)
    served = upstream.served_by(a.key) + upstream.served_by(b.key)
    ok = _ledger(pg_url, "SELECT count(*) FROM calls WHERE status = 'ok'")[0]
    assert ok == answered == served
    # Both instances reconnected by themselves.
    after = [_ask(i.url, token, 100 + n)[0] for n, i in enumerate((a, b))]
    assert after == [200, 200]


def test_a_tokens_rpm_holds_across_instances(team: list[Instance]) -> None:
    token = _token(team[0], "--rpm", "6")
    statuses = [_ask(team[i % 3].url, token, i)[0] for i in range(10)]
    assert statuses == [200] * 6 + [429] * 4


def test_teams_and_users_budgets_and_usage_across_instances(
    team: list[Instance], upstream: SlowUpstream, pg_url: str
) -> None:
    """Two users of one team, each with a token, on different instances: the team's daily
    budget holds for both together, and usage splits by user and by team."""
    each = _each_estimate()
    limit = 4.5 * each
    admin = team[0]
    for args in (
        ("team", "create", "platform", "--budget-daily", f"{limit:.10f}"),
        ("user", "create", "ana", "--team", "platform"),
        ("user", "create", "bo", "--team", "platform"),
        ("user", "create", "cy"),
    ):
        done = admin.cli("serve", *args)
        assert done.returncode == 0, done.stderr
    tokens = {}
    for user in ("ana", "bo", "cy"):
        made = admin.cli("serve", "token", "create", f"{user}-key", "--user", user)
        assert made.returncode == 0, made.stderr
        tokens[user] = made.stdout.strip()
    bad = admin.cli("serve", "token", "create", "x", "--user", "nobody")
    assert bad.returncode == 2 and "no user 'nobody'" in bad.stderr

    def ask(i: int) -> tuple[int, Any]:
        user = ("ana", "bo")[i % 2]
        return _ask(team[i % 3].url, tokens[user], i)

    with ThreadPoolExecutor(24) as pool:
        statuses = [status for status, _ in pool.map(ask, range(24))]
    assert set(statuses) == {200, 402}, statuses
    spent = _ledger(pg_url, "SELECT coalesce(sum(cost_usd), 0) FROM calls WHERE status = 'ok'")[0]
    assert spent <= limit + each
    assert _ask(team[1].url, tokens["cy"], 99)[0] == 200  # cy is in no team: not limited

    by_user = json.loads(admin.cli("usage", "--json", "--by", "user").stdout)
    calls = {row["user"]: row["calls"] for row in by_user["rows"]}
    assert calls["ana"] + calls["bo"] == statuses.count(200) and calls["cy"] == 1
    by_team = json.loads(admin.cli("usage", "--json", "--by", "team").stdout)
    teams = {row["team"]: row["calls"] for row in by_team["rows"]}
    assert teams == {"platform": statuses.count(200), "": 1}

    listed = json.loads(team[2].cli("serve", "user", "list", "--json").stdout)["users"]
    assert [(u["name"], u["team"], u["tokens"]) for u in listed] == [
        ("ana", "platform", 1),
        ("bo", "platform", 1),
        ("cy", None, 1),
    ]
    teams_listed = json.loads(team[2].cli("serve", "team", "list", "--json").stdout)["teams"]
    assert teams_listed[0]["users"] == 2
    # What the team spent is its users' calls, before cy's.
    assert teams_listed[0]["spent_today_usd"] == pytest.approx(spent)
    refused = team[2].cli("serve", "team", "rm", "platform")
    assert refused.returncode == 2 and "has 2 users" in refused.stderr
    for name in ("ana", "bo"):
        assert team[2].cli("serve", "user", "rm", name).returncode == 0
    assert team[2].cli("serve", "team", "rm", "platform").returncode == 0


def _refused_soon(client: httpx.Client, url: str, token: str) -> int:
    """Ask on ``client``'s keep-alive connection until refused (a generous deadline): how
    many answers came first."""
    answered = 0
    deadline = time.monotonic() + 30
    while True:
        status, body = _ask_on(client, url, token)
        if status == 401:
            return answered
        # 503: a pooled connection the restart dropped, met by a lookup (the cache was emptied)
        assert status in (200, 503), (status, body)
        answered += 1
        assert time.monotonic() < deadline, "the revoked token is still served"
        time.sleep(0.05)


def _ask_on(client: httpx.Client, url: str, token: str) -> tuple[int, str]:
    response = client.get(f"{url}/v1/models", headers={"authorization": f"Bearer {token}"})
    return response.status_code, response.text


def test_a_token_revoked_on_one_instance_is_refused_at_once_on_another(
    upstream: SlowUpstream, pg_url: str, pg_server: PgServer
) -> None:
    """b has the token cached for a minute ([daemon] token_cache_s = 60), so only a's
    notice can explain b's refusal; it comes on b's open keep-alive connection, and again
    after a database restart (b's listener reconnected by itself)."""
    a, b = (Instance(n, upstream, pg_url, 60.0) for n in ("a", "b"))
    for instance in (a, b):
        with (instance.home / "config" / "config.toml").open("a") as config:
            config.write("[daemon]\ntoken_cache_s = 60\n")
    try:
        a.start()
        b.start()
        with httpx.Client(timeout=30) as client:
            for round_, name in enumerate(("first", "second")):
                token = a.cli("serve", "token", "create", name).stdout.strip()
                assert _ask_on(client, b.url, token)[0] == 200  # cached on b now
                if round_ == 1:
                    pg_server.restart("immediate")
                    _until("reconnected", lambda t=token: _ask_on(client, b.url, t)[0] == 200)
                    # a's pool may hold several connections the restart dropped.
                    _until("a back", lambda: a.cli("serve", "token", "list").returncode == 0)
                revoked = a.cli("serve", "token", "revoke", name)
                assert revoked.returncode == 0, revoked.stderr
                _refused_soon(client, b.url, token)
                assert _ask_on(client, a.url, token)[0] == 401
    finally:
        for instance in (a, b):
            instance.stop()
