"""The token store on a real ledger with a clock the test moves: a token that expires, or
is revoked, while its lookup is cached (a keep-alive connection's next request) is refused
at once; only a hash is kept; secrets are compared in constant time."""

from __future__ import annotations

import asyncio
import hmac
from pathlib import Path

import pytest

from superllmd.gateway import tokens as tokens_module
from superllmd.gateway.tokens import CACHE_S, TokenStore, hash_secret
from superllmd.paths import get_paths
from superllmd.state import DaemonState


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_expiry_and_revocation_beat_the_cache(
    short_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    compared: list[tuple[str, str]] = []
    real = hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(tokens_module.hmac, "compare_digest", spy)

    async def go() -> None:
        state = DaemonState.create(get_paths({"SUPERLLM_HOME": str(short_home)}), use_keyring=False)
        clock = Clock()
        store = TokenStore(state.ledger, clock=clock)
        try:
            soon = await store.create("soon", expires=clock.now + CACHE_S / 2)
            later = await store.create("later")
            assert (await store.check(soon)) is not None  # now cached
            assert (await store.check(later)) is not None
            clock.now += CACHE_S * 0.75  # past its expiry, still within the cache's life
            assert (await store.check(soon)) is None
            assert (await store.check(later)) is not None  # cached too
            assert await store.revoke("later")
            assert (await store.check(later)) is None, "revoked: refused on the next request"
            assert (await store.check("sl-" + "x" * 43)) is None
            listed = {t["name"]: t for t in await store.list()}
            assert listed["later"]["revoked"] and listed["soon"]["expires"] is not None
            stored = await state.ledger.read(
                lambda c: c.execute("SELECT hash FROM gateway_tokens ORDER BY name").fetchall()
            )
            assert sorted(row[0] for row in stored) == sorted(map(hash_secret, [soon, later]))
            assert soon not in str(stored) and later not in str(stored)
        finally:
            await state.aclose()

    asyncio.run(go())
    assert compared, "stored hashes are compared with hmac.compare_digest"
