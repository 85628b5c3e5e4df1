"""The TCP door end to end: a real daemon with ``[daemon] listen``, real TCP, real tokens
created with the real ``superllm serve token`` commands."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Cli, write_config
from tests.fakes.openai import FakeOpenAI


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def door(home: Path, fake_openai: FakeOpenAI, cli: Cli) -> Iterator[str]:
    port = _free_port()
    write_config(
        home,
        f'default_model = "fake/echo"\n[daemon]\nlisten = "127.0.0.1:{port}"\n'
        f'[providers.fake]\nkind = "openai-compatible"\nbase_url = "{fake_openai.base_url}"\n'
        'models = ["gpt-fake", "echo", "slow"]\n',
    )
    assert cli("daemon", "start").returncode == 0
    yield f"http://127.0.0.1:{port}"


def _token(cli: Cli, name: str, *args: str) -> str:
    made = cli("serve", "token", "create", name, *args)
    assert made.returncode == 0, made.stderr
    assert "shown only now" in made.stderr
    return made.stdout.strip()


def test_every_request_needs_a_live_token(door: str, cli: Cli, home: Path) -> None:
    with httpx.Client(base_url=door) as http:
        bare = http.get("/superllm/v1/health")
        assert bare.status_code == 401
        assert bare.json()["error"]["type"] == "authentication_error"
        assert "superllm serve token create" in bare.json()["error"]["message"]
        wrong = http.get("/superllm/v1/health", headers={"authorization": "Bearer sl-nope"})
        assert wrong.status_code == 401
        secret = _token(cli, "ci")
        assert secret.startswith("sl-") and len(secret) > 40
        auth = {"authorization": f"Bearer {secret}"}
        assert http.get("/superllm/v1/health", headers=auth).status_code == 200
        assert http.get("/superllm/v1/health", headers={"x-api-key": secret}).status_code == 200
        # The socket's private routes are not on this door, with or without a token.
        assert http.post("/superllm/v1/shutdown", headers=auth).status_code in (404, 405)
        assert http.get("/superllm/v1/config", headers=auth).status_code == 404
        asked = http.post("/superllm/v1/ask", headers=auth, json={"prompt": "over tcp"})
        assert asked.status_code == 200, asked.text
        assert asked.json()["answer"] == "echo: over tcp"
        # Revoked: refused on this same keep-alive connection at its next request.
        assert cli("serve", "token", "revoke", "ci").returncode == 0
        again = http.get("/superllm/v1/health", headers=auth)
        assert again.status_code == 401
    # Only a hash is stored, and the call carries the token's name.
    conn = sqlite3.connect(home / "data" / "ledger.sqlite3")
    try:
        stored = conn.execute("SELECT hash FROM gateway_tokens").fetchall()
        assert stored and all(secret not in row[0] for row in stored)
        assert conn.execute("SELECT token FROM calls").fetchall() == [("ci",)]
    finally:
        conn.close()
    listed = json.loads(cli("serve", "token", "list", "--json").stdout)["tokens"]
    assert [(t["name"], bool(t["revoked"]), t["last_used"] is not None) for t in listed] == [
        ("ci", True, True)
    ]
    usage = json.loads(cli("usage", "--by", "token", "--json").stdout)
    assert [(r["token"], r["calls"]) for r in usage["rows"]] == [("ci", 1)]


def test_an_expired_token_is_refused(door: str, cli: Cli) -> None:
    secret = _token(cli, "old", "--expires", "2020-01-01")
    r = httpx.get(f"{door}/superllm/v1/health", headers={"authorization": f"Bearer {secret}"})
    assert r.status_code == 401
    assert "live" not in cli("serve", "token", "list").stdout.split("old", 1)[1].split("\n")[0]


def test_rpm_gives_headers_then_429_with_retry_after(door: str, cli: Cli) -> None:
    secret = _token(cli, "slowpoke", "--rpm", "2", "--tpm", "100000")
    auth = {"authorization": f"Bearer {secret}"}
    with httpx.Client(base_url=door, headers=auth) as http:
        first = http.get("/superllm/v1/health")
        assert first.headers["x-ratelimit-limit-requests"] == "2"
        assert first.headers["x-ratelimit-remaining-requests"] == "1"
        assert first.headers["x-ratelimit-reset-requests"].endswith("s")
        assert first.headers["x-ratelimit-limit-tokens"] == "100000"
        assert http.get("/superllm/v1/health").headers["x-ratelimit-remaining-requests"] == "0"
        third = http.get("/superllm/v1/health")
        assert third.status_code == 429
        assert 1 <= int(third.headers["retry-after"]) <= 60
        assert third.json()["error"]["type"] == "rate_limit_error"


def test_a_remote_address_needs_allow_remote(short_home: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPERLLM_")}
    env |= {"SUPERLLM_HOME": str(short_home), "SUPERLLM_DAEMON__LISTEN": "0.0.0.0:0"}
    done = subprocess.run(
        [sys.executable, "-m", "superllmd", "--foreground"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "daemon.allow_remote = true" in done.stderr


def test_stop_lets_a_tcp_stream_in_flight_finish(door: str, cli: Cli) -> None:
    secret = _token(cli, "streamer")
    lines: list[dict[str, object]] = []
    started = threading.Event()

    def stream() -> None:
        with httpx.stream(
            "POST",
            f"{door}/superllm/v1/ask",
            headers={"authorization": f"Bearer {secret}", "accept": "application/x-ndjson"},
            json={"prompt": " ".join(["word"] * 20), "model": "fake/slow"},
            timeout=60,
        ) as response:
            for line in response.iter_lines():
                lines.append(json.loads(line))
                if lines[-1]["type"] == "delta":
                    started.set()

    reader = threading.Thread(target=stream)
    reader.start()
    assert started.wait(30)
    assert cli("daemon", "stop").returncode == 0
    reader.join(60)
    assert lines[-1]["type"] == "run.finished"
    assert lines[-1]["result"]["answer"] == "echo: " + " ".join(["word"] * 20)  # type: ignore[index]


def test_a_token_holders_environment_is_never_used(door: str, cli: Cli) -> None:
    """On the TCP door ``env`` (and ``SUPERLLM_*`` query parameters) would let a caller
    repoint providers or run an ``api_key_cmd`` as the daemon's user: every route ignores
    them, embed and the listings as much as the runs."""
    auth = {"authorization": f"Bearer {_token(cli, 'env')}"}
    elsewhere = {"SUPERLLM_PROVIDERS__FAKE__BASE_URL": "http://127.0.0.1:9/v1"}
    with httpx.Client(base_url=door, timeout=30) as http:
        body = {"texts": ["a"], "model": "fake/text-embedding-3-small", "env": elsewhere}
        embedded = http.post("/superllm/v1/embed", headers=auth, json=body)
        assert embedded.status_code == 200, embedded.text
        asked = http.post("/superllm/v1/ask", headers=auth, json={"prompt": "p", "env": elsewhere})
        assert asked.status_code == 200 and asked.json()["answer"] == "echo: p"
        models = http.get(
            "/superllm/v1/models", headers=auth, params={"SUPERLLM_DEFAULT_MODEL": "x/y"}
        )
        assert models.status_code == 200, models.text


def test_stop_lets_an_openai_stream_in_flight_finish(door: str, cli: Cli) -> None:
    secret = _token(cli, "sse")
    lines: list[str] = []
    started = threading.Event()

    def stream() -> None:
        with httpx.stream(
            "POST",
            f"{door}/v1/chat/completions",
            headers={"authorization": f"Bearer {secret}"},
            json={
                "model": "fake/slow",
                "stream": True,
                "messages": [{"role": "user", "content": " ".join(["word"] * 20)}],
            },
            timeout=60,
        ) as response:
            for line in response.iter_lines():
                if line.startswith("data: "):
                    lines.append(line[6:])
                    if '"content":"echo' in line or '"content": "echo' in line:
                        started.set()

    reader = threading.Thread(target=stream)
    reader.start()
    assert started.wait(30)
    assert cli("daemon", "stop").returncode == 0
    reader.join(60)
    assert lines[-1] == "[DONE]"
    chunks = [json.loads(line) for line in lines[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "echo: " + " ".join(["word"] * 20)
