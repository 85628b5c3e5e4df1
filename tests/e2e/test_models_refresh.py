"""`superllm models --refresh` and `models --provider P`: what the providers really serve.

Every native vendor provider is pointed at its fake (each answers its own list endpoint in the
vendor's shape); the session's fake OpenAI-compatible server is provider ``fake``, which the
catalog knows nothing of.
"""

from __future__ import annotations

import json
import socket
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Cli
from tests.e2e.test_completion import bash_complete
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.cohere import FakeCohere
from tests.fakes.gemini import FakeGemini
from tests.fakes.mistral import FakeMistral
from tests.fakes.ollama import FakeOllama
from tests.fakes.openai import FakeOpenAI

KEYS = {
    "OPENAI_API_KEY": "sk-test",
    "ANTHROPIC_API_KEY": "sk-ant-test",
    "GEMINI_API_KEY": "g-test",
    "CO_API_KEY": "co-test",
    "MISTRAL_API_KEY": "m-test",
}
# One model each fake lists that the catalog does not know (so it must show unpriced).
LISTED = {
    "openai": "gpt-fake",
    "anthropic": "claude-fake",
    "gemini": "gemini-fake",
    "cohere": "command-fake",
    "mistral": "mistral-fake",
    "ollama": "llama3.2:latest",
    "fake": "gpt-fake",
}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture(scope="module")
def fakes() -> Iterator[dict[str, Any]]:
    started: dict[str, Any] = {
        "openai": FakeOpenAI().start(),
        "anthropic": FakeAnthropic().start(),
        "gemini": FakeGemini().start(),
        "cohere": FakeCohere().start(),
        "mistral": FakeMistral().start(),
        "ollama": FakeOllama().start(),
    }
    try:
        yield started
    finally:
        for fake in started.values():
            fake.stop()


@pytest.fixture
def vendors(cli: Cli, fakes: dict[str, Any]) -> Cli:
    """``cli`` with every vendor provider on its fake and its key at hand."""
    env = dict(KEYS)
    for pid, fake in fakes.items():
        env[f"SUPERLLM_PROVIDERS__{pid.upper()}__BASE_URL"] = fake.base_url

    def run(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return cli(*args, extra_env={**env, **extra})

    return run


def _rows(done: subprocess.CompletedProcess[str]) -> dict[str, dict[str, Any]]:
    assert done.returncode == 0, done.stderr
    return {row["model"]: row for row in json.loads(done.stdout)}


def test_refresh_asks_every_dialect_and_shows_unknown_models_unpriced(
    vendors: Cli, home: Path
) -> None:
    done = vendors("models", "--refresh", "--json")
    rows = _rows(done)
    for pid, model in LISTED.items():
        row = rows.get(f"{pid}/{model}")
        assert row is not None, f"{pid}/{model} missing: {sorted(rows)}"
        assert row["listed"] is True and row["priced"] is False and row["price_input"] is None
    # What a list says of a model the catalog lacks shows; the catalog's own models stay priced.
    assert rows["anthropic/claude-fake"]["context_window"] == 200000
    assert rows["gemini/gemini-fake"]["max_output"] == 65536
    assert "gemini/text-embedding-fake" not in rows, "Gemini lists it, but it cannot chat"
    assert not rows.get("mistral/mistral-embed", {}).get("listed"), "an embedding model"
    assert rows["anthropic/claude-haiku-4-5"]["priced"] is True
    assert rows["anthropic/claude-haiku-4-5"]["listed"] is False
    assert "could not list" not in done.stderr

    folder = home / "cache" / "models"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for pid, model in LISTED.items():
        file = folder / f"{pid}.json"
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
        cached = json.loads(file.read_text())
        assert cached["provider"] == pid and cached["fetched_at"]
        assert model in [m["id"] for m in cached["models"]]
        assert "sk-" not in file.read_text(), "no key in the cache"


def test_a_provider_that_cannot_list_is_reported_and_the_others_still_shown(
    vendors: Cli, home: Path
) -> None:
    config = home / "config" / "config.toml"
    config.write_text(
        config.read_text() + f'\n[providers.broken]\nkind = "openai-compatible"\n'
        f'base_url = "http://127.0.0.1:{closed_port()}/v1"\n'
    )
    done = vendors("-v", "models", "--refresh")
    assert done.returncode == 0, done.stderr
    assert "anthropic: 2 models listed" in done.stderr, "-v says what each provider listed"
    warnings = [line for line in done.stderr.splitlines() if "could not list" in line]
    assert len(warnings) == 1, done.stderr
    assert "broken" in warnings[0] and "127.0.0.1" in warnings[0]
    assert "Traceback" not in done.stderr
    # The human table: an unknown model with its listed window, unpriced.
    line = next(ln for ln in done.stdout.splitlines() if ln.startswith("anthropic/claude-fake "))
    assert "200000" in line and line.rstrip().endswith("unpriced")
    assert "fake/gpt-fake" in done.stdout

    alone = vendors("models", "--provider", "broken", "--refresh")
    assert alone.returncode == 4, alone.stderr
    assert "could not list the models of broken" in alone.stderr


def test_models_provider_fills_from_the_listing_where_the_catalog_has_none(
    vendors: Cli, home: Path
) -> None:
    assert not (home / "cache" / "models" / "ollama.json").exists()
    rows = _rows(vendors("models", "--provider", "ollama", "--json"))
    assert sorted(rows) == ["ollama/echo:latest", "ollama/llama3.2:latest"]
    assert (home / "cache" / "models" / "ollama.json").exists(), "the fetched list is kept"
    plain = vendors("models", "--provider", "fake")
    assert plain.returncode == 0, plain.stderr
    assert [ln.split()[0] for ln in plain.stdout.splitlines()[1:]] == ["fake/echo", "fake/gpt-fake"]
    # A provider the catalog covers is not asked: its catalog models answer at once.
    catalog = _rows(vendors("models", "--provider", "anthropic", "--json"))
    assert catalog and not any(r["listed"] for r in catalog.values())
    assert not (home / "cache" / "models" / "anthropic.json").exists()


def test_a_list_from_another_server_is_not_offered(vendors: Cli) -> None:
    assert "fake/gpt-fake" in _rows(vendors("models", "--refresh", "--provider", "fake", "--json"))
    moved = f"http://127.0.0.1:{closed_port()}/v1"
    rows = _rows(vendors("models", "--json", SUPERLLM_PROVIDERS__FAKE__BASE_URL=moved))
    assert not [name for name in rows if name.startswith("fake/")]


def test_completion_offers_a_refreshed_model(
    vendors: Cli, env: dict[str, str], fakes: dict[str, Any]
) -> None:
    shell = {**env, "SUPERLLM_PROVIDERS__OLLAMA__BASE_URL": fakes["ollama"].base_url}
    assert "ollama/llama3.2:latest" not in bash_complete(
        ["superllm", "ask", "-m", "ollama/"], shell
    )
    assert vendors("models", "--refresh", "--provider", "ollama").returncode == 0
    offered = bash_complete(["superllm", "ask", "-m", "ollama/ll"], shell)
    assert offered == ["ollama/llama3.2:latest"]
    # Without a daemon, completion reads the cached lists itself.
    assert vendors("daemon", "stop").returncode == 0
    offered = bash_complete(["superllm", "ask", "-m", "ollama/ll"], shell)
    assert offered == ["ollama/llama3.2:latest"]
