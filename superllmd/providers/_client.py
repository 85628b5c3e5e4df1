"""The providers' ``httpx.AsyncClient``: httpx's own, less what a provider call never uses.

Every provider call goes through one of these (``_http.HttpClients``). At gateway rates the
per-request work of a stock client is a fair part of a call's cost, and two pieces of it do
nothing for a provider:

- cookies: a provider's ``Set-Cookie`` was parsed into the client's jar (through urllib's
  cookie machinery, on every response) and sent back on the next call, whoever made it; a
  pooled client shared by every caller must not carry one caller's cookies into another's
  call, so the jar stays empty and responses are not parsed for cookies;
- the ``HTTP Request: POST ...`` INFO line httpx logs per call (a record built per call for
  the daemon's log, which calls already reach through the ledger).

And URLs: the few URLs a daemon calls (``{base_url}/chat/completions``, ...) are parsed once,
not on every request. Everything else (timeouts, the transport, streaming, errors) is
httpx's.
"""

from __future__ import annotations

import time

import httpx
from httpx._client import BoundAsyncStream

__all__ = ["LeanClient"]

_MAX_URLS = 256  # distinct URLs kept parsed (a daemon calls a handful)


class LeanClient(httpx.AsyncClient):
    """``httpx.AsyncClient`` without cookies or the per-request log line (see above)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._parsed: dict[str, httpx.URL] = {}

    def _merge_url(self, url: httpx.URL | str) -> httpx.URL:
        if not isinstance(url, str):
            return super()._merge_url(url)
        found = self._parsed.get(url)
        if found is None:
            found = super()._merge_url(url)
            if len(self._parsed) >= _MAX_URLS:
                self._parsed.clear()
            self._parsed[url] = found
        return found

    async def _send_single_request(self, request: httpx.Request) -> httpx.Response:
        # httpx's own, less ``self.cookies.extract_cookies(response)`` and the log line.
        transport = self._transport_for_url(request.url)
        start = time.perf_counter()
        if not isinstance(request.stream, httpx.AsyncByteStream):
            raise RuntimeError("Attempted to send a sync request with an AsyncClient instance.")
        try:
            response = await transport.handle_async_request(request)
        except httpx.RequestError as exc:  # as httpx's request_context does
            exc.request = request
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.request = request
        response.stream = BoundAsyncStream(response.stream, response=response, start=start)
        response.default_encoding = self._default_encoding
        return response
