"""A conformance suite for wire dialects, shipped for plugin authors.

It checks the provider boundary against a fake vendor server: answers and usage, streams
that join up, cut streams that raise instead of passing for short answers, every error status
mapped into ``superllmd.errors`` with the right retry flags and hints, timeouts, and the
request as the vendor expects it. Retries and fallbacks are the daemon's business, not a
provider's, so they are not checked here. Every built-in dialect passes it, and
``superllm providers new NAME`` writes a package whose tests run it.

A plugin author describes the dialect once and runs every check::

    from superllmd.testing.conformance import CHECKS, KEY, Dialect, check_id, run_check

    MINE = Dialect(name="mine", kind=MyKind, fake=FakeMine, check_request=check_mine_request,
                   auth_header=("authorization", "Bearer " + KEY), retry_after=1.0)

    @pytest.mark.parametrize("check", CHECKS, ids=check_id)
    def test_mine(check, tmp_path):
        run_check(MINE, check, tmp_path)

The fake (usually built on :mod:`superllmd.testing.server`) follows these conventions:
behaviour chosen by the model name (``echo``: answer ``echo: <last user message>``, in
pieces when streamed; ``slow``: sleep ``delay`` seconds between pieces; ``truncated``: stop
the stream without its end marker; ``reset``: reset the connection mid-stream;
``midstream-error``: an in-band error after some text; ``error-<status>``: that status with
the vendor's error body; ``badjson``: a 500 with an HTML body; ``leaky``: a 401 whose message
quotes the key), an attribute ``delay``, ``requests`` (what it received), ``models`` (the
ids its models list endpoint serves, for a dialect with ``lists_models``), and usage counted
in words: prompt = words of the system prompt and messages, output = words of the answer,
cached = prompt // 2 once prompt >= 8 (if the vendor reports a cache at all).

This module is test tooling: the daemon and the CLI never import it.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from superllmd.providers import (
    AuthError,
    ChatRequest,
    Completion,
    HttpClients,
    KindContext,
    Message,
    ModelNotFound,
    Overloaded,
    ProtocolError,
    Provider,
    ProviderConnectionError,
    ProviderError,
    ProviderKind,
    ProviderSettings,
    ProviderTimeout,
    RateLimited,
    ServedModel,
    ServerError,
    TextDelta,
    TokenUsage,
)
from superllmd.providers.keys import KeyResolver
from superllmd.testing.server import FakeRequest

__all__ = [
    "ANSWER",
    "CHECKS",
    "KEY",
    "KEY_ENV",
    "SYSTEM",
    "USER",
    "Check",
    "Dialect",
    "FakeVendor",
    "Harness",
    "check_id",
    "expected_usage",
    "run_check",
    "standard_request",
]

SYSTEM = "You are a terse and careful assistant."
USER = "say hello there world"
ANSWER = f"echo: {USER}"
# Not shaped like a vendor key, so only real redaction (not the key-pattern net) hides it.
KEY = "tq4Hq9ZmW2pLx7Vr0c"
KEY_ENV = "SUPERLLM_TEST_KEY"


def standard_request(model: str = "echo", **changes: Any) -> ChatRequest:
    """The request every check sends: a system prompt, one user turn, sampling settings."""
    request = ChatRequest(
        model=model,
        messages=(Message("system", SYSTEM), Message("user", USER)),
        temperature=0.25,
        max_tokens=77,
        stop=("END",),
    )
    return replace(request, **changes)


class FakeVendor(Protocol):
    delay: float

    @property
    def base_url(self) -> str: ...

    @property
    def requests(self) -> list[FakeRequest]: ...

    def start(self) -> Any: ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class Dialect:
    """How to build one dialect's provider and fake, and what its wire must look like."""

    name: str
    kind: Callable[[KindContext], ProviderKind]
    fake: Callable[[], FakeVendor]
    # Asserts the fake received the right path, headers and body for (request, stream).
    check_request: Callable[[FakeRequest, ChatRequest, bool], None]
    auth_header: tuple[str, str]
    retry_after: float | None  # what a 429 from the fake must parse to
    server_errors: tuple[int, ...] = (500, 503)
    reports_cache: bool = True
    key_required: bool = True
    slow_complete: bool = True  # the fake's "slow" also delays a non-streamed answer
    #: Whether ``served_models`` asks the fake's models list (else it gives the configured).
    lists_models: bool = False
    base_url: Callable[[FakeVendor], str] = lambda fake: fake.base_url


def expected_usage(dialect: Dialect, request: ChatRequest | None = None) -> TokenUsage:
    request = request or standard_request()
    prompt = sum(len(m.content.split()) for m in request.messages)
    cached = prompt // 2 if prompt >= 8 and dialect.reports_cache else 0
    return TokenUsage(input_tokens=prompt, output_tokens=len(ANSWER.split()), cached_tokens=cached)


class Harness:
    """A started fake, a fresh connection pool, and providers pointed at the fake."""

    def __init__(self, dialect: Dialect, tmp_path: Path) -> None:
        self.dialect = dialect
        self.fake = dialect.fake()
        self.http = HttpClients()
        self.kind = dialect.kind(
            KindContext(http=self.http, keys=KeyResolver(use_keyring=False), models_dir=tmp_path)
        )

    async def __aenter__(self) -> Harness:
        self.fake.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()
        self.fake.stop()

    def provider(
        self,
        *,
        timeout: float = 10.0,
        environ: Mapping[str, str] | None = None,
        **settings: Any,
    ) -> Provider:
        """A provider for the fake; ``settings`` override the ProviderSettings fields."""
        values = {"base_url": self.dialect.base_url(self.fake), "api_key_env": KEY_ENV}
        config = ProviderSettings(**{**values, "timeout": timeout, **settings})
        env = {KEY_ENV: KEY} if environ is None else environ
        return self.kind.create("test", config, env)

    async def stream(
        self, request: ChatRequest, provider: Provider | None = None
    ) -> tuple[list[str], list[Completion]]:
        deltas: list[str] = []
        finals: list[Completion] = []
        async for item in (provider or self.provider()).stream(request):
            if isinstance(item, TextDelta):
                assert not finals, "a TextDelta came after the Completion"
                deltas.append(item.text)
            elif isinstance(item, Completion):
                finals.append(item)
            else:
                assert not finals, "a ToolCallDelta came after the Completion"
        assert len(finals) == 1, f"a stream must end with exactly one Completion: {finals}"
        return deltas, finals

    async def fails(
        self,
        call: Callable[[], Awaitable[object]],
        expected: type[ProviderError] | tuple[type[ProviderError], ...],
    ) -> ProviderError:
        """Run ``call``, assert it raises ``expected``, and that the key does not leak."""
        try:
            await call()
        except ProviderError as exc:
            assert isinstance(exc, expected), f"{type(exc).__name__}: {exc}"
            assert KEY not in str(exc) and KEY not in repr(exc.to_dict()), "the key leaked"
            return exc
        raise AssertionError(f"expected {expected}, got an answer")

    def last_request(self) -> FakeRequest:
        return self.fake.requests[-1]


Check = Callable[[Harness], Awaitable[None]]


async def check_complete(h: Harness) -> None:
    done = await h.provider().complete(standard_request())
    assert done.text == ANSWER
    assert done.usage == expected_usage(h.dialect)
    assert done.finish_reason == "stop"


async def check_stream(h: Harness) -> None:
    deltas, (final,) = await h.stream(standard_request())
    assert len(deltas) >= 2, "the answer should arrive in pieces"
    assert "".join(deltas) == final.text == ANSWER
    assert final.usage == expected_usage(h.dialect)
    assert final.finish_reason == "stop"


async def check_truncated_stream(h: Harness) -> None:
    await h.fails(lambda: h.stream(standard_request("truncated")), ProtocolError)


async def check_reset_stream(h: Harness) -> None:
    expected = (ProtocolError, ProviderConnectionError)
    await h.fails(lambda: h.stream(standard_request("reset")), expected)


async def check_midstream_error(h: Harness) -> None:
    exc = await h.fails(lambda: h.stream(standard_request("midstream-error")), ProviderError)
    assert isinstance(exc, ServerError | Overloaded), f"{type(exc).__name__}: {exc}"
    assert exc.retryable


async def check_auth_error(h: Harness) -> None:
    for model in ("error-401", "leaky"):
        call = partial(h.provider().complete, standard_request(model))
        exc = await h.fails(call, AuthError)
        assert f"${KEY_ENV}" in exc.message, "the message should name where the key came from"
        assert not exc.retryable


async def check_missing_key(h: Harness) -> None:
    provider = h.provider(environ={})
    if h.dialect.key_required:
        exc = await h.fails(lambda: provider.complete(standard_request()), AuthError)
        assert f"${KEY_ENV}" in exc.message
        assert not h.fake.requests, "nothing should be sent without a key"
    else:
        assert (await provider.complete(standard_request())).text == ANSWER
        assert h.dialect.auth_header[0] not in h.last_request().headers


async def check_not_found(h: Harness) -> None:
    exc = await h.fails(lambda: h.provider().complete(standard_request("error-404")), ModelNotFound)
    assert not exc.retryable


async def check_rate_limited(h: Harness) -> None:
    calls: list[Callable[[ChatRequest], Awaitable[object]]] = [h.provider().complete, h.stream]
    for call in calls:
        exc = await h.fails(partial(call, standard_request("error-429")), RateLimited)
        assert isinstance(exc, RateLimited) and exc.retryable
        expected = h.dialect.retry_after
        if expected is None:
            assert exc.retry_after is None
        else:
            assert exc.retry_after is not None and math.isclose(exc.retry_after, expected)


async def check_server_errors(h: Harness) -> None:
    for status in h.dialect.server_errors:
        request = standard_request(f"error-{status}")
        exc = await h.fails(partial(h.provider().complete, request), (ServerError, Overloaded))
        assert exc.retryable
        if status in (503, 529):
            assert isinstance(exc, Overloaded), f"{status}: {type(exc).__name__}"


async def check_timeout(h: Harness) -> None:
    h.fake.delay = 1.5
    provider = h.provider(timeout=0.3)
    await h.fails(lambda: h.stream(standard_request("slow"), provider), ProviderTimeout)
    if h.dialect.slow_complete:
        await h.fails(lambda: provider.complete(standard_request("slow")), ProviderTimeout)


async def check_non_json_error(h: Harness) -> None:
    exc = await h.fails(lambda: h.provider().complete(standard_request("badjson")), ProviderError)
    assert exc.retryable, "a 5xx with an HTML body is still a server error"
    assert "test" in exc.message and len(exc.message) < 600
    assert "Traceback" not in exc.message and "JSONDecodeError" not in exc.message


async def check_served_models(h: Harness) -> None:
    """``served_models`` is what the server lists (with the key sent as for a call), or, for
    a dialect without ``lists_models``, what ``list_models`` offers; never an empty guess."""
    provider = h.provider(models=["configured-one"])
    served = await provider.served_models()
    assert isinstance(served, list), served
    assert all(isinstance(m, ServedModel) and isinstance(m.id, str) and m.id for m in served)
    ids = [m.id for m in served]
    if not h.dialect.lists_models:
        assert ids == await provider.list_models(), ids
        return
    expected = list(getattr(h.fake, "models", ()))
    assert expected, "a fake for a listing dialect names its models in `models`"
    # A subset: a dialect may leave out what cannot chat (Gemini's embedding models).
    assert ids and set(ids) <= set(expected), f"listed {ids}, the fake serves {expected}"
    name, value = h.dialect.auth_header
    sent = h.last_request()
    assert sent.method == "GET" and sent.headers.get(name) == value, sent.target
    if h.dialect.key_required:
        await h.fails(lambda: h.provider(environ={}).served_models(), AuthError)


async def check_request_shape(h: Harness) -> None:
    name, value = h.dialect.auth_header
    cases = [
        (standard_request(), False),
        (standard_request(), True),
        (standard_request(json_output=True), False),
    ]
    for request, stream in cases:
        if stream:
            await h.stream(request)
        else:
            await h.provider().complete(request)
        sent = h.last_request()
        assert sent.headers.get(name) == value, f"{name}: {sent.headers.get(name)!r}"
        h.dialect.check_request(sent, request, stream)


CHECKS: list[Check] = [
    check_complete,
    check_stream,
    check_truncated_stream,
    check_reset_stream,
    check_midstream_error,
    check_auth_error,
    check_missing_key,
    check_not_found,
    check_rate_limited,
    check_server_errors,
    check_timeout,
    check_non_json_error,
    check_request_shape,
    check_served_models,
]


def check_id(check: Check) -> str:
    return getattr(check, "__name__", repr(check)).removeprefix("check_")


def run_check(dialect: Dialect, check: Check, tmp_path: Path) -> None:
    async def main() -> None:
        async with Harness(dialect, tmp_path) as harness:
            await check(harness)

    asyncio.run(main())
