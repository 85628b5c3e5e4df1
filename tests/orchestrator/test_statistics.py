"""The modes reproduce the closed forms of ORCHESTRATION.md §6.3 on synthetic items.

Each test runs the real consensus or debate mode, in-process, on hundreds of synthetic
arithmetic items answered by deterministic fake agents, and checks the measured accuracy
against its closed form within 3 standard errors. The agents are seeded, so a failure is
reproducible, not flaky: it means the mode (or the extractor) does not vote, stop or
debate as the literature says it should.
"""

from __future__ import annotations

import asyncio
import itertools
import math
from collections.abc import Sequence
from typing import Any

import pytest

from superllmd.orchestrator import consensus, debate
from superllmd.orchestrator.agreement import majority_accuracy
from superllmd.orchestrator.context import ModeFn
from superllmd.protocol import Mode, RunResult
from tests.fakes.agents import Fleet, run_inprocess
from tests.fakes.items import Item, arithmetic_items

N_ITEMS = 500


def _run_all(
    fn: ModeFn, mode: Mode, items: Sequence[Item], models: list[str], **request: Any
) -> list[RunResult]:
    async def go() -> list[RunResult]:
        fleet = Fleet(seed=7)
        return list(
            await asyncio.gather(
                *(run_inprocess(fn, mode, it.prompt, models, fleet, **request) for it in items)
            )
        )

    return asyncio.run(go())


def _accuracy(results: Sequence[RunResult], items: Sequence[Item]) -> float:
    return sum(r["answer"] == it.gold_key for r, it in zip(results, items, strict=True)) / len(
        items
    )


def _se(p: float, n: int) -> float:
    return math.sqrt(max(p * (1 - p), 1e-4) / n)


def _within(measured: float, expected: float, n: int) -> None:
    assert abs(measured - expected) <= 3 * _se(expected, n), (measured, expected)


# --------------------------------------------------------------------------- voting


@pytest.mark.parametrize("p", [0.67, 0.85])
@pytest.mark.parametrize("k", [1, 3, 5])
def test_vote_accuracy_matches_majority_closed_form(p: float, k: int) -> None:
    items = arithmetic_items(N_ITEMS, seed=1)
    results = _run_all(
        consensus.run, "consensus", items, [f"noisy-{p}-shared@{i}" for i in range(k)]
    )
    _within(_accuracy(results, items), majority_accuracy(p, k), N_ITEMS)
    assert all(r["calls"] == k for r in results)


def test_voting_hurts_on_hard_items() -> None:
    """Chen et al.: with per-call accuracy below 1/2, three voters do worse than one."""
    n = 1000
    items = arithmetic_items(n, seed=2)
    one = _accuracy(_run_all(consensus.run, "consensus", items, ["noisy-0.4-shared@0"]), items)
    three = _accuracy(
        _run_all(consensus.run, "consensus", items, [f"noisy-0.4-shared@{i}" for i in range(3)]),
        items,
    )
    _within(one, majority_accuracy(0.40, 1), n)
    _within(three, majority_accuracy(0.40, 3), n)
    assert three < one


def test_plurality_with_independent_errors_beats_the_binary_bound() -> None:
    """Spread errors rarely coincide, so a lone right answer can still win a 1-1-1 split
    (to the first configured participant): P = P(k>=2) + P(first right, others wrong)."""
    p = 0.67
    items = arithmetic_items(N_ITEMS, seed=3)
    models = [f"noisy-{p}-spread@{i}" for i in range(3)]
    measured = _accuracy(_run_all(consensus.run, "consensus", items, models), items)
    expected = majority_accuracy(p, 3) + p * (1 - p) ** 2
    _within(measured, expected, N_ITEMS)
    assert measured > majority_accuracy(p, 3)


def test_adaptive_sampling_stops_where_the_beta_rule_says() -> None:
    """3-0 (0.9375) stops at three samples; anything else tops up. With shared errors the
    share of items settled by the first three is p^3 + (1-p)^3, and no item goes past 9."""
    p = 0.7
    items = arithmetic_items(N_ITEMS, seed=4)
    models = [f"noisy-{p}-shared@{i}" for i in range(3)]
    results = _run_all(consensus.run, "consensus", items, models, samples="auto")
    samples = [r["report"]["sampling"]["samples"] for r in results]
    _within(sum(s == 3 for s in samples) / N_ITEMS, p**3 + (1 - p) ** 3, N_ITEMS)
    assert max(samples) <= consensus.AUTO_MAX_SAMPLES
    assert all(r["calls"] == s for r, s in zip(results, samples, strict=True))
    # A 2-1 start never stops at 3, and topping up beats the plain three-way vote.
    assert not any(
        s == 3 and r["report"]["agreement"]["label"] != "unanimous"
        for r, s in zip(results, samples, strict=True)
    )
    assert _accuracy(results, items) > majority_accuracy(p, 3)


# --------------------------------------------------------------------------- debate


def _flips(results: Sequence[RunResult], items: Sequence[Item]) -> tuple[int, int]:
    """(wrong->right, right->wrong) changes of individual agents across all rounds."""
    good = bad = 0
    for result, item in zip(results, items, strict=True):
        for keys in result["report"]["history"].values():
            for before, after in itertools.pairwise(keys):
                good += before != item.gold_key and after == item.gold_key
                bad += before == item.gold_key and after != item.gold_key
    return good, bad


def _vote0(results: Sequence[RunResult], items: Sequence[Item]) -> float:
    right = [
        bool(r["report"]["vote_at_0"]["answer"] == it.gold_key)
        for r, it in zip(results, items, strict=True)
    ]
    return sum(right) / len(items)


def _paired_se(results: Sequence[RunResult], items: Sequence[Item]) -> tuple[float, float]:
    """Mean and standard error of (final correct - round-0 vote correct), per item."""
    diffs = [
        (r["answer"] == it.gold_key) - (r["report"]["vote_at_0"]["answer"] == it.gold_key)
        for r, it in zip(results, items, strict=True)
    ]
    mean = sum(diffs) / len(diffs)
    var = sum((d - mean) ** 2 for d in diffs) / (len(diffs) - 1)
    return mean, math.sqrt(var / len(diffs))


def test_conformist_debate_stays_at_round_zero_vote_accuracy() -> None:
    """Choi et al.: debate among conformists is a martingale; it moves agents, not accuracy."""
    p = 0.67
    items = arithmetic_items(N_ITEMS, seed=5)
    models = [f"noisy-{p}-shared+conformist-0.8@{i}" for i in range(3)]
    results = _run_all(debate.run, "debate", items, models)
    vote0, final = _vote0(results, items), _accuracy(results, items)
    _within(vote0, majority_accuracy(p, 3), N_ITEMS)
    _within(final, vote0, N_ITEMS)
    good, bad = _flips(results, items)
    assert good > 0 and bad > 0  # agents did move: the debate really ran
    assert sum(r["report"]["skipped"] for r in results) / N_ITEMS == pytest.approx(
        p**3 + (1 - p) ** 3, abs=3 * _se(p**3 + (1 - p) ** 3, N_ITEMS)
    )


@pytest.mark.parametrize(("r", "s", "direction"), [(0.7, 0.1, 1), (0.1, 0.7, -1)])
def test_corrective_debate_moves_accuracy_the_way_the_flips_say(
    r: float, s: float, direction: int
) -> None:
    """Agents that recognise the right answer (r > s) gain over the round-0 vote; agents
    that cave under disagreement (s > r) lose, and the flip counter shows which happened."""
    items = arithmetic_items(N_ITEMS, seed=6)
    models = [f"noisy-0.6-shared+corrective-{r}-{s}@{i}" for i in range(3)]
    results = _run_all(debate.run, "debate", items, models)
    mean, se = _paired_se(results, items)
    assert direction * mean > 3 * se, (mean, se)
    good, bad = _flips(results, items)
    assert (good > bad) == (direction > 0), (good, bad)
    assert all(r["rounds"] <= debate.DEFAULT_ROUNDS for r in results)
