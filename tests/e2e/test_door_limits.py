"""Limits at both doors of a real daemon: partial requests are cut off, a door takes only so
many connections, and a prompt past ``daemon.max_prompt_mb`` is refused before any call."""

from __future__ import annotations

import contextlib
import json
import socket
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from superllmd.paths import get_paths
from tests.e2e.conftest import Cli, write_config
from tests.fakes.openai import FakeOpenAI

MAX_CONNECTIONS = 4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Doors:
    def __init__(self, home: Path, env: dict[str, str], port: int, token: str) -> None:
        self.socket_path = str(get_paths(env).socket)
        self.port = port
        self.token = token
        self.home = home

    def connect(self, door: str) -> socket.socket:
        if door == "socket":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(self.socket_path)
        else:
            sock = socket.create_connection(("127.0.0.1", self.port))
        sock.settimeout(60)  # far beyond the limits under test: a hang fails, never passes
        return sock

    def prefix(self, door: str) -> str:
        return "" if door == "socket" else "/superllm"

    def auth(self, door: str) -> str:
        return "" if door == "socket" else f"authorization: Bearer {self.token}\r\n"


@pytest.fixture
def doors(home: Path, env: dict[str, str], fake_openai: FakeOpenAI, cli: Cli) -> Iterator[Doors]:
    port = _free_port()
    write_config(
        home,
        f'[daemon]\nlisten = "127.0.0.1:{port}"\nheader_timeout = 1\nbody_timeout = 1\n'
        f"max_connections = {MAX_CONNECTIONS}\nmax_prompt_mb = 0.01\n"
        f'[providers.fake]\nkind = "openai-compatible"\nbase_url = "{fake_openai.base_url}"\n'
        'models = ["gpt-fake", "stall"]\n',
    )
    assert cli("daemon", "start").returncode == 0
    made = cli("serve", "token", "create", "limits", "--models", "fake/*")
    assert made.returncode == 0, made.stderr
    yield Doors(home, env, port, made.stdout.strip())


def _calls(home: Path) -> list[Any]:
    conn = sqlite3.connect(home / "data" / "ledger.sqlite3")
    try:
        return conn.execute("SELECT id FROM calls").fetchall()
    finally:
        conn.close()


def _read_all(sock: socket.socket) -> bytes:
    """Everything the daemon sends until it closes the connection."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize("door", ["socket", "tcp"])
def test_a_slow_loris_is_cut_off(doors: Doors, door: str) -> None:
    # Half a request line and headers, then nothing: closed without an answer.
    half = doors.connect(door)
    half.sendall(f"POST {doors.prefix(door)}/v1/ask HTTP/1.1\r\nhost: x\r\n".encode())
    assert _read_all(half) == b""
    # A connection that never sends a byte: the same.
    assert _read_all(doors.connect(door)) == b""
    # Headers whole, half the body, then nothing: 408 naming the setting, then closed.
    body = json.dumps({"prompt": "hello", "model": "fake/gpt-fake"}).encode()
    slow = doors.connect(door)
    slow.sendall(
        (
            f"POST {doors.prefix(door)}/v1/ask HTTP/1.1\r\nhost: x\r\n{doors.auth(door)}"
            f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
        ).encode()
        + body[:5]
    )
    answer = _read_all(slow)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"daemon.body_timeout" in answer
    # A whole request still works, on a kept-alive connection too.
    whole = doors.connect(door)
    request = (
        f"POST {doors.prefix(door)}/v1/ask HTTP/1.1\r\nhost: x\r\n{doors.auth(door)}"
        f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
    ).encode() + body
    whole.sendall(request)
    first = whole.recv(65536)
    assert first.startswith(b"HTTP/1.1 200"), first[:300]
    whole.close()


def _until(check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"never saw {what}")


def _stalled_stream(doors: Doors, door: str) -> socket.socket:
    """A streamed ask to fake/stall, read up to its first delta: a connection kept busy."""
    body = json.dumps({"prompt": "go on", "model": "fake/stall"}).encode()
    sock = doors.connect(door)
    sock.sendall(
        (
            f"POST {doors.prefix(door)}/v1/ask HTTP/1.1\r\nhost: x\r\n{doors.auth(door)}"
            "accept: application/x-ndjson\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\n\r\n"
        ).encode()
        + body
    )
    seen = b""
    while b'"delta"' not in seen:
        chunk = sock.recv(65536)
        assert chunk, seen
        seen += chunk
    return sock


@pytest.mark.parametrize("door", ["socket", "tcp"])
def test_one_connection_past_max_connections_is_refused(doors: Doors, door: str) -> None:
    busy = [_stalled_stream(doors, door) for _ in range(MAX_CONNECTIONS)]
    try:
        answer = _read_all(doors.connect(door))
        assert answer.startswith(b"HTTP/1.1 503"), answer[:200]
        error = json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]
        assert "daemon.max_connections" in error["message"] and error["retryable"]
        # The other door is counted apart: it still answers.
        other = "tcp" if door == "socket" else "socket"
        with contextlib.closing(_stalled_stream(doors, other)):
            pass
        busy.pop().close()  # one goes: a new one gets in once the daemon has seen it go

        def gets_in() -> bool:
            with contextlib.closing(doors.connect(door)) as sock:
                head = f"GET {doors.prefix(door)}/v1/models HTTP/1.1\r\nhost: x\r\n"
                sock.sendall(f"{head}{doors.auth(door)}\r\n".encode())
                return sock.recv(12).startswith(b"HTTP/1.1 200")

        _until(gets_in, "a connection let in again")
    finally:
        for sock in busy:
            sock.close()


def test_a_prompt_past_max_prompt_mb_is_refused_at_both_doors(
    doors: Doors, cli: Cli, fake_openai: FakeOpenAI
) -> None:
    before = len(fake_openai.chat_requests())
    big = "word " * 4000  # 20 kB, past 0.01 MB
    result = cli("ask", "-m", "fake/gpt-fake", input=big)
    assert result.returncode == 2, result.stderr
    assert "daemon.max_prompt_mb (0.01)" in result.stderr and "config set" in result.stderr
    assert not _calls(doors.home)
    assert "Traceback" not in result.stderr
    body = json.dumps(
        {"model": "fake/gpt-fake", "messages": [{"role": "user", "content": big}]}
    ).encode()
    sock = doors.connect("tcp")
    sock.sendall(
        (
            f"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n{doors.auth('tcp')}"
            f"content-type: application/json\r\ncontent-length: {len(body)}\r\n"
            "connection: close\r\n\r\n"
        ).encode()
        + body
    )
    answer = _read_all(sock)
    # The OpenAI dialect answers a request it refuses 400 invalid_request_error.
    assert answer.startswith(b"HTTP/1.1 400"), answer[:300]
    assert b"the prompt is 20 kB, more than daemon.max_prompt_mb (0.01)" in answer
    assert len(fake_openai.chat_requests()) == before  # refused before any call
    small = cli("ask", "-m", "fake/gpt-fake", "a small one")
    assert small.returncode == 0 and small.stdout.strip() == "echo: a small one"
