"""A token's rpm and tpm across instances, counted in PostgreSQL (ledger/shared_limits.py).

Two TokenLimits, each on its own PostgreSQL ledger (two instances), share one token's
windows: what one admits counts on the other."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from superllmd.errors import GatewayRateLimited
from superllmd.gateway import GatewayToken
from superllmd.gateway.auth import TokenAuth
from superllmd.gateway.limits import TokenLimits
from superllmd.ledger.pg import PgLedger
from superllmd.ledger.shared_limits import SharedLimits
from superllmd.providers.base import Completion, TokenUsage

pytestmark = pytest.mark.postgres


def _pair(url: str) -> tuple[list[PgLedger], list[TokenLimits]]:
    ledgers = [PgLedger.open(url), PgLedger.open(url)]
    return ledgers, [TokenLimits(shared=SharedLimits(ledger)) for ledger in ledgers]


def test_requests_per_minute_hold_across_instances(pg_url: str) -> None:
    token = GatewayToken("ci", rpm=5)

    async def main() -> list[Any]:
        ledgers, limits = _pair(pg_url)
        seen: list[Any] = []
        try:
            for i in range(7):
                try:
                    headers = dict(await limits[i % 2].check(token))
                    seen.append(int(headers[b"x-ratelimit-remaining-requests"]))
                except GatewayRateLimited as exc:
                    seen.append(("refused", exc.details["retry_after"]))
            # Another token is counted apart.
            assert await limits[1].check(GatewayToken("other", rpm=1))
        finally:
            for ledger in ledgers:
                await ledger.aclose()
        return seen

    seen = asyncio.run(main())
    assert seen[:5] == [4, 3, 2, 1, 0]
    assert [s[0] for s in seen[5:]] == ["refused", "refused"]
    assert all(1 <= s[1] <= 60 for s in seen[5:])


def test_tokens_per_minute_settled_on_one_instance_count_on_the_other(pg_url: str) -> None:
    token = GatewayToken("ci", tpm=100)

    async def main() -> None:
        ledgers, limits = _pair(pg_url)
        try:
            assert await limits[0].check(token)
            call: Any = SimpleNamespace(run=SimpleNamespace(token="ci"))
            done = Completion("x", TokenUsage(60, 40))
            limits[0].after_call(call, "ok", done, None, 0.0, 5)
            await ledgers[0].barrier()
            with pytest.raises(GatewayRateLimited, match="100 tokens per minute"):
                await limits[1].check(token)
        finally:
            for ledger in ledgers:
                await ledger.aclose()

    asyncio.run(main())


class _OneToken:
    """The token store of a door that knows one token."""

    def __init__(self, token: GatewayToken) -> None:
        self.token = token

    async def check(self, secret: str) -> GatewayToken | None:
        return self.token if secret == "s3cret" else None


def test_a_429_tells_of_every_instances_window_not_this_ones(pg_url: str) -> None:
    token = GatewayToken("ci", rpm=2)

    async def never(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("a refused request reached the app")

    async def main() -> list[Any]:
        ledgers, limits = _pair(pg_url)
        sent: list[Any] = []

        async def send(message: Any) -> None:
            sent.append(message)

        try:
            for _ in range(2):  # the other instance used the minute's requests up
                await limits[0].check(token)
            door = TokenAuth(never, _OneToken(token), limits[1])  # type: ignore[arg-type]
            scope = {"type": "http", "headers": [(b"authorization", b"Bearer s3cret")]}
            await door(scope, _no_body, send)
        finally:
            for ledger in ledgers:
                await ledger.aclose()
        return sent

    start = asyncio.run(main())[0]
    assert start["status"] == 429
    headers = dict(start["headers"])
    assert headers[b"x-ratelimit-limit-requests"] == b"2"
    assert headers[b"x-ratelimit-remaining-requests"] == b"0"  # this instance had seen none
    assert 1 <= int(headers[b"retry-after"]) <= 60


async def _no_body() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}
