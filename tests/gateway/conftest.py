"""Fixtures of the gateway tests.

The end-to-end ones (a SUPERLLM_HOME with the fake, its env, the real CLI) are shared from
tests/e2e; ``gateway`` is the TCP door's app (superllmd.gateway.routes) on a daemon state,
served by uvicorn in a thread, with every provider dialect configured against its fake."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

from superllmd.gateway.routes import create_tcp_app
from superllmd.paths import get_paths
from superllmd.state import DaemonState
from tests.e2e.conftest import cli, env, home  # noqa: F401
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.cohere import FakeCohere
from tests.fakes.gemini import FakeGemini
from tests.fakes.mistral import FakeMistral
from tests.fakes.ollama import FakeOllama
from tests.fakes.openai import FakeOpenAI

KEY = "sk-upstream-test"


@dataclass
class Fakes:
    openai: FakeOpenAI
    anthropic: FakeAnthropic
    gemini: FakeGemini
    cohere: FakeCohere
    mistral: FakeMistral
    ollama: FakeOllama


@dataclass
class Gateway:
    url: str  # http://127.0.0.1:PORT
    home: Path
    fakes: Fakes
    state: DaemonState
    token: str  # a live token's secret, made with the daemon's own TokenStore

    @property
    def openai_base(self) -> str:
        return f"{self.url}/v1"


@pytest.fixture(scope="module")
def fakes() -> Iterator[Fakes]:
    servers = Fakes(
        FakeOpenAI(delay=0.0).start(),
        FakeAnthropic(delay=0.0).start(),
        FakeGemini(delay=0.0).start(),
        FakeCohere(delay=0.0).start(),
        FakeMistral(delay=0.0).start(),
        FakeOllama(delay=0.0).start(),
    )
    try:
        yield servers
    finally:
        for server in vars(servers).values():
            server.stop()


def config_text(f: Fakes) -> str:
    return f"""
default_model = "fake/gpt-fake"

[aliases]
fast = "fake/gpt-fake"
chain = ["fake/error-503", "claude/claude-fake"]
panel = ["fake/one", "fake/two", "fake/three"]

[providers.fake]
kind = "openai-compatible"
base_url = "{f.openai.base_url}"
models = ["gpt-fake", "text-embedding-fake"]

[providers.openai]
kind = "openai"
base_url = "{f.openai.base_url}"
api_key_cmd = "echo {KEY}"

[providers.anthropic]
kind = "anthropic"
base_url = "{f.anthropic.base_url}"
api_key_cmd = "echo {KEY}"

[providers.claude]
kind = "anthropic"
base_url = "{f.anthropic.base_url}"
api_key_cmd = "echo {KEY}"
models = ["claude-fake"]

[providers.gem]
kind = "gemini"
base_url = "{f.gemini.base_url}"
api_key_cmd = "echo {KEY}"
models = ["gemini-fake"]

[providers.co]
kind = "cohere"
base_url = "{f.cohere.base_url}"
api_key_cmd = "echo {KEY}"
models = ["command-fake"]

[providers.mis]
kind = "mistral"
base_url = "{f.mistral.base_url}"
api_key_cmd = "echo {KEY}"
models = ["mistral-fake"]

[providers.oll]
kind = "ollama"
base_url = "{f.ollama.base_url}"
models = ["llama-fake"]
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def gateway(fakes: Fakes, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="slg", dir="/tmp"))
    (root / "config").mkdir(parents=True)
    (root / "config" / "config.toml").write_text(config_text(fakes))
    state = DaemonState.create(get_paths({"SUPERLLM_HOME": str(root)}), use_keyring=False)
    token = asyncio.run(state.tokens.create("sdk"))
    app = create_tcp_app(state)  # the TCP door: token check, then its own route table
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "the gateway did not start"
    try:
        yield Gateway(f"http://127.0.0.1:{port}", root, fakes, state, token)
    finally:
        server.should_exit = True
        thread.join(10)
        with contextlib.suppress(Exception):  # its pools belong to the server's loop
            asyncio.run(state.aclose())
        import shutil

        shutil.rmtree(root, ignore_errors=True)
