"""`superllm providers check`: real calls through a real daemon; status, latency, no key shown."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from superllmd.testing.server import FakeRequest, FakeServer, Writer
from tests.e2e.conftest import Cli
from tests.fakes.openai import FakeOpenAI

DEAD_KEY = "dead-e2e-key-never-print-7c1d"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens once the socket is closed


def add_config(home: Path, text: str) -> None:
    config = home / "config" / "config.toml"
    config.write_text(config.read_text() + "\n" + text)


@pytest.fixture
def no_model_list() -> Iterator[FakeOpenAI]:
    """An OpenAI-compatible server without GET /models: the check must fall back to a chat."""
    fake = FakeOpenAI()
    chat = fake.handle

    async def handle(request: FakeRequest, w: Writer) -> None:
        if request.path.endswith("/models"):
            w.respond(404, {"error": {"message": "no such route", "type": "invalid_request"}})
        else:
            await chat(request, w)

    fake.server = FakeServer(handle)
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def silent() -> Iterator[FakeServer]:
    """A server that accepts requests and never answers in time."""

    async def handle(request: FakeRequest, w: Writer) -> None:
        await asyncio.sleep(30)

    with FakeServer(handle) as server:
        yield server


def test_check_the_fake_json(cli: Cli, fake_openai: FakeOpenAI) -> None:
    before = len(fake_openai.requests)
    result = cli("providers", "check", "fake", "--json")
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout)
    assert row["id"] == "fake" and row["ok"] is True and row["error"] is None
    assert row["via"] == "list_models"
    assert isinstance(row["latency_ms"], int) and 0 <= row["latency_ms"] < 10_000
    # It really asked the server.
    assert any(r.path == "/v1/models" for r in fake_openai.requests[before:])


def test_default_checks_configured_providers_and_fails_with_4(cli: Cli, home: Path) -> None:
    add_config(
        home,
        "[providers.dead]\n"
        'kind = "openai-compatible"\n'
        f'base_url = "http://127.0.0.1:{closed_port()}/v1"\n'
        'api_key_env = "DEAD_KEY"\n',
    )
    result = cli("providers", "check", "--json", extra_env={"DEAD_KEY": DEAD_KEY})
    assert result.returncode == 4, result.stderr
    by_id = {row["id"]: row for row in json.loads(result.stdout)}
    assert {"fake", "dead"} <= set(by_id)
    assert "lmstudio" not in by_id  # local-server presets only when named or configured
    assert by_id["fake"]["ok"] is True
    dead = by_id["dead"]
    assert dead["ok"] is False and dead["error"]["code"] == "connection"
    assert "dead" in dead["error"]["message"]
    assert "1 of" in result.stderr and "dead" in result.stderr
    assert DEAD_KEY not in result.stdout + result.stderr


def test_table_output_names_the_failure_and_never_the_key(cli: Cli, home: Path) -> None:
    add_config(
        home,
        '[providers.dead]\nkind = "openai-compatible"\n'
        f'base_url = "http://127.0.0.1:{closed_port()}/v1"\napi_key_env = "DEAD_KEY"\n',
    )
    result = cli("providers", "check", "fake", "dead", extra_env={"DEAD_KEY": DEAD_KEY})
    assert result.returncode == 4
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["PROVIDER", "STATUS", "LATENCY", "VIA", "ERROR"]
    fake = next(line for line in lines if line.startswith("fake "))
    dead = next(line for line in lines if line.startswith("dead "))
    assert " ok " in fake and " ms " in fake
    assert " failed " in dead and "connection: cannot reach dead" in dead
    assert DEAD_KEY not in result.stdout + result.stderr
    assert "\x1b[" not in result.stdout


def test_falls_back_to_a_one_token_answer(cli: Cli, home: Path, no_model_list: FakeOpenAI) -> None:
    add_config(
        home,
        '[providers.nolist]\nkind = "openai-compatible"\n'
        f'base_url = "{no_model_list.base_url}"\nmodels = ["echo"]\n',
    )
    result = cli("providers", "check", "nolist", "--json")
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout)
    assert row["ok"] is True and row["via"] == "complete" and row["model"] == "echo"
    (chat,) = no_model_list.chat_requests()
    assert chat["max_tokens"] == 1 and chat["model"] == "echo"


def test_a_slow_provider_times_out(cli: Cli, home: Path, silent: FakeServer) -> None:
    add_config(home, f'[providers.slow]\nkind = "openai-compatible"\nbase_url = "{silent.url}"\n')
    result = cli("providers", "check", "slow", "--json", "--timeout", "0.5")
    assert result.returncode == 4
    (row,) = json.loads(result.stdout)
    assert row["ok"] is False and row["error"]["code"] == "timeout"
    assert row["latency_ms"] < 5_000


def test_unknown_provider_is_a_usage_error(cli: Cli) -> None:
    result = cli("providers", "check", "no-such-provider")
    assert result.returncode == 2
    assert "no-such-provider" in result.stderr and "providers list" in result.stderr
    assert "known: " in result.stderr and "fake" in result.stderr and "local" in result.stderr


def test_local_check_loads_what_ask_loads(cli: Cli, tmp_path: Path) -> None:
    # Without llama-cpp-python the check must fail as `ask -m local/...` does, not say ok.
    hidden = tmp_path / "hide"
    (hidden / "llama_cpp").mkdir(parents=True)
    (hidden / "llama_cpp" / "__init__.py").write_text("raise ImportError('hidden by the test')\n")
    env = {"PYTHONPATH": str(hidden)}
    result = cli("providers", "check", "--json", "local", extra_env=env)
    assert result.returncode == 4, result.stderr
    (row,) = json.loads(result.stdout)
    assert row["ok"] is False and "llama-cpp-python" in row["error"]["message"]
    asked = cli("ask", "-m", "local/smollm2", "hi", extra_env=env)
    assert asked.returncode == 4 and "llama-cpp-python" in asked.stderr


@pytest.mark.local_model
def test_local_check_loads_the_model(cli: Cli) -> None:
    result = cli("providers", "check", "--json", "local", timeout=300)
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout)
    assert row["ok"] is True and (row["via"], row["model"]) == ("health", "smollm2")


def test_single_route_per_design(cli: Cli, env: dict[str, str]) -> None:
    from superllm_cli.client import Client

    assert cli("providers", "check", "fake").returncode == 0  # starts the daemon
    answer = Client(autostart=False, environ=env).call("POST", "/v1/providers/fake/check", {})
    assert answer["id"] == "fake" and answer["ok"] is True
