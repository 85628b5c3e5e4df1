"""A failed participant is never invisible, and the headline agreement reads as users expect:
the real commands against a real daemon and fake agents over HTTP (tests/fakes/agents.py)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import Cli
from tests.fakes.agents import Fleet, installed
from tests.fakes.items import arithmetic_items
from tests.fakes.openai import FakeOpenAI

ITEM = arithmetic_items(1, seed=31)[0]


@pytest.fixture(autouse=True)
def agents(fake_openai: FakeOpenAI) -> Iterator[Fleet]:
    with installed(fake_openai, Fleet(seed=9)) as fleet:
        yield fleet


def models(*names: str) -> list[str]:
    return [arg for name in names for arg in ("-m", f"fake/{name}")]


def failure_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if " failed: " in line]


def test_a_failed_participant_is_named_on_stderr_without_verbose(cli: Cli) -> None:
    result = cli("consensus", *models("oracle@1", "error-500", "oracle@2"), ITEM.prompt)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{ITEM.gold_key}\n"  # stdout stays the answer alone
    (line,) = failure_lines(result.stderr)
    assert line.startswith("superllm: warning: fake/error-500 failed: ")
    assert "500" in line


def test_each_failed_participant_gets_one_line(cli: Cli) -> None:
    result = cli("debate", *models("oracle@1", "error-401", "error-404", "oracle@2"), ITEM.prompt)
    assert result.returncode == 0, result.stderr
    lines = failure_lines(result.stderr)
    assert [line.split(" failed: ")[0] for line in lines] == [
        "superllm: warning: fake/error-401",
        "superllm: warning: fake/error-404",
    ]


def test_json_counts_valid_answers_of_the_panel(cli: Cli) -> None:
    result = cli(
        "consensus", "--json", *models("oracle@1", "error-401", "noisy-0-spread@2"), ITEM.prompt
    )
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    assert (data["n_valid"], data["n"]) == (2, 3)
    assert data["report"]["agreement"]["n_valid"] == 2  # the failure is no vote
    assert failure_lines(result.stderr)  # --json prints the failures on stderr too


def test_summary_line_says_how_many_answers_were_valid(cli: Cli) -> None:
    result = cli("-v", "consensus", *models("oracle@1", "error-401", "oracle@2"), ITEM.prompt)
    assert result.returncode == 0, result.stderr
    assert "consensus · agreement 1.00 · 2 of 3 valid" in result.stderr


def test_require_agreement_counts_failures_against_it(cli: Cli) -> None:
    # One answer of three agrees with itself; that is not the panel's agreement.
    thin = cli(
        "consensus",
        "--require-agreement",
        *models("oracle@1", "error-401", "error-404"),
        ITEM.prompt,
    )
    assert thin.returncode == 6, thin.stderr
    assert "only 1 of 3 participants gave a valid answer" in thin.stderr
    assert len(failure_lines(thin.stderr)) == 2
    most = cli(
        "consensus",
        "--require-agreement",
        *models("oracle@1", "error-401", "oracle@2"),
        ITEM.prompt,
    )
    assert most.returncode == 0, most.stderr


def test_quorum_counts_failures_against_it(cli: Cli) -> None:
    result = cli(
        "consensus",
        "--quorum",
        "2",
        *models("oracle@1", "error-401", "error-404"),
        ITEM.prompt,
    )
    assert result.returncode == 4, result.stderr
    assert "--quorum 2 not met: 1 of 3 participants answered" in result.stderr
    assert "Traceback" not in result.stderr


# --------------------------------------------------------------------------- agreement


def test_headline_agreement_is_the_plurality_share_rounded(cli: Cli) -> None:
    # Two agree, one dissents: 2 of 3 (0.67), not the pairwise mean (0.33).
    three = models("oracle@1", "oracle@2", "noisy-0-spread@3")
    shown = cli("-v", "consensus", *three, ITEM.prompt)
    assert shown.returncode == 0, shown.stderr
    assert "round 0 agreement 0.67" in shown.stderr
    assert "consensus · agreement 0.67 · 3 of 3 valid" in shown.stderr
    assert not re.search(r"\d\.\d{3,}", shown.stderr)  # never 0.3333333333333333
    data = json.loads(cli("consensus", "--json", *three, ITEM.prompt).stdout)
    assert data["agreement"] == pytest.approx(2 / 3)
    report = data["report"]["agreement"]
    assert report["plurality_share"] == data["agreement"]
    assert report["mean_pairwise_agreement"] == pytest.approx(1 / 3)


def test_a_two_of_three_majority_passes_the_default_threshold_only_with_a_lower_one(
    cli: Cli,
) -> None:
    three = models("oracle@1", "oracle@2", "noisy-0-spread@3")
    default = cli("consensus", "--require-agreement", *three, ITEM.prompt)
    assert default.returncode == 6  # 0.67 < 0.80
    assert "agreement 0.67 is below the required 0.80" in default.stderr
    looser = cli("consensus", "--require-agreement", "--threshold", "0.6", *three, ITEM.prompt)
    assert looser.returncode == 0, looser.stderr  # pairwise 0.33 would have failed it
