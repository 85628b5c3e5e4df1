"""HTTP plumbing shared by the wire dialects: the client pool, SSE, and error mapping.

Everything httpx raises is translated here into the superllm error tree (see
``superllmd.errors``); provider modules never let an httpx exception escape.
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from superllmd.config import ProviderSettings
from superllmd.errors import (
    AuthError,
    BadRequest,
    ContextTooLong,
    ModelNotFound,
    Overloaded,
    PermissionDenied,
    ProtocolError,
    ProviderConnectionError,
    ProviderError,
    ProviderTimeout,
    QuotaExhausted,
    RateLimited,
    ServerError,
)
from superllmd.providers._client import LeanClient
from superllmd.providers.base import Provider, ProviderKind
from superllmd.providers.keys import ResolvedKey

__all__ = [
    "MAX_LIST_PAGES",
    "HttpClients",
    "HttpProvider",
    "SSEEvent",
    "iter_lines",
    "iter_sse",
    "json_object",
    "listed_int",
    "map_status_error",
    "parse_retry_after",
    "redact",
    "translate_transport_errors",
]


_MAX_BASE_URLS = 1024  # base URLs remembered (requests may name their own: a bound)


class HttpClients:
    """One warm ``httpx.AsyncClient`` per (origin, timeout), created on first use.

    Providers get their client here, so tests inject a transport in one place and the daemon
    closes every pool on shutdown.
    """

    def __init__(self, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._transport = transport
        self._fast = transport is None
        self._clients: dict[tuple[str, float], httpx.AsyncClient] = {}
        self._by_url: dict[tuple[str, float], httpx.AsyncClient] = {}

    def get(self, base_url: str, timeout: float) -> httpx.AsyncClient:
        # Every call asks: parse a base URL into its origin only the first time.
        client = self._by_url.get((base_url, timeout))
        if client is not None:
            return client
        url = httpx.URL(base_url)
        key = (f"{url.scheme}://{url.netloc.decode()}", timeout)
        client = self._clients.get(key)
        if client is None:
            transport = self._transport
            if self._fast:
                from httpx_aiohttp import AiohttpTransport

                transport = AiohttpTransport(
                    limits=httpx.Limits(max_connections=256, max_keepalive_connections=64)
                )
            client = LeanClient(
                transport=transport,
                timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
                limits=httpx.Limits(max_connections=256, max_keepalive_connections=64),
                follow_redirects=False,
            )
            self._clients[key] = client
        if len(self._by_url) < _MAX_BASE_URLS:
            self._by_url[(base_url, timeout)] = client
        return client

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        self._by_url = {}
        for client in clients:
            await client.aclose()


#: A models list longer than this many pages is cut (a runaway pager must not loop forever).
MAX_LIST_PAGES = 50


class HttpProvider(Provider):
    """A provider that speaks HTTP: where it lives, its warm client, its key and its errors.

    Dialects subclass it and override ``_error`` only where the vendor's errors need more
    than :func:`map_status_error` (a status it does not know, a better hint).
    """

    def __init__(
        self,
        provider_id: str,
        settings: ProviderSettings,
        kind: ProviderKind,
        environ: Mapping[str, str],
        key_env: tuple[str, ...] = (),
        *,
        base_url: str,
    ) -> None:
        super().__init__(provider_id, settings)
        self.base_url = base_url.rstrip("/")
        self._kind = kind
        self._environ = environ
        self._key_env = key_env

    def _client(self) -> httpx.AsyncClient:
        return self._kind.context.http.get(self.base_url, self.settings.timeout)

    async def _key(self) -> ResolvedKey:
        """The key, or an AuthError naming where one is looked for."""
        return await self._kind.context.keys.require(
            self.id, self.settings, self._key_env, self._environ
        )

    async def _maybe_key(self) -> ResolvedKey | None:
        """The key if there is one (servers that need none: Ollama, a local vLLM)."""
        return await self._kind.context.keys.resolve(
            self.id, self.settings, self._key_env, self._environ
        )

    async def _check(self, response: httpx.Response, model: str, key: ResolvedKey | None) -> None:
        """Raise the mapped error for a non-2xx answer (reading its body first)."""
        if response.status_code < 300:
            return
        body = (await response.aread()).decode(errors="replace")
        raise self._error(response.status_code, response.headers, body, model, key)

    async def _get_json(
        self,
        url: str,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str],
        key: ResolvedKey | None,
        what: str = "a model list",
    ) -> Any:
        """GET ``url`` and parse its JSON body (any JSON value), errors mapped as for a call."""
        async with translate_transport_errors(self.id, self.base_url):
            response = await self._client().get(url, params=params, headers=headers)
            await self._check(response, "", key)
        try:
            return json.loads(response.text)
        except ValueError:
            raise ProtocolError(
                f"{self.id} sent {what} that is not JSON: {redact(response.text[:80])!r}",
                provider=self.id,
            ) from None

    def _error(
        self,
        status: int,
        headers: Mapping[str, str],
        body: str,
        model: str,
        key: ResolvedKey | None,
    ) -> ProviderError:
        return map_status_error(
            self.id,
            status,
            headers,
            body,
            model=model,
            key_source=key.source if key else None,
            secrets=(key.value,) if key else (),
        )


@dataclass(frozen=True, slots=True)
class SSEEvent:
    event: str
    data: str
    id: str | None = None


async def iter_sse(chunks: AsyncIterator[bytes]) -> AsyncIterator[SSEEvent]:
    """Parse a text/event-stream: comments, CR/LF/CRLF, multi-line data, split chunks."""
    buffer = ""
    event, event_id = "", None
    data: list[str] = []
    decoder = _utf8_decoder()
    async for chunk in chunks:
        buffer += decoder.decode(chunk)
        # A trailing CR may be the first half of a CRLF split across chunks: keep it.
        while True:
            match = _EOL.search(buffer)
            if match is None or (match.group() == "\r" and match.end() == len(buffer)):
                break
            line, buffer = buffer[: match.start()], buffer[match.end() :]
            if not line:
                if data or event:
                    yield SSEEvent(event or "message", "\n".join(data), event_id)
                event, data = "", []
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "data":
                data.append(value)
            elif name == "event":
                event = value
            elif name == "id":
                event_id = value
    buffer += decoder.decode(b"", final=True)
    if buffer.rstrip("\r\n") or data:
        # A final event without its blank line: deliver what is complete.
        for line in _EOL.split(buffer):
            if line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
        if data:
            yield SSEEvent(event or "message", "\n".join(data), event_id)


_EOL = re.compile(r"\r\n|\r|\n")


def _utf8_decoder() -> Any:
    import codecs

    return codecs.getincrementaldecoder("utf-8")(errors="replace")


_GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def _go_duration(text: str) -> float | None:
    parts = _GO_DURATION.findall(text)
    if not parts:
        return None
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    return sum(float(n) * scale[u] for n, u in parts)


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait: ``retry-after-ms``, ``retry-after`` (seconds or HTTP date), then the
    OpenAI-style ``x-ratelimit-reset-*`` durations (the longer of the two)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    if (ms := lowered.get("retry-after-ms")) is not None:
        try:
            return max(float(ms) / 1000, 0.0)
        except ValueError:
            pass
    if (ra := lowered.get("retry-after")) is not None:
        try:
            return max(float(ra), 0.0)
        except ValueError:
            parsed = email.utils.parsedate_to_datetime(ra) if ra else None
            if parsed is not None:
                return max(parsed.timestamp() - (time.time() if now is None else now), 0.0)
    resets = [
        d
        for name in ("x-ratelimit-reset-requests", "x-ratelimit-reset-tokens")
        if (v := lowered.get(name)) and (d := _go_duration(v)) is not None
    ]
    return max(resets) if resets else None


_KEYLIKE = re.compile(r"\b(sk|pk|rk|key|api)[-_][A-Za-z0-9*_\-]{6,}", re.IGNORECASE)


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Remove secrets, and anything shaped like an API key, from a provider's message."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    return _KEYLIKE.sub(lambda m: m.group(1) + "-[redacted]", text)


def _error_fields(body: str) -> tuple[str, str, str]:
    """(message, type, code) from an error body of any of the dialects' shapes."""
    try:
        data = json.loads(body)
    except ValueError:
        return body.strip()[:300], "", ""
    err: Any = data.get("error", data) if isinstance(data, dict) else data
    if isinstance(err, str):
        return err, "", ""
    if not isinstance(err, dict):
        return str(err)[:300], "", ""
    message = err.get("message") or err.get("detail") or json.dumps(err)[:300]
    code = err.get("code")
    details = err.get("details")
    if not code and isinstance(details, dict):  # Anthropic: error.details.error_code
        code = details.get("error_code")
    return str(message), str(err.get("type") or err.get("status") or ""), str(code or "")


_CONTEXT_WORDS = re.compile(r"context.length|context window|too many tokens|too long", re.I)
_QUOTA_CODES = {"insufficient_quota", "enforced_spend_limit_reached", "billing_hard_limit_reached"}


def map_status_error(
    provider: str,
    status: int,
    headers: Mapping[str, str],
    body: str,
    *,
    model: str,
    key_source: str | None,
    secrets: tuple[str, ...] = (),
) -> ProviderError:
    """Turn a non-2xx answer into the error tree, with a message that says what to do."""
    message, kind, code = _error_fields(body)
    message = redact(message, secrets)
    said = f"{provider} said ({status}): {message}" if message else f"{provider} answered {status}"
    key_hint = f"the key from {key_source}" if key_source else "no API key"
    extra: dict[str, Any] = {"provider": provider, "status": status}
    if code in _QUOTA_CODES or kind in _QUOTA_CODES or status == 402:
        return QuotaExhausted(f"{said}. Add credit or raise the spend limit.", **extra)
    if status == 401:
        return AuthError(
            f"{said}. {provider} rejected {key_hint}; set a valid one with "
            f"`superllm keys set {provider}`.",
            **extra,
        )
    if status == 403:
        return PermissionDenied(f"{said}. Check the key's project and permissions.", **extra)
    if status == 404:
        return ModelNotFound(
            f"{said}. Check the model name {provider}/{model} (`superllm models`).", **extra
        )
    if status == 429:
        retry_after = parse_retry_after(headers)
        return RateLimited(f"{said}. Rate limited; retry later.", retry_after=retry_after, **extra)
    if status == 408:
        return ProviderTimeout(f"{said}. The request timed out upstream.", **extra)
    if status == 413 or code == "context_length_exceeded" or _CONTEXT_WORDS.search(message):
        return ContextTooLong(f"{said}. Shorten the input or use a larger model.", **extra)
    if status in {503, 529} or "overload" in kind.lower():
        return Overloaded(f"{said}. The service is overloaded; retry later.", **extra)
    if status >= 500:
        return ServerError(f"{said}. A server error upstream; retry later.", **extra)
    return BadRequest(f"{said}.", **extra)


def _causes(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _kind_of(exc: httpx.TransportError) -> str:
    """timeout, broken or unreachable, read from the whole cause chain: the aiohttp transport
    reports a refused connection, and a reset, as a ConnectTimeout."""
    import aiohttp

    causes = _causes(exc)
    if any(isinstance(c, aiohttp.ClientConnectorError) for c in causes):
        return "unreachable"  # checked first: it is a kind of ClientOSError
    broken = aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError | aiohttp.ClientOSError
    if any(isinstance(c, broken) for c in causes) or isinstance(
        exc, httpx.RemoteProtocolError | httpx.ReadError
    ):
        return "broken"
    if isinstance(exc, httpx.TimeoutException) or any(isinstance(c, TimeoutError) for c in causes):
        return "timeout"
    return "unreachable"


@asynccontextmanager
async def translate_transport_errors(provider: str, base_url: str) -> AsyncIterator[None]:
    """Map the transport's exceptions onto the error tree, naming the endpoint."""
    try:
        yield
    except httpx.TransportError as exc:
        kind = _kind_of(exc)
        if kind == "timeout":
            raise ProviderTimeout(
                f"{provider} at {base_url} did not answer in time; retry, or raise "
                f"providers.{provider}.timeout",
                provider=provider,
            ) from None
        if kind == "broken":
            raise ProtocolError(
                f"the connection to {provider} at {base_url} broke mid-answer; retry",
                provider=provider,
            ) from None
        raise ProviderConnectionError(
            f"cannot reach {provider} at {base_url}. Is it running? Check "
            f"providers.{provider}.base_url",
            provider=provider,
        ) from None


async def iter_lines(chunks: AsyncIterator[bytes]) -> AsyncIterator[str]:
    """Lines of a byte stream (NDJSON, Gemini's raw error lines), split on CR, LF or CRLF.

    Partial lines are buffered across chunks; a last line without its newline is still
    yielded, so a body cut mid-line surfaces as unparseable JSON rather than vanishing.
    """
    buffer = ""
    decoder = _utf8_decoder()
    async for chunk in chunks:
        buffer += decoder.decode(chunk)
        while True:
            match = _EOL.search(buffer)
            if match is None or (match.group() == "\r" and match.end() == len(buffer)):
                break
            line, buffer = buffer[: match.start()], buffer[match.end() :]
            yield line
    buffer += decoder.decode(b"", final=True)
    for line in _EOL.split(buffer):
        if line:
            yield line


def json_object(provider: str, data: str, what: str = "a stream event") -> dict[str, Any]:
    """Parse one JSON object from a provider, or raise ProtocolError saying what broke."""
    try:
        value = json.loads(data)
    except ValueError:
        raise ProtocolError(
            f"{provider} sent {what} that is not JSON: {redact(data[:80])!r}", provider=provider
        ) from None
    if not isinstance(value, dict):
        raise ProtocolError(f"{provider} sent {what} that is not an object", provider=provider)
    return value


def listed_int(value: Any) -> int | None:
    """A token limit from a vendor's model list, or None for anything that is not one."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = int(value)
    except ValueError:
        return None
    return number if number > 0 else None
