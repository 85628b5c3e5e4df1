"""Virtual models: the modes behind a model name, through both vendor SDKs."""

from __future__ import annotations

import anthropic
import openai
import pytest

from superllmd.errors import UsageError
from superllmd.gateway import virtual
from tests.gateway.conftest import Gateway

PANEL = "consensus:fake/one,claude/claude-fake,gem/gemini-fake"


def test_parse_names_mode_models_and_options() -> None:
    v = virtual.parse("consensus:a/x,b/y?strategy=vote&rounds=2&require_agreement=true&k=z")
    assert v is not None
    assert (v.mode, v.models) == ("consensus", ("a/x", "b/y"))
    body = v.request({"prompt": "p", "model": "ignored", "stop": ["s"]})
    assert body["models"] == ["a/x", "b/y"] and body["strategy"] == "vote"
    assert body["rounds"] == 2 and body["require_agreement"] is True
    assert body.get("mode_options") == {"k": "z"}
    assert "stop" not in body and "model" not in body
    redteam = virtual.parse("redteam:a/x")
    assert redteam is not None and redteam.mode == "adversarial"
    assert virtual.parse("consensus") is not None  # the default panel
    for plain in ("openai/gpt-4.1", "cheapest:vision", "ollama/llama3:8b", "consensus:"):
        assert virtual.parse(plain) is None
    with pytest.raises(UsageError):
        virtual.parse("debate:a/x?rounds=many")


@pytest.fixture
def oai(gateway: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.openai_base, api_key=gateway.token, max_retries=0)


def test_consensus_as_a_model(oai: openai.OpenAI) -> None:
    reply = oai.chat.completions.create(
        model=PANEL + "?strategy=vote", messages=[{"role": "user", "content": "same words"}]
    )
    assert "same words" in (reply.choices[0].message.content or "")
    ext = (reply.model_extra or {})["superllm"]
    assert ext["mode"] == "consensus"
    assert [p["model"] for p in ext["participants"]] == [
        "fake/one",
        "claude/claude-fake",
        "gem/gemini-fake",
    ]
    assert "agreement" in ext and "report" in ext
    # usage is the sum of every call
    assert reply.usage is not None
    assert reply.usage.completion_tokens == sum(
        p["usage"]["output_tokens"] for p in ext["participants"]
    ) + ((ext["judge"] or {}).get("usage", {}).get("output_tokens", 0))


def test_usage_and_cost_are_the_sum_of_every_call(oai: openai.OpenAI) -> None:
    priced = "consensus:openai/gpt-4o-mini,openai/gpt-4.1-mini?strategy=vote"
    reply = oai.chat.completions.create(
        model=priced, messages=[{"role": "user", "content": "same words"}]
    )
    ext = (reply.model_extra or {})["superllm"]
    calls = [*ext["participants"], *([ext["judge"]] if ext["judge"] else [])]
    assert ext["cost_usd"] > 0, "the cost travels in the superllm key"
    assert ext["cost_usd"] == pytest.approx(sum(c["cost_usd"] for c in calls))
    assert reply.usage is not None
    assert reply.usage.prompt_tokens == sum(c["usage"]["input_tokens"] for c in calls)
    chunks = list(
        oai.chat.completions.create(
            model=priced,
            messages=[{"role": "user", "content": "same words"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    last = (chunks[-1].model_extra or {})["superllm"]
    assert last["cost_usd"] == pytest.approx(ext["cost_usd"])


def test_consensus_stream_carries_progress_apart_from_content(oai: openai.OpenAI) -> None:
    chunks = list(
        oai.chat.completions.create(
            model=PANEL + "?strategy=vote",
            messages=[{"role": "user", "content": "same words"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "same words" in text
    progress = [(c.model_extra or {}).get("superllm") for c in chunks]
    events = [p["event"]["type"] for p in progress if p and "event" in p]
    assert "run.started" in events and "message" in events
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_debate_through_anthropic(gateway: Gateway) -> None:
    client = anthropic.Anthropic(base_url=gateway.url, api_key=gateway.token, max_retries=0)
    with client.messages.stream(
        model="debate:fake/one,fake/two?rounds=1",
        max_tokens=64,
        messages=[{"role": "user", "content": "same words"}],
    ) as stream:
        list(stream)
        final = stream.get_final_message()
    assert final.content[0].type == "text" and final.content[0].text
    reply = client.messages.create(
        model="debate:fake/one,fake/two?rounds=1",
        max_tokens=64,
        messages=[{"role": "user", "content": "same words"}],
    )
    assert (reply.model_extra or {})["superllm"]["mode"] == "debate"


def test_redteam_as_a_model(oai: openai.OpenAI) -> None:
    reply = oai.chat.completions.create(
        model="redteam:fake/one,fake/two", messages=[{"role": "user", "content": "a plan"}]
    )
    assert reply.choices[0].message.content
    assert (reply.model_extra or {})["superllm"]["mode"] == "redteam"


def test_a_synthesised_answer_streams_token_by_token(oai: openai.OpenAI) -> None:
    # The synthesis is a provider call (the judge, the OpenAI fake echoing word by word):
    # its deltas are the content as they come, not one chunk at the end.
    chunks = list(
        oai.chat.completions.create(
            model=PANEL + "?strategy=synthesize&judge=fake/gpt-fake",
            messages=[{"role": "user", "content": "tell me a few words"}],
            stream=True,
        )
    )
    content = [
        c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content
    ]
    assert len(content) > 5, content
    closing = next(i for i, c in enumerate(chunks) if c.choices and c.choices[0].finish_reason)
    ext = (chunks[closing].model_extra or {})["superllm"]
    assert ext["judge"]["task"] == "synthesis"
    assert "".join(content) == ext["judge"]["answer"]  # shown once, not again at the end
    # The participants' progress stays in the extension; the synthesis's deltas do not.
    events = [(c.model_extra or {}).get("superllm", {}).get("event", {}) for c in chunks[:closing]]
    assert any(e.get("type") == "delta" for e in events)
    assert not any(e.get("type") == "judge.delta" for e in events)
    # Content came while the run was going, before its end: after the first progress event.
    first_content = next(
        i for i, c in enumerate(chunks) if c.choices and c.choices[0].delta.content
    )
    assert first_content < closing - 5
