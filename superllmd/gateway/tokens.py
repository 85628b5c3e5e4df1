"""Gateway tokens: created once, stored hashed in the ledger, checked on every TCP request.

A token is ``sl-`` and 256 random bits (URL-safe base64). Only its SHA-256 is stored: with
that much entropy a hash cannot be reversed or guessed, and no slow KDF is needed on the hot
path. A request's token is hashed and looked up by hash, and the stored hash compared with
``hmac.compare_digest``. Lookups are cached for ``CACHE_S`` (a hit costs one dict read);
revoking empties the cache at once, and expiry is checked on every request, cached or not, so
a revoked or expired token is refused on connections already open. On a PostgreSQL ledger
shared by several instances, a revoke, a new token or a user's or team's change is written
with a notice on ``CHANNEL`` (ledger/notices.py) that every instance hears and evicts by,
so the other instances refuse a revoked token at once too, with no read per request.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from superllmd.budget_rules import period_start
from superllmd.errors import UsageError
from superllmd.gateway import GatewayToken
from superllmd.ledger.base import Backend

__all__ = ["CACHE_S", "CHANNEL", "PREFIX", "TokenStore", "hash_secret"]

PREFIX = "sl-"
CACHE_S = 5.0
#: The notices channel: a token's name changed, or "" (users or teams: every token).
CHANNEL = "superllm_tokens"
_LAST_USED_EVERY_S = 10.0  # last_used is a hint: written at most this often per token
_COLUMNS = "name, hash, created, expires, revoked, budget_daily_usd, rpm, tpm, models, last_used"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass
class _Cached:
    token: GatewayToken | None
    digest: str
    fetched: float


class TokenStore:
    """The daemon's tokens, in the ledger database (table ``gateway_tokens``)."""

    def __init__(
        self, ledger: Backend | None, *, clock: Any = time.time, cache_s: float = CACHE_S
    ) -> None:
        self._ledger = ledger
        self._clock = clock
        self._cache_s = cache_s
        self._cache: dict[str, _Cached] = {}
        self._last_used: dict[str, float] = {}
        # Bumped by every eviction: a lookup that raced one is not cached.
        self._generation = 0
        if ledger is not None:
            ledger.subscribe(CHANNEL, self._heard, self.invalidate)

    def invalidate(self) -> None:
        """Forget cached lookups: a token's user or team changed."""
        self._generation += 1
        self._cache.clear()

    def _heard(self, name: str) -> None:
        if not name:
            self.invalidate()
            return
        self._generation += 1
        for digest in [d for d, c in self._cache.items() if c.token and c.token.name == name]:
            del self._cache[digest]

    def _need(self) -> Backend:
        if self._ledger is None:
            raise UsageError("gateway tokens need the ledger, and this daemon runs without one")
        return self._ledger

    async def create(
        self,
        name: str,
        *,
        budget_daily: float | None = None,
        rpm: int | None = None,
        tpm: int | None = None,
        models: list[str] | None = None,
        expires: float | None = None,
        user: str | None = None,
    ) -> str:
        """A new token's secret (shown once); UsageError if the name is taken or ``user``
        is not one (``superllm serve user create``)."""
        ledger = self._need()
        if user is not None:
            known = await ledger.read(
                lambda c: c.execute("SELECT 1 FROM users WHERE name = ?", (user,)).fetchall()
            )
            if not known:
                raise UsageError(
                    f"no user {user!r}; create it first (`superllm serve user create {user}`)"
                )
        if not name or len(name) > 64 or not all(c.isalnum() or c in "-_." for c in name):
            raise UsageError(f"token name {name!r}: use 1-64 letters, digits, '-', '_' or '.'")
        existing = await ledger.read(
            lambda c: c.execute(
                "SELECT revoked FROM gateway_tokens WHERE name = ?", (name,)
            ).fetchall()
        )
        if existing and existing[0][0] is None:
            raise UsageError(
                f"a token named {name!r} exists; revoke it first "
                f"(`superllm serve token revoke {name}`) or choose another name"
            )
        secret = PREFIX + secrets.token_urlsafe(32)
        insert = (
            f"INSERT OR REPLACE INTO gateway_tokens ({_COLUMNS}, user_name) "
            "VALUES (?, ?, ?, ?, NULL, ?, ?, ?, ?, NULL, ?)",
            (
                name,
                hash_secret(secret),
                self._clock(),
                expires,
                budget_daily,
                rpm,
                tpm,
                json.dumps(list(models or [])),
                user,
            ),
        )
        ledger.write_many([insert, *ledger.notice(CHANNEL, name)])
        await ledger.barrier()
        return secret

    async def revoke(self, name: str) -> bool:
        """Revoke ``name``; False if no live token has that name. Takes effect at once."""
        ledger = self._need()
        rows = await ledger.read(
            lambda c: c.execute(
                "SELECT 1 FROM gateway_tokens WHERE name = ? AND revoked IS NULL", (name,)
            ).fetchall()
        )
        self._cache.clear()
        if not rows:
            return False
        update = ("UPDATE gateway_tokens SET revoked = ? WHERE name = ?", (self._clock(), name))
        ledger.write_many([update, *ledger.notice(CHANNEL, name)])
        await ledger.barrier()
        self._cache.clear()  # a lookup that raced the write must not stay cached
        return True

    async def list(self) -> list[dict[str, Any]]:
        """Every token (never its hash), with what it spent today and in all."""
        ledger = self._need()

        def read(conn: Any) -> list[dict[str, Any]]:
            start = period_start("day", self._clock())
            rows = conn.execute(
                "SELECT t.name, t.created, t.expires, t.revoked, t.budget_daily_usd, t.rpm, "
                "t.tpm, t.models, t.last_used, t.user_name, "
                "(SELECT u.team FROM users u WHERE u.name = t.user_name), "
                "(SELECT coalesce(SUM(cost_usd), 0) FROM calls WHERE token = t.name "
                " AND time >= ? AND status != 'in_flight'), "
                "(SELECT coalesce(SUM(cost_usd), 0) FROM calls WHERE token = t.name "
                " AND status != 'in_flight') "
                "FROM gateway_tokens t ORDER BY t.name",
                (start,),
            ).fetchall()
            keys = [
                "name",
                "created",
                "expires",
                "revoked",
                "budget_daily_usd",
                "rpm",
                "tpm",
                "models",
                "last_used",
                "user",
                "team",
                "spent_today_usd",
                "spent_usd",
            ]
            out = [dict(zip(keys, row, strict=True)) for row in rows]
            for item in out:
                item["models"] = json.loads(item["models"])
                item["last_used"] = (
                    max(item["last_used"] or 0, self._last_used.get(item["name"], 0)) or None
                )
            return out

        return await ledger.read(read)

    async def check(self, secret: str) -> GatewayToken | None:
        """The live token whose secret this is, or None (unknown, revoked or expired)."""
        digest = hash_secret(secret)
        now = self._clock()
        cached = self._cache.get(digest)
        if cached is None or now - cached.fetched > self._cache_s:
            generation = self._generation
            cached = _Cached(await self._fetch(digest), digest, now)
            if len(self._cache) > 4096:  # bounded: random secrets must not grow it for ever
                self._cache.clear()
            if generation == self._generation:
                self._cache[digest] = cached
        token = cached.token
        if token is None or not hmac.compare_digest(cached.digest, digest):
            return None
        if token.expires is not None and now >= token.expires:
            return None
        self._touch(token.name, now)
        return token

    async def _fetch(self, digest: str) -> GatewayToken | None:
        if self._ledger is None:
            return None
        rows = await self._ledger.read(
            lambda c: c.execute(
                "SELECT t.name, t.hash, t.expires, t.budget_daily_usd, t.rpm, t.tpm, t.models, "
                "t.user_name, u.team, u.budget_daily_usd, m.budget_daily_usd "
                "FROM gateway_tokens t LEFT JOIN users u ON u.name = t.user_name "
                "LEFT JOIN teams m ON m.name = u.team WHERE t.hash = ? AND t.revoked IS NULL",
                (digest,),
            ).fetchall()
        )
        if not rows:
            return None
        name, stored, expires, budget, rpm, tpm, models, user, team, user_daily, team_daily = rows[
            0
        ]
        if not hmac.compare_digest(str(stored), digest):
            return None
        return GatewayToken(
            name,
            budget_daily=budget,
            rpm=rpm,
            tpm=tpm,
            models=tuple(json.loads(models or "[]")),
            expires=expires,
            user=user,
            team=team,
            user_daily=user_daily,
            team_daily=team_daily,
        )

    def _touch(self, name: str, now: float) -> None:
        last = self._last_used.get(name, 0.0)
        self._last_used[name] = now
        if now - last >= _LAST_USED_EVERY_S and self._ledger is not None:
            self._ledger.write(
                "UPDATE gateway_tokens SET last_used = ? WHERE name = ?", (now, name)
            )
