"""Users and teams of a team gateway, in the ledger (tables ``users`` and ``teams``).

A token may belong to a user (``superllm serve token create NAME --user U``), a user to a
team; each may have a daily budget, enforced like the token's own (budget.py, and in the
database across instances with the PostgreSQL ledger). ``superllm usage --by user|team``
finds a call's user and team through its token.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from superllmd.errors import UsageError
from superllmd.gateway.tokens import CHANNEL as TOKENS
from superllmd.ledger.base import Backend, Conn

__all__ = ["People"]

Kind = Literal["user", "team"]
_TABLE = {"user": "users", "team": "teams"}


def _check_name(kind: Kind, name: str) -> None:
    if not name or len(name) > 64 or not all(c.isalnum() or c in "-_.@" for c in name):
        raise UsageError(f"{kind} name {name!r}: use 1-64 letters, digits, '-', '_', '.' or '@'")


class People:
    """Create, list and remove users and teams. Changes reach token checks at once:
    ``on_change`` empties this instance's token cache, a notice the other instances'."""

    def __init__(self, ledger: Backend | None, on_change: Any = None) -> None:
        self._ledger = ledger
        self._on_change = on_change

    def _need(self) -> Backend:
        if self._ledger is None:
            raise UsageError("users and teams need the ledger, and this daemon runs without one")
        return self._ledger

    async def create_team(self, name: str, budget_daily: float | None = None) -> None:
        """Create ``name``, or change its budget when it exists."""
        _check_name("team", name)
        ledger = self._need()
        _write(
            ledger,
            "INSERT INTO teams (name, created, budget_daily_usd) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET budget_daily_usd = excluded.budget_daily_usd",
            (name, time.time(), budget_daily),
        )
        await self._done(ledger)

    async def create_user(
        self, name: str, team: str | None = None, budget_daily: float | None = None
    ) -> None:
        """Create ``name`` (in ``team``, which must exist), or change its team and budget."""
        _check_name("user", name)
        ledger = self._need()
        if team is not None and not await self._exists(ledger, "team", team):
            raise UsageError(f"no team {team!r}; create it first (`superllm serve team create`)")
        _write(
            ledger,
            "INSERT INTO users (name, team, created, budget_daily_usd) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET team = excluded.team, "
            "budget_daily_usd = excluded.budget_daily_usd",
            (name, team, time.time(), budget_daily),
        )
        await self._done(ledger)

    async def remove(self, kind: Kind, name: str) -> None:
        """Remove a user (its tokens keep working, without a user) or an empty team."""
        ledger = self._need()
        if not await self._exists(ledger, kind, name):
            raise UsageError(f"no {kind} {name!r}; see `superllm serve {kind} list`")
        if kind == "team":
            members = await ledger.read(
                lambda c: c.execute("SELECT count(*) FROM users WHERE team = ?", (name,)).fetchone()
            )
            if members[0]:
                raise UsageError(f"team {name!r} has {members[0]} users; move or remove them first")
            _write(ledger, "DELETE FROM teams WHERE name = ?", (name,))
        else:
            ledger.write_many(
                [
                    ("UPDATE gateway_tokens SET user_name = NULL WHERE user_name = ?", (name,)),
                    ("DELETE FROM users WHERE name = ?", (name,)),
                    *ledger.notice(TOKENS, ""),
                ]
            )
        await self._done(ledger)

    async def list(self, kind: Kind) -> list[dict[str, Any]]:
        """Every user (with team, live tokens and today's spend) or team (with users)."""
        ledger = self._need()
        await ledger.barrier()
        return await ledger.read(lambda c: _list(c, kind))

    async def _exists(self, ledger: Backend, kind: Kind, name: str) -> bool:
        await ledger.barrier()
        table = _TABLE[kind]
        rows = await ledger.read(
            lambda c: c.execute(f"SELECT 1 FROM {table} WHERE name = ?", (name,)).fetchall()
        )
        return bool(rows)

    async def _done(self, ledger: Backend) -> None:
        await ledger.barrier()
        if self._on_change is not None:
            self._on_change()


def _write(ledger: Backend, sql: str, params: tuple[Any, ...]) -> None:
    """Write a change, with the notice that has every instance drop its cached tokens."""
    ledger.write_many([(sql, params), *ledger.notice(TOKENS, "")])


def _list(conn: Conn, kind: Kind) -> list[dict[str, Any]]:
    from superllmd.budget_rules import period_start
    from superllmd.ledger import queries

    since = period_start("day", time.time())
    out: list[dict[str, Any]] = []
    if kind == "team":
        rows = conn.execute(
            "SELECT m.name, m.created, m.budget_daily_usd, "
            "(SELECT count(*) FROM users u WHERE u.team = m.name) FROM teams m ORDER BY m.name"
        ).fetchall()
        for name, created, budget, users in rows:
            spent, _ = queries.spent_usd(conn, since, team=name)
            out.append(
                {
                    "name": name,
                    "created": created,
                    "budget_daily_usd": budget,
                    "users": users,
                    "spent_today_usd": spent,
                }
            )
        return out
    rows = conn.execute(
        "SELECT u.name, u.team, u.created, u.budget_daily_usd, (SELECT count(*) FROM "
        "gateway_tokens t WHERE t.user_name = u.name AND t.revoked IS NULL) "
        "FROM users u ORDER BY u.name"
    ).fetchall()
    for name, team, created, budget, tokens in rows:
        spent, _ = queries.spent_usd(conn, since, user=name)
        out.append(
            {
                "name": name,
                "team": team,
                "created": created,
                "budget_daily_usd": budget,
                "tokens": tokens,
                "spent_today_usd": spent,
            }
        )
    return out
