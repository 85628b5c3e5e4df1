"""Usage reports and the time words of --since/--until."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from superllmd.errors import UsageError
from superllmd.ledger.migrations import migrate
from superllmd.ledger.queries import parse_when, usage_report

MON = dt.datetime(2025, 3, 3, 12).timestamp()  # a Monday, local noon
DAY = 86400.0


@pytest.fixture
def conn(tmp_path: Path) -> sqlite3.Connection:
    c = sqlite3.connect(tmp_path / "l.sqlite3", isolation_level=None)
    migrate(c)
    rows = [
        # time, provider, model, mode, label, in, out, cached, cost, unpriced, status, error
        (MON, "openai", "gpt", "ask", None, 10, 5, 2, 0.10, 0, "ok", None),
        (MON + DAY, "openai", "gpt", "consensus", "nightly", 20, 5, 0, 0.20, 0, "ok", None),
        (
            MON + 6 * DAY,
            "anthropic",
            "claude",
            "consensus",
            "nightly",
            30,
            5,
            0,
            0.30,
            0,
            "ok",
            None,
        ),
        (MON + 7 * DAY, "fake", "echo", "ask", None, 40, 5, 0, None, 1, "ok", None),
        (MON + 7 * DAY, "openai", "gpt", "ask", None, 99, 99, 0, 0.0, 0, "cached", None),
        (MON + 7 * DAY, "openai", "gpt", "ask", None, 0, 0, 0, None, 0, "refused", "budget"),
        (MON + 7 * DAY, "openai", "gpt", "ask", None, 0, 0, 0, None, 0, "error", "timeout"),
        (MON + 7 * DAY, "openai", "gpt", "ask", None, 0, 0, 0, None, 0, "in_flight", None),
        (MON + 31 * DAY, "openai", "gpt", "debate", None, 1, 1, 0, 0.01, 0, "ok", None),
    ]
    for i, row in enumerate(rows):
        c.execute(
            "INSERT INTO calls (id, time, run_id, provider, model, mode, label, input_tokens, "
            "output_tokens, cached_tokens, cost_usd, unpriced, status, error_code) "
            "VALUES (?, ?, 'r', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (f"c{i}", *row),
        )
    return c


def test_totals_count_what_reached_a_provider(conn: sqlite3.Connection) -> None:
    totals = usage_report(conn)["totals"]
    assert totals == {
        "calls": 6,  # not the cache hit, the budget refusal, nor the one in flight
        "input_tokens": 101,
        "output_tokens": 21,
        "cached_tokens": 2,
        "cost_usd": None,  # fake/echo is unpriced
        "known_cost_usd": 0.61,  # what is known is kept
        "unpriced_calls": 1,
        "cache_hits": 1,
        "errors": 2,
    }


def test_priced_subsets_have_a_cost(conn: sqlite3.Connection) -> None:
    report = usage_report(conn, provider="openai")
    assert report["totals"]["cost_usd"] == pytest.approx(0.31)
    assert usage_report(conn, model="anthropic/claude")["totals"]["cost_usd"] == 0.3
    assert usage_report(conn, model="claude")["totals"]["calls"] == 1
    assert usage_report(conn, label="nightly")["totals"]["cost_usd"] == pytest.approx(0.5)
    assert usage_report(conn, mode="debate")["totals"]["calls"] == 1


def test_breakdowns_by_time(conn: sqlite3.Connection) -> None:
    days = usage_report(conn, by="day")["rows"]
    assert [r["day"] for r in days] == [
        "2025-03-03",
        "2025-03-04",
        "2025-03-09",
        "2025-03-10",
        "2025-04-03",
    ]
    weeks = usage_report(conn, by="week")["rows"]
    assert [(r["week"], r["calls"]) for r in weeks] == [
        ("2025-03-03", 3),  # Monday to Sunday
        ("2025-03-10", 2),
        ("2025-03-31", 1),
    ]
    months = usage_report(conn, by="month")["rows"]
    assert [(r["month"], r["calls"]) for r in months] == [("2025-03", 5), ("2025-04", 1)]


def test_breakdowns_by_dimension(conn: sqlite3.Connection) -> None:
    providers = {r["provider"]: r for r in usage_report(conn, by="provider")["rows"]}
    assert providers["openai"]["cost_usd"] == pytest.approx(0.31)
    assert providers["fake"]["cost_usd"] is None
    assert providers["openai"]["cache_hits"] == 1
    models = [r["model"] for r in usage_report(conn, by="model")["rows"]]
    assert set(models) == {"openai/gpt", "anthropic/claude", "fake/echo"}
    labels = {r["label"]: r["calls"] for r in usage_report(conn, by="label")["rows"]}
    assert labels == {"": 4, "nightly": 2}
    modes = {r["mode"]: r["calls"] for r in usage_report(conn, by="mode")["rows"]}
    assert modes == {"ask": 3, "consensus": 2, "debate": 1}


def test_a_window(conn: sqlite3.Connection) -> None:
    report = usage_report(conn, since=MON + DAY, until=MON + 7 * DAY)
    assert report["totals"]["calls"] == 2
    assert report["totals"]["cost_usd"] == pytest.approx(0.5)


def test_unknown_breakdown(conn: sqlite3.Connection) -> None:
    with pytest.raises(UsageError, match="--by"):
        usage_report(conn, by="year")


def test_time_words() -> None:
    now = dt.datetime(2025, 3, 5, 15, 30).timestamp()
    midnight = dt.datetime(2025, 3, 5).timestamp()
    assert parse_when("7d", now=now) == now - 7 * DAY
    assert parse_when("12h", now=now) == now - 12 * 3600
    assert parse_when("30m", now=now) == now - 1800
    assert parse_when("2w", now=now) == now - 14 * DAY
    assert parse_when("today", now=now) == midnight
    assert parse_when("yesterday", now=now) == midnight - DAY
    assert parse_when("today", now=now, end=True) == midnight + DAY
    assert parse_when("2025-03-01") == dt.datetime(2025, 3, 1).timestamp()
    assert parse_when("2025-03-01", end=True) == dt.datetime(2025, 3, 2).timestamp()
    assert parse_when("2025-03-01T14:00") == dt.datetime(2025, 3, 1, 14).timestamp()
    assert parse_when("1741000000") == 1741000000.0
    assert parse_when(None) is None and parse_when(" ") is None
    for bad in ("last tuesday", "2025-13-01", "7y"):
        with pytest.raises(UsageError):
            parse_when(bad)
