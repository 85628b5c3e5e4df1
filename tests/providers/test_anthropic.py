"""Anthropic specifics: prompt-cache marking and cache usage, spend limits, JSON prefill."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from superllmd.errors import Overloaded, QuotaExhausted
from superllmd.providers.base import Message, TokenUsage
from tests.providers.conformance import Harness, run_check, standard_request
from tests.providers.test_conformance import dialect

ANTHROPIC = dialect("anthropic")
LONG = "word " * 1100  # 5500 characters: past the ~1024-token (4096-character) threshold
EPHEMERAL = {"type": "ephemeral"}


def run(check: Any, tmp_path: Path) -> None:
    run_check(ANTHROPIC, check, tmp_path)


def test_a_long_system_prompt_is_marked_for_caching(tmp_path: Path) -> None:
    async def check(h: Harness) -> None:
        await h.provider().complete(
            standard_request(messages=(Message("system", LONG), Message("user", "hi")))
        )
        body = h.last_request().json()
        assert body["system"] == [{"type": "text", "text": LONG, "cache_control": EPHEMERAL}]
        assert body["messages"] == [{"role": "user", "content": "hi"}], "one turn: no prefix"

    run(check, tmp_path)


def test_a_short_prompt_is_not_marked(tmp_path: Path) -> None:
    async def check(h: Harness) -> None:
        turns = (Message("user", "a"), Message("assistant", "b"), Message("user", "c"))
        await h.provider().complete(standard_request(messages=turns))
        body = h.last_request().json()
        assert "cache_control" not in str(body)

    run(check, tmp_path)


def test_a_long_conversation_prefix_is_marked_on_the_last_but_one_turn(tmp_path: Path) -> None:
    async def check(h: Harness) -> None:
        turns = (
            Message("system", "be brief"),
            Message("user", LONG),
            Message("assistant", "noted"),
            Message("user", "and now?"),
        )
        await h.provider().complete(standard_request(messages=turns))
        body = h.last_request().json()
        assert body["system"] == "be brief"
        assert body["messages"] == [
            {"role": "user", "content": LONG},
            {
                "role": "assistant",
                "content": [{"type": "text", "text": "noted", "cache_control": EPHEMERAL}],
            },
            {"role": "user", "content": "and now?"},
        ]

    run(check, tmp_path)


def test_cache_writes_and_reads_count_as_input(tmp_path: Path) -> None:
    # The fake reports input_tokens 10, cache_creation 20, cache_read 30.
    expected = TokenUsage(input_tokens=60, output_tokens=5, cached_tokens=30, cache_write_tokens=20)

    async def check(h: Harness) -> None:
        assert (await h.provider().complete(standard_request("cache"))).usage == expected
        _, (final,) = await h.stream(standard_request("cache"))
        assert final.usage == expected

    run(check, tmp_path)


def test_spend_limit_is_quota_not_rate_limit(tmp_path: Path) -> None:
    async def check(h: Harness) -> None:
        exc = await h.fails(
            lambda: h.provider().complete(standard_request("spendlimit")), QuotaExhausted
        )
        assert not exc.retryable and "spend limit" in exc.message

    run(check, tmp_path)


def test_overloaded_mid_stream_is_overloaded(tmp_path: Path) -> None:
    async def check(h: Harness) -> None:
        exc = await h.fails(lambda: h.stream(standard_request("midstream-error")), Overloaded)
        assert exc.retryable

    run(check, tmp_path)


def test_json_output_prefills_an_open_brace(tmp_path: Path) -> None:
    async def check(h: Harness) -> None:
        request = standard_request(json_output=True)
        done = await h.provider().complete(request)
        assert done.text == "{echo: say hello there world"
        deltas, (final,) = await h.stream(request)
        assert deltas[0] == "{" and final.text == done.text
        # A caller's own prefill, or output_config, replaces ours.
        own = standard_request(
            json_output=True,
            messages=(Message("user", "hi"), Message("assistant", "[")),
        )
        await h.provider().complete(own)
        assert h.last_request().json()["messages"][-1] == {"role": "assistant", "content": "["}
        schema = {"format": {"type": "json_schema", "schema": {"type": "object"}}}
        await h.provider().complete(
            standard_request(json_output=True, options={"output_config": schema})
        )
        body = h.last_request().json()
        assert body["output_config"] == schema
        assert body["messages"][-1]["role"] == "user"

    run(check, tmp_path)


def test_max_tokens_defaults_because_anthropic_requires_it(tmp_path: Path) -> None:
    async def check(h: Harness) -> None:
        await h.provider().complete(standard_request(max_tokens=None))
        assert h.last_request().json()["max_tokens"] == 4096

    run(check, tmp_path)


def test_a_base_url_with_v1_is_forgiven_and_models_are_listed(tmp_path: Path) -> None:
    async def check(h: Harness) -> None:
        provider = h.provider(base_url=h.fake.base_url + "/v1/")
        assert (await provider.complete(standard_request())).text.startswith("echo:")
        assert h.last_request().path == "/v1/messages"
        assert await provider.list_models() == ["claude-fake", "echo"]

    run(check, tmp_path)
