"""Generated bodies at the TCP door, with a token: the OpenAI and Anthropic dialects and the
native routes under /superllm/v1/. None may make a server error (500) or hang (every request
has a timeout far above what an answer takes)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.gateway.conftest import Gateway

ROUTES = [
    "/v1/chat/completions",
    "/v1/messages",
    "/v1/messages/count_tokens",
    "/v1/responses",
    "/v1/embeddings",
    "/superllm/v1/ask",
    "/superllm/v1/consensus",
    "/superllm/v1/debate",
    "/superllm/v1/embed",
]
FIELDS = [
    "model", "messages", "input", "prompt", "models", "stream", "stream_options", "n", "stop",
    "temperature", "top_p", "top_k", "max_tokens", "max_completion_tokens",
    "max_output_tokens", "seed", "system", "instructions", "response_format", "tools",
    "dimensions", "encoding_format", "metadata", "stop_sequences", "rounds", "strategy",
    "judge", "max_cost", "texts", "env", "label",
]  # fmt: skip
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(["fake/gpt-fake", "fake/text-embedding-fake", "nosuch/x", "user", ""])
)
messages = st.lists(
    st.fixed_dictionaries(
        {"role": st.sampled_from(["user", "assistant", "system", "tool", "x"])},
        optional={"content": scalars | st.lists(st.dictionaries(st.text(max_size=6), scalars))},
    ),
    max_size=3,
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
bodies = (
    st.dictionaries(st.sampled_from(FIELDS), values, max_size=7).flatmap(
        lambda d: st.fixed_dictionaries(
            {}, optional={"messages": messages, "model": st.just("fake/gpt-fake")}
        ).map(lambda extra: {**d, **extra})
    )
    | values
)


@pytest.fixture(scope="module")
def web(gateway: Gateway) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=gateway.url,
        headers={"authorization": f"Bearer {gateway.token}"},
        timeout=60,  # an answer takes milliseconds: a hang fails here
    ) as client:
        yield client


@settings(
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(route=st.sampled_from(ROUTES), body=bodies)
def test_generated_bodies_at_the_tcp_door_never_make_a_server_error(
    web: httpx.Client, route: str, body: Any
) -> None:
    raw = json.dumps(body).encode()
    answer = web.post(route, content=raw, headers={"content-type": "application/json"})
    assert answer.status_code < 500 or answer.status_code in (502, 503), answer.text
    assert "Traceback" not in answer.text
    if answer.status_code >= 400:
        assert "error" in answer.json(), answer.text
