"""The providers' pooled client: httpx's, without a cookie jar shared between callers."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from superllmd.providers._http import HttpClients


def test_a_providers_cookie_is_not_sent_on_the_next_call() -> None:
    seen: list[str | None] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("cookie"))
        return httpx.Response(200, headers={"set-cookie": "session=caller-a; Path=/"}, json={})

    async def go() -> None:
        http = HttpClients(httpx.MockTransport(answer))
        client = http.get("https://api.example.com/v1", 30.0)
        assert http.get("https://api.example.com/v1", 30.0) is client
        for _ in range(2):
            response = await client.post("https://api.example.com/v1/chat/completions", json={})
            assert response.status_code == 200 and response.json() == {}
        assert not client.cookies
        await http.aclose()

    asyncio.run(go())
    assert seen == [None, None]


def test_transport_errors_carry_their_request() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    async def go() -> None:
        http = HttpClients(httpx.MockTransport(refuse))
        client = http.get("https://api.example.com/v1", 30.0)
        with pytest.raises(httpx.ConnectError) as caught:
            await client.get("https://api.example.com/v1/models")
        assert caught.value.request.url == "https://api.example.com/v1/models"
        await http.aclose()

    asyncio.run(go())
