"""The embedded default: a real tiny GGUF model (SmolLM2-135M) run by llama.cpp in the daemon."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import Cli

pytestmark = pytest.mark.local_model


def test_ask_with_no_model_uses_local_default(cli: Cli) -> None:
    result = cli(
        "ask",
        "--json",
        "--max-tokens",
        "12",
        "--temperature",
        "0",
        "What is the capital of France?",
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["model"] == "local/smollm2"
    assert data["answer"].strip()
    assert 0 < data["usage"]["output_tokens"] <= 12
    assert data["usage"]["input_tokens"] > 5
    assert data["cost_usd"] == 0.0  # local inference is free, and priced as such


def test_local_streams_and_stays_warm(cli: Cli, home: Path) -> None:
    first = cli(
        "ask",
        "-m",
        "local/smollm2",
        "--stream-json",
        "--max-tokens",
        "8",
        "--temperature",
        "0",
        "Say hello",
    )
    assert first.returncode == 0, first.stderr
    events = [json.loads(line) for line in first.stdout.splitlines()]
    deltas = [e["text"] for e in events if e["type"] == "delta"]
    assert len(deltas) >= 2  # tokens arrive one by one, not as one block
    final = events[-1]["result"]
    assert "".join(deltas) == final["answer"]
    assert final["usage"]["output_tokens"] >= len(deltas) > 0
    second = cli("ask", "-m", "local/smollm2", "--json", "--max-tokens", "8", "Say bye")
    assert json.loads(second.stdout)["answer"].strip()
    log = (home / "state" / "superllmd.log").read_text()
    assert log.count("loaded local model") == 1  # loaded once, kept warm


def test_unknown_local_model_lists_known(cli: Cli) -> None:
    result = cli("ask", "-m", "local/nope", "hi")
    assert result.returncode == 4
    assert "local/smollm2" in result.stderr


def test_local_rejects_unknown_option(cli: Cli) -> None:
    result = cli("ask", "-m", "local/smollm2", "-o", "frobnicate=1", "hi")
    assert result.returncode == 4
    assert "frobnicate" in result.stderr and "top_p" in result.stderr
