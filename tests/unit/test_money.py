"""One money rule for the CLI and the TUI: the known sum plus a count of unpriced calls,
enough digits that a non-zero cost never reads $0.0000, and never free for unpriced."""

from __future__ import annotations

import pytest

from superllm_cli.commands.usage import format_cost
from superllm_cli.money import cost_of, cost_text, usd
from superllm_cli.render import usage_line
from superllm_cli.runview import summary


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.0, "$0.00"), (2.0, "$2.00"), (0.01601, "$0.01601"), (0.000017, "$0.000017"),
     (0.1591, "$0.1591"), (1234.5, "$1,234.50")],
)  # fmt: skip
def test_usd_keeps_four_significant_figures(value: float, text: str) -> None:
    assert usd(value) == text


@pytest.mark.parametrize("value", [1e-9, 3e-7, 0.00004, 0.00049])
def test_a_non_zero_cost_never_reads_zero(value: float) -> None:
    assert usd(value).strip("$0.,") != ""


def test_known_sum_plus_a_count_of_unpriced_calls() -> None:
    assert cost_text(0.1591, 3) == "$0.1591 + 3 unpriced"
    assert cost_text(0.1591, 0) == "$0.1591"
    assert cost_text(0.0, 1) == "unpriced"
    assert cost_text(0.0, 4) == "4 unpriced"


def test_results_and_rows_use_the_known_cost() -> None:
    result = {"cost_usd": None, "known_cost_usd": 0.0002, "unpriced_calls": 1}
    assert cost_of(result) == (0.0002, 1)
    assert cost_of({"cost_usd": None}) == (0.0, 1)  # an older daemon: unknown, not free
    assert cost_of({"cost_usd": 0.5}) == (0.5, 0)
    assert format_cost(result) == "$0.0002 + 1 unpriced"


def test_cli_summary_lines_follow_the_rule() -> None:
    result = {
        "mode": "consensus",
        "model": "openai/gpt-4.1-mini",
        "usage": {"input_tokens": 10, "output_tokens": 5},
        "latency_ms": 1200,
        "calls": 3,
        "cost_usd": None,
        "known_cost_usd": 0.000017,
        "unpriced_calls": 2,
    }
    assert usage_line(result).endswith("· $0.000017 + 2 unpriced")
    assert "$0.000017 + 2 unpriced" in summary(result)
    priced = {**result, "cost_usd": 0.000017, "known_cost_usd": 0.000017, "unpriced_calls": 0}
    assert usage_line(priced).endswith("· $0.000017")
