"""What of the environment crosses the socket: SUPERLLM_* and the provider variables the
daemon names, never anything else (superllm_cli/_env.py)."""

from __future__ import annotations

import asyncio
import json
import socketserver
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from superllm_cli._env import CACHE_NAME
from superllmd.protocol import ENV_NAMES_HEADER
from tests.e2e.conftest import SUPERLLM, Cli, base_env, write_config
from tests.fakes.openai import FakeOpenAI

SECRET = "hunter2-unrelated-do-not-send"
KEY = "sk-forwarded-e2e-4411"


class _Recorder(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    seen: list[tuple[str, dict[str, str], dict[str, Any] | None]]


class _Handler(BaseHTTPRequestHandler):
    """A daemon that answers the first run with a new list of provider variables, then
    records what the client sends again and ends the run."""

    server: _Recorder

    def address_string(self) -> str:  # a Unix socket has no host
        return "superllm"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:  # a listing: only what its query string carries
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.server.seen.append((self.path, headers, None))
        self._json(200, [])

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.server.seen.append((self.path, headers, body))
        if headers.get(ENV_NAMES_HEADER) != "tag-1":
            self._json(
                409,
                {
                    "error": {
                        "code": "env_names",
                        "message": "the list changed",
                        "retryable": False,
                        "names": ["OPENAI_API_KEY"],
                        "tag": "tag-1",
                    }
                },
            )
            return
        result = {
            "run_id": "run_1",
            "mode": "ask",
            "answer": "ok",
            "participants": [],
            "judge": None,
            "usage": {"input_tokens": 1, "output_tokens": 1, "cached_tokens": 0},
            "cost_usd": 0.0,
            "latency_ms": 1,
            "conversation_id": None,
        }
        line = json.dumps({"type": "run.finished", "run_id": "run_1", "result": result})
        self._json(200, None, raw=line.encode() + b"\n")

    def _json(self, status: int, obj: Any, raw: bytes | None = None) -> None:
        data = raw if raw is not None else json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def recorder(short_home: Path) -> Iterator[_Recorder]:
    run = short_home / "run"
    run.mkdir(mode=0o700)
    server = _Recorder(str(run / "superllmd.sock"), _Handler)
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_an_unrelated_secret_never_crosses_the_socket(
    recorder: _Recorder, short_home: Path
) -> None:
    env = {
        **base_env(short_home),
        "UNRELATED_SECRET": SECRET,
        "OPENAI_API_KEY": KEY,
        "SUPERLLM_LABEL": "nightly",
    }
    result = subprocess.run(
        [str(SUPERLLM), "ask", "--no-autostart", "-m", "openai/x", "hi"],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
    (_, first_headers, first), (_, second_headers, second) = recorder.seen
    # No list stored yet: the client says so, and the daemon's answer is stored and used.
    assert first_headers[ENV_NAMES_HEADER] == "-"
    assert second_headers[ENV_NAMES_HEADER] == "tag-1"
    assert first is not None and second is not None
    assert "OPENAI_API_KEY" not in first["env"]
    assert second["env"]["OPENAI_API_KEY"] == KEY
    assert second["env"]["SUPERLLM_LABEL"] == "nightly"
    assert set(second["env"]) <= {"OPENAI_API_KEY", "SUPERLLM_LABEL", "SUPERLLM_HOME"}
    for _, headers, body in recorder.seen:
        assert SECRET not in json.dumps(body) + json.dumps(headers)
    stored = json.loads((short_home / "run" / CACHE_NAME).read_text())
    assert stored == {"tag": "tag-1", "names": ["OPENAI_API_KEY"]}


def test_the_sdk_and_the_tui_forward_by_the_same_rule(
    recorder: _Recorder, short_home: Path
) -> None:
    """Client, AsyncClient and the TUI's backend (one client core): runs carry SUPERLLM_* and
    the named key, listings SUPERLLM_* only, and the unrelated secret goes nowhere."""
    from superllm_cli.client import AsyncClient, Client
    from superllm_cli.tui.backend import DaemonBackend, run_request

    env = {**base_env(short_home), "UNRELATED_SECRET": SECRET, "OPENAI_API_KEY": KEY}
    env["SUPERLLM_LABEL"] = "nightly"
    sync = Client(environ=env, autostart=False)
    assert sync.ask("hi", model="openai/x")["answer"] == "ok"
    assert sync.models() == []

    async def main() -> list[dict[str, Any]]:
        async with AsyncClient(environ=env, autostart=False) as sdk:
            await sdk.ask("hi", model="openai/x")
        tui = DaemonBackend(env, autostart=False)
        path, body = run_request("ask", "hi", ["openai/x"], tui.request_env())
        events = [event async for event in tui.stream(path, body)]
        await tui.client.aclose()
        return events

    assert asyncio.run(main())[-1]["type"] == "run.finished"
    runs = [body for _, _, body in recorder.seen if body is not None]
    assert len(runs) >= 3 and all(set(b["env"]) == set(runs[-1]["env"]) for b in runs[-3:])
    assert runs[-1]["env"]["OPENAI_API_KEY"] == KEY
    assert set(runs[-1]["env"]) <= {"OPENAI_API_KEY", "SUPERLLM_LABEL", "SUPERLLM_HOME"}
    (listing,) = [p for p, _, body in recorder.seen if body is None]
    assert "SUPERLLM_LABEL=nightly" in listing and "OPENAI" not in listing
    for path, headers, body in recorder.seen:
        assert SECRET not in path + json.dumps(body) + json.dumps(headers)


def test_a_provider_added_to_config_gets_its_key_at_once(
    cli: Cli, home: Path, fake_openai: FakeOpenAI
) -> None:
    """The client's stored list is stale once config names a new key variable: the daemon
    says so and the client resends with the key."""
    first = cli("ask", "-m", "fake/echo", "warm", extra_env={"UNRELATED_SECRET": SECRET})
    assert first.returncode == 0, first.stderr
    names = json.loads((home / "run" / CACHE_NAME).read_text())["names"]
    assert "OPENAI_API_KEY" in names and "LAB_KEY_E2E" not in names
    assert "UNRELATED_SECRET" not in names
    config = home / "config" / "config.toml"
    write_config(
        home,
        config.read_text()
        + f'\n[providers.lab]\nkind = "openai-compatible"\nbase_url = "{fake_openai.base_url}"\n'
        'api_key_env = "LAB_KEY_E2E"\nmodels = ["echo"]\n',
    )
    before = len(fake_openai.requests)
    second = cli("ask", "-m", "lab/echo", "hello", extra_env={"LAB_KEY_E2E": KEY})
    assert second.returncode == 0, second.stderr
    sent = [r for r in fake_openai.requests[before:] if r.path.endswith("/chat/completions")]
    assert sent and sent[-1].headers.get("authorization") == f"Bearer {KEY}"
    assert "LAB_KEY_E2E" in json.loads((home / "run" / CACHE_NAME).read_text())["names"]


def test_health_publishes_the_list(cli: Cli, home: Path) -> None:
    from superllm_cli.client import Client

    client = Client(environ=base_env(home))
    health = client.start()
    assert "OPENAI_API_KEY" in health["env_names"]
    assert "ANTHROPIC_API_KEY" in health["env_names"]
    assert "OLLAMA_HOST" in health["env_names"]  # not a key, but a provider reads it
    assert health["env_tag"]
    assert not any(n.startswith("SUPERLLM_") for n in health["env_names"])
