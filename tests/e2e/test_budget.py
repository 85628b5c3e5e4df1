"""Budgets end to end: the real ``superllm`` against a real daemon and the fake OpenAI server.

The fake stands in for ``openai`` itself (SUPERLLM_PROVIDERS__OPENAI__BASE_URL), so calls to
``openai/gpt-4.1-mini`` are priced from the shipped catalog ($0.40 in, $1.60 out per million
tokens): --max-tokens 10000 makes a call cost up to about $0.016.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.e2e.conftest import Cli
from tests.fakes.openai import FakeOpenAI

MODEL = "openai/gpt-4.1-mini"


@pytest.fixture
def priced(cli: Cli, fake_openai: FakeOpenAI) -> Cli:
    """``cli`` with openai pointed at the fake: every call is a priced one."""
    env = {
        "OPENAI_API_KEY": "sk-test",
        "SUPERLLM_PROVIDERS__OPENAI__BASE_URL": fake_openai.base_url,
    }

    def run(
        *args: str, extra_env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return cli(*args, extra_env={**env, **(extra_env or {})})

    return run


def unique(text: str = "prompt") -> str:
    return f"{text} {uuid.uuid4().hex}"


def reached(fake: FakeOpenAI, prompt: str) -> bool:
    return any(r["messages"][-1]["content"] == prompt for r in fake.chat_requests())


def test_over_the_daily_budget_exits_5_naming_it(priced: Cli, fake_openai: FakeOpenAI) -> None:
    # $0.0001 is less than even 256 output tokens of gpt-4.1-mini cost (about $0.0004).
    assert priced("budget", "set", "--daily", "0.0001").returncode == 0
    prompt = unique()
    result = priced("ask", "-m", MODEL, "--max-tokens", "10000", prompt)
    assert result.returncode == 5, result.stderr
    assert "daily budget of $0.0001 would be exceeded" in result.stderr
    assert "$0.00 spent today" in result.stderr
    assert re.search(
        r"this call to openai/gpt-4\.1-mini could cost up to \$0\.000\d+ even with its answer "
        r"cut to 256 tokens",
        result.stderr,
    )
    assert "superllm budget set --daily" in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""
    assert not reached(fake_openai, prompt)
    small = priced("ask", "-m", MODEL, "--max-tokens", "10", unique())
    assert small.returncode == 0, small.stderr  # $0.000016 fits
    assert small.stderr == ""  # far from 80%: no warning


def test_a_budget_caps_the_answer_instead_of_refusing(priced: Cli, fake_openai: FakeOpenAI) -> None:
    assert priced("budget", "set", "--daily", "0.01").returncode == 0
    prompt = unique()
    # Its worst case ($0.016) is over the budget, but 6000-odd output tokens fit.
    asked = priced("-v", "ask", "-m", MODEL, "--max-tokens", "10000", prompt)
    assert asked.returncode == 0, asked.stderr
    sent = [r for r in fake_openai.chat_requests() if r["messages"][-1]["content"] == prompt]
    cap = sent[-1]["max_completion_tokens"]
    assert 6000 < cap < 6250  # ($0.01 - the input) / $1.60 per million
    assert re.search(rf"answer capped at {cap} tokens \(daily budget had \$0\.01", asked.stderr)
    as_json = priced("ask", "-m", MODEL, "--json", "--max-tokens", "10000", unique())
    assert as_json.returncode == 0, as_json.stderr
    capped = json.loads(as_json.stdout)["capped"]
    assert 6000 < capped["max_tokens"] < 6250 and capped["calls"] == 1
    assert capped["reason"].startswith("daily budget had $")
    fits = priced("ask", "-m", MODEL, "--json", "--max-tokens", "100", unique())
    assert "capped" not in json.loads(fits.stdout)


def test_max_cost_caps_an_ordinary_call(priced: Cli, fake_openai: FakeOpenAI) -> None:
    """`--max-cost 0.05` with gpt-4.1-mini's 32768-token maximum used to exit 5."""
    asked = priced("ask", "-m", MODEL, "--max-cost", "0.05", "--json", "hi")
    assert asked.returncode == 0, asked.stderr
    result = json.loads(asked.stdout)
    assert result["answer"] == "echo: hi"
    assert result["capped"]["reason"].startswith("--max-cost had $0.05")
    assert result["capped"]["max_tokens"] < 32768


def test_max_cost_too_small_sends_nothing(priced: Cli, fake_openai: FakeOpenAI) -> None:
    prompt = unique()
    result = priced("ask", "-m", MODEL, "--max-tokens", "10000", "--max-cost", "0.0001", prompt)
    assert result.returncode == 5, result.stderr
    assert "--max-cost of $0.0001 would be exceeded" in result.stderr
    assert "$0.00 spent by this run" in result.stderr and "cut to 256 tokens" in result.stderr
    assert not reached(fake_openai, prompt)
    as_json = priced(
        "ask", "-m", MODEL, "--max-cost", "0.0001", "--json", "--max-tokens", "10000", prompt
    )
    assert as_json.returncode == 5
    assert json.loads(as_json.stdout)["error"]["code"] == "budget"
    fits = priced("ask", "-m", MODEL, "--max-tokens", "10", "--max-cost", "0.0001", prompt)
    assert fits.returncode == 0, fits.stderr
    assert reached(fake_openai, prompt)


def test_min_output_tokens_is_configurable(priced: Cli, fake_openai: FakeOpenAI) -> None:
    set_ = priced("config", "set", "budgets.min_output_tokens", "16")
    assert set_.returncode == 0, set_.stderr
    asked = priced("ask", "-m", MODEL, "--max-cost", "0.0001", "--json", unique())
    assert asked.returncode == 0, asked.stderr  # 16 tokens fit in $0.0001
    assert json.loads(asked.stdout)["capped"]["max_tokens"] >= 16


def test_an_unpriced_model_under_a_budget_warns_or_is_refused(cli: Cli) -> None:
    assert cli("budget", "set", "--daily", "1").returncode == 0
    asked = cli("ask", "-m", "fake/echo", "hi")
    assert asked.returncode == 0, asked.stderr
    warnings = [line for line in asked.stderr.splitlines() if "warning:" in line]
    assert len(warnings) == 1 and "fake/echo has no price" in warnings[0]
    # The command the warning offers works as a shell would split it, and prices the model.
    offered = re.search(r"`(superllm config set 'prices[^`]*)`", warnings[0])
    assert offered, warnings[0]
    priced = cli(*shlex.split(offered.group(1))[1:])
    assert priced.returncode == 0, priced.stderr
    again = cli("ask", "-m", "fake/echo", "hi")
    assert again.returncode == 0 and "warning" not in again.stderr, again.stderr
    assert cli("config", "set", "prices", "{}").returncode == 0  # unpriced again
    assert cli("config", "set", "budgets.block_unpriced", "true").returncode == 0
    blocked = cli("ask", "-m", "fake/echo", "hi")
    assert blocked.returncode == 5 and "block_unpriced" in blocked.stderr


def test_a_label_budget_holds_for_that_label_only(priced: Cli, fake_openai: FakeOpenAI) -> None:
    assert priced("budget", "set", "--daily", "0.0001", "--label", "nightly").returncode == 0
    flagged = priced("ask", "-m", MODEL, "--max-tokens", "10000", "--label", "nightly", unique())
    assert flagged.returncode == 5
    assert "daily budget for label nightly of $0.0001" in flagged.stderr
    assert "--label nightly" in flagged.stderr  # how to raise it
    by_env = priced(
        "ask",
        "-m",
        MODEL,
        "--max-tokens",
        "10000",
        unique(),
        extra_env={"SUPERLLM_LABEL": "nightly"},
    )
    assert by_env.returncode == 5 and "label nightly" in by_env.stderr
    other = priced("ask", "-m", MODEL, "--max-tokens", "10000", "--label", "adhoc", unique())
    assert other.returncode == 0, other.stderr
    monthly = priced("budget", "set", "--monthly", "1", "--label", "nightly")
    assert monthly.returncode == 2 and "label budgets are daily" in monthly.stderr


def test_show_reports_spending_and_clear_removes_budgets(priced: Cli, home: Path) -> None:
    config = home / "config" / "config.toml"
    assert priced("budget", "set", "--daily", "2", "--monthly", "30").returncode == 0
    assert priced("budget", "set", "--daily", "1", "--provider", "openai").returncode == 0
    assert priced("budget", "set", "--daily", "0.5", "--label", "nightly").returncode == 0
    asked = priced("ask", "-m", MODEL, "--json", unique("spend a little"))
    assert asked.returncode == 0, asked.stderr
    cost = json.loads(asked.stdout)["cost_usd"]
    assert cost > 0

    shown = priced("budget", "show", "--json")
    assert shown.returncode == 0, shown.stderr
    rows = {r["budget"]: r for r in json.loads(shown.stdout)["budgets"]}
    assert set(rows) == {
        "daily budget",
        "monthly budget",
        "daily budget for provider openai",
        "daily budget for label nightly",
    }
    for title in ("daily budget", "monthly budget", "daily budget for provider openai"):
        assert rows[title]["spent_usd"] == pytest.approx(cost)
        assert rows[title]["reserved_usd"] == 0
    assert rows["daily budget"]["left_usd"] == pytest.approx(2 - cost)
    assert rows["daily budget for label nightly"]["spent_usd"] == 0  # that call had no label
    table = priced("budget", "show")
    assert table.returncode == 0
    assert re.search(r"daily budget for provider openai\s+\$1\.00\s+\$0\.0", table.stdout)

    assert priced("budget", "clear", "--provider", "openai").returncode == 0
    assert "budgets.providers" not in config.read_text()
    assert priced("budget", "clear").returncode == 0
    assert priced("budget", "clear", "--label", "nightly").returncode == 0
    assert json.loads(priced("budget", "show", "--json").stdout)["budgets"] == []
    assert "no budgets set" in priced("budget", "show").stdout
    assert "[providers.fake]" in config.read_text()  # the rest of the file is kept


def test_a_warning_on_stderr_at_80_percent(priced: Cli) -> None:
    words = " ".join(["word"] * 200)
    first = priced("ask", "-m", MODEL, "--json", words)
    assert first.returncode == 0, first.stderr
    spent = json.loads(first.stdout)["cost_usd"]
    # The call already made is 85% of the new budget; a tiny one still fits under it.
    assert priced("budget", "set", "--daily", f"{spent / 0.85:.10f}").returncode == 0
    second = priced("ask", "-m", MODEL, "--max-tokens", "1", "hi")
    assert second.returncode == 0, second.stderr
    assert second.stdout == "echo: hi\n"
    assert re.search(r"^superllm: warning: daily budget: 8\d% used", second.stderr, re.M)
    as_json = priced("ask", "-m", MODEL, "--max-tokens", "1", "--json", "hi")
    assert as_json.returncode == 0
    assert json.loads(as_json.stdout)["warnings"][0].startswith("daily budget: ")


def test_spending_outlives_a_daemon_restart(priced: Cli) -> None:
    assert priced("budget", "set", "--daily", "1").returncode == 0
    asked = priced("ask", "-m", MODEL, "--json", unique())
    assert asked.returncode == 0, asked.stderr
    cost = json.loads(asked.stdout)["cost_usd"]
    assert priced("daemon", "restart").returncode == 0
    rows = json.loads(priced("budget", "show", "--json").stdout)["budgets"]
    assert rows[0]["spent_usd"] == pytest.approx(cost)  # read back from the ledger
