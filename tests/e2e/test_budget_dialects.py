"""A budget stops every native dialect, and a priced model of each shows its cost.

Each built-in vendor provider is pointed at its fake (SUPERLLM_PROVIDERS__ID__BASE_URL). Models
the catalog prices are priced from it; the vendors it has no price for (Cohere, Mistral,
Ollama) are priced in config, which must count the same way.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Cli
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.cohere import FakeCohere
from tests.fakes.gemini import FakeGemini
from tests.fakes.mistral import FakeMistral
from tests.fakes.ollama import FakeOllama
from tests.fakes.openai import FakeOpenAI

# provider id -> (model, priced by the catalog)
DIALECTS = {
    "openai": ("gpt-4.1-mini", True),
    "anthropic": ("claude-haiku-4-5", True),
    "gemini": ("gemini-2.5-flash", True),
    "cohere": ("command-a-03-2025", False),
    "mistral": ("mistral-small-latest", False),
    "ollama": ("echo", False),
}
KEYS = {
    "OPENAI_API_KEY": "sk-test",
    "ANTHROPIC_API_KEY": "sk-ant-test",
    "GEMINI_API_KEY": "g-test",
    "CO_API_KEY": "co-test",
    "MISTRAL_API_KEY": "m-test",
}


@pytest.fixture(scope="module")
def fakes(fake_openai: FakeOpenAI) -> Iterator[dict[str, Any]]:
    started: dict[str, Any] = {
        "anthropic": FakeAnthropic().start(),
        "gemini": FakeGemini().start(),
        "cohere": FakeCohere().start(),
        "mistral": FakeMistral().start(),
        "ollama": FakeOllama().start(),
    }
    try:
        yield {"openai": fake_openai, **started}
    finally:
        for fake in started.values():
            fake.stop()


@pytest.fixture
def vendors(cli: Cli, home: Path, fakes: dict[str, Any]) -> Cli:
    """``cli`` with every vendor provider on its fake and the unlisted prices in config."""
    config = home / "config" / "config.toml"
    prices = "".join(
        f'\n[prices."{pid}/{model}"]\ninput = 5.0\noutput = 20.0\n'
        for pid, (model, listed) in DIALECTS.items()
        if not listed
    )
    config.write_text(config.read_text() + prices)
    env = dict(KEYS)
    for pid, fake in fakes.items():
        env[f"SUPERLLM_PROVIDERS__{pid.upper()}__BASE_URL"] = fake.base_url

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return cli(*args, extra_env=env)

    return run


def _sent(fake: Any) -> int:
    return len([r for r in fake.requests if r.method == "POST"])


@pytest.mark.parametrize("pid", sorted(DIALECTS))
def test_every_dialect_is_priced_and_stopped_by_a_budget(
    vendors: Cli, fakes: dict[str, Any], pid: str
) -> None:
    name = f"{pid}/{DIALECTS[pid][0]}"
    asked = vendors("-v", "ask", "-m", name, "--json", "hi there")
    assert asked.returncode == 0, asked.stderr
    cost = json.loads(asked.stdout)["cost_usd"]
    assert cost is not None and cost > 0, f"{name} was not priced"
    shown = vendors("-v", "ask", "-m", name, "hi there, again")  # as a user at a shell sees it
    assert shown.returncode == 0, shown.stderr
    summary = shown.stderr.strip().splitlines()[-1]
    assert name in summary and re.search(r"· \$\d[\d.,]*$", summary), summary
    assert "unpriced" not in shown.stderr

    assert vendors("budget", "set", "--daily", "0.0001").returncode == 0
    before = _sent(fakes[pid])
    refused = vendors("ask", "-m", name, "hi again")
    assert refused.returncode == 5, refused.stderr
    assert "daily budget of $0.0001 would be exceeded" in refused.stderr
    assert _sent(fakes[pid]) == before  # nothing reached the vendor


PNG_B64 = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5E"
    "rkJggg=="
)


@pytest.mark.parametrize(
    ("name", "stream"),
    [
        ("anthropic/claude-haiku-4-5", False),
        ("anthropic/claude-haiku-4-5", True),
        ("gemini/gemini-2.5-flash", False),
        ("gemini/gemini-2.5-flash", True),
    ],
)
def test_images_reach_anthropic_and_gemini_in_their_wire_shape(
    vendors: Cli, fakes: dict[str, Any], tmp_path: Path, name: str, stream: bool
) -> None:
    import base64

    image = tmp_path / "dot.png"
    image.write_bytes(base64.b64decode(PNG_B64))
    fake = fakes[name.partition("/")[0]]
    fake.images.clear()
    args = ["ask", "-m", name, "-a", str(image), "what is this?"]
    asked = vendors(*args, *([] if stream else ["--json"]))
    assert asked.returncode == 0, asked.stderr
    assert "what is this?" in asked.stdout
    assert fake.images == [("image/png", PNG_B64)]  # the fake checked the block's shape
