"""`superllm usage` and `superllm log` end to end, checked against the fake server's own log."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Cli, write_config
from tests.fakes.openai import FakeOpenAI

# USD per million tokens for fake/echo; fake/other stays unpriced.
PRICE_IN, PRICE_OUT, PRICE_CACHED = 1.0, 2.0, 0.5


@pytest.fixture
def priced(home: Path, fake_openai: FakeOpenAI) -> Path:
    write_config(
        home,
        f'[providers.fake]\nkind = "openai-compatible"\nbase_url = "{fake_openai.base_url}"\n'
        f'[prices."fake/echo"]\ninput = {PRICE_IN}\noutput = {PRICE_OUT}\n'
        f"cached_input = {PRICE_CACHED}\n",
    )
    return home


def _expected(fake: FakeOpenAI, since: int) -> dict[str, Any]:
    """Totals computed from what the fake server itself received and answered."""
    totals = {"calls": 0, "input_tokens": 0, "output_tokens": 0, "cached_tokens": 0, "cost": 0.0}
    for body in fake.chat_requests()[since:]:
        totals["calls"] += 1
        if str(body["model"]).startswith("error-"):
            continue  # answered with an error: no tokens, no cost
        usage = fake.usage(body, fake.reply(body))
        tin, tout = usage["prompt_tokens"], usage["completion_tokens"]
        cached = usage["prompt_tokens_details"]["cached_tokens"]
        totals["input_tokens"] += tin
        totals["output_tokens"] += tout
        totals["cached_tokens"] += cached
        totals["cost"] += (
            (tin - cached) * PRICE_IN + cached * PRICE_CACHED + tout * PRICE_OUT
        ) / 1e6
    return totals


def _usage(cli: Cli, *args: str) -> dict[str, Any]:
    result = cli("usage", "--json", *args)
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_usage_after_a_mixed_day_matches_the_fake_servers_log(
    priced: Path, cli: Cli, fake_openai: FakeOpenAI
) -> None:
    start = len(fake_openai.chat_requests())
    for args in (
        ("ask", "-m", "fake/echo", "good morning"),
        ("ask", "-m", "fake/echo", "--label", "nightly", "a longer prompt of eight or more words"),
        ("consensus", "-m", "fake/echo", "-m", "fake/echo", "-m", "fake/echo", "Is 7 prime?"),
        ("ask", "-m", "fake/echo", "--stream", "never", "whole"),
    ):
        assert cli(*args).returncode == 0
    assert cli("ask", "-m", "fake/error-500", "fails after retries").returncode == 4
    assert cli("ask", "-m", "fake/error-401", "fails at once").returncode == 4

    expected = _expected(fake_openai, start)
    assert expected["calls"] == 1 + 1 + 3 + 1 + 3 + 1  # the retries reached the server too
    totals = _usage(cli)["totals"]
    assert {k: totals[k] for k in ("calls", "input_tokens", "output_tokens", "cached_tokens")} == {
        k: expected[k] for k in ("calls", "input_tokens", "output_tokens", "cached_tokens")
    }
    assert totals["cost_usd"] == pytest.approx(expected["cost"], rel=1e-9)
    assert totals["errors"] == 4

    # One call of an unpriced model makes the total unknown, never understated.
    assert cli("ask", "-m", "fake/other", "unpriced").returncode == 0
    report = _usage(cli, "--by", "model")
    assert report["totals"]["cost_usd"] is None
    rows = {r["model"]: r for r in report["rows"]}
    assert rows["fake/echo"]["cost_usd"] == pytest.approx(expected["cost"], rel=1e-9)
    assert rows["fake/other"]["cost_usd"] is None
    # The table says the known sum and how many calls had no price, never "unknown".
    plain = cli("usage", "--by", "model")
    assert plain.returncode == 0, plain.stderr
    total = plain.stdout.splitlines()[-1]
    assert total.startswith("TOTAL") and total.endswith("+ 1 unpriced"), plain.stdout
    assert "unknown" not in plain.stdout and "$0.0000 " not in plain.stdout
    other = next(line for line in plain.stdout.splitlines() if line.startswith("fake/other"))
    assert other.endswith(" unpriced"), other


def test_usage_breakdowns_filters_and_formats(priced: Path, cli: Cli) -> None:
    assert cli("ask", "-m", "fake/echo", "--label", "nightly", "one").returncode == 0
    assert cli("ask", "-m", "fake/echo", "two").returncode == 0
    assert cli("consensus", "-m", "fake/echo", "-m", "fake/echo", "Is 2 even?").returncode == 0

    by_mode = {r["mode"]: r["calls"] for r in _usage(cli, "--by", "mode")["rows"]}
    assert by_mode == {"ask": 2, "consensus": 2}
    by_label = {r["label"]: r["calls"] for r in _usage(cli, "--by", "label")["rows"]}
    assert by_label == {"nightly": 1, "": 3}
    assert _usage(cli, "--label", "nightly")["totals"]["calls"] == 1
    assert _usage(cli, "--mode", "consensus", "--provider", "fake")["totals"]["calls"] == 2
    assert _usage(cli, "--model", "fake/echo", "--by", "week")["rows"][0]["calls"] == 4
    assert _usage(cli, "--since", "2999-01-01")["totals"]["calls"] == 0
    assert _usage(cli, "--until", "2000-01-01")["totals"]["calls"] == 0

    table = cli("usage", "--csv", "--by", "provider")
    assert table.returncode == 0, table.stderr
    lines = list(csv.reader(io.StringIO(table.stdout)))
    assert lines[0] == [
        "provider",
        "calls",
        "input_tokens",
        "output_tokens",
        "cached_tokens",
        "cost_usd",
    ]
    assert lines[1][:2] == ["fake", "4"] and lines[-1][:2] == ["total", "4"]

    plain = cli("usage", "--by", "mode")  # a pipe: plain text, no colour
    assert plain.returncode == 0 and "\x1b" not in plain.stdout
    assert plain.stdout.splitlines()[0].split() == ["MODE", "CALLS", "IN", "OUT", "CACHED", "COST"]
    assert plain.stdout.splitlines()[-1].split()[:2] == ["TOTAL", "4"]

    chart = cli("--color", "always", "usage", "--by", "mode")  # as a terminal gets it
    assert chart.returncode == 0, chart.stderr
    assert "█" in chart.stdout and "consensus" in chart.stdout and "total" in chart.stdout

    bad = cli("usage", "--since", "last tuesday")
    assert bad.returncode == 2 and "not a time" in bad.stderr
    assert cli("usage", "--by", "year").returncode == 2


def test_log_lists_shows_and_searches_runs(priced: Path, cli: Cli) -> None:
    asked = cli("ask", "--json", "-m", "fake/echo", "tell me about aardvarks")
    run_id = json.loads(asked.stdout)["run_id"]
    debated = cli("debate", "--json", "-m", "fake/echo", "-m", "fake/other", "Is 9 odd?")
    debate_id = json.loads(debated.stdout)["run_id"]

    listing = cli("log")
    assert listing.returncode == 0, listing.stderr
    rows = [line.split()[0] for line in listing.stdout.splitlines()[1:]]  # short ids
    assert debate_id.startswith(rows[0]) and run_id.startswith(rows[1])  # newest first

    shown = cli("log", debate_id[:14])  # a unique prefix will do
    assert shown.returncode == 0, shown.stderr
    assert "fake/echo · round 0" in shown.stdout and "fake/other · round 0" in shown.stdout
    assert "round 0 finished · agreement" in shown.stdout
    assert "Is 9 odd?" in shown.stdout

    rich = cli("--color", "always", "log", debate_id)
    assert rich.returncode == 0 and "Is 9 odd?" in rich.stdout

    exported = json.loads(cli("log", debate_id, "--json").stdout)
    kinds = [e["type"] for e in exported["transcript"]]
    assert kinds[0] == "run.started" and kinds[-1] == "run.finished"
    assert {e["participant"] for e in exported["transcript"] if e["type"] == "message"} == {
        "fake/echo",
        "fake/other",
    }
    assert exported["result"]["run_id"] == debate_id and exported["cost_usd"] is None
    assert all(c["status"] == "ok" for c in exported["calls"]) and len(exported["calls"]) >= 2
    assert "env" not in exported["request"]

    found = json.loads(cli("log", "--search", "aardvarks", "--json").stdout)
    assert [r["run_id"] for r in found] == [run_id]
    assert "[aardvarks]" in found[0]["snippet"]
    assert json.loads(cli("log", "--search", "zebras", "--json").stdout) == []

    missing = cli("log", "r-no-such-run")
    assert missing.returncode == 2 and "no run" in missing.stderr
