"""map-reduce against fake roles, in-process (ORCHESTRATION.md §4.6, §6.3 "Map-reduce")."""

from __future__ import annotations

import asyncio
import math
import re
from typing import Any

import pytest

from superllmd.orchestrator import mapreduce
from superllmd.providers.base import Capabilities
from superllmd.providers.registry import Target
from tests.fakes.roles import Document, RoleProvider, Roles, make_document, run_inprocess, targets

POOL = ("p/m1", "q/m2", "r/m3")


def run(
    prompt: str,
    roles: Roles,
    pool: tuple[str, ...] = POOL,
    judge: str | None = "j/reducer",
    **options: Any,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    panel = targets(roles, *pool)
    reducer = targets(roles, judge)[0] if judge else None
    request = {"prompt": prompt, "mode_options": options, "seed": 1}
    return asyncio.run(run_inprocess("mapreduce", mapreduce.run, request, panel, reducer))


def listed(answer: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r"([A-Z]-\d+): (\d+) \[chunk", answer)}


def needle_chunks(doc: Document, key: str, chunks: list[dict[str, Any]]) -> list[int]:
    """Ids of the chunks holding the whole (last) needle sentence for ``key``."""
    sentence = re.search(rf"[^.]*the code of item {key} is \d+\.", doc.text)
    assert sentence is not None
    lo, hi = sentence.span()
    return [c["id"] for c in chunks if c["start"] <= lo and hi <= c["end"]]


# --------------------------------------------------------------------------- §6.3


def test_lossless_map_and_keeping_reducer_recall_every_needle() -> None:
    total = found = 0
    depths = []
    for seed in range(20):  # 20 documents x 25 needles = 500 needles
        doc = make_document(seed, needles=25, paragraphs=50)
        token_max = 1500 if seed % 2 else 3000  # half of them must collapse
        result, _ = run(
            doc.text,
            Roles(seed=seed),
            question="List every code.",
            chunk_tokens=300,
            token_max=token_max,
        )
        assert result.get("error") is None, result.get("error")
        got = listed(result["answer"])
        total += len(doc.codes)
        found += sum(got.get(k) == v for k, v in doc.codes.items())
        depths.append(result["report"]["collapse_depth"])
        assert not result["report"]["warnings"]
    assert total >= 500
    assert found == total  # 100% recall
    assert max(depths) >= 1, "the collapse stage was exercised"


def test_cross_chunk_questions_are_answered_exactly() -> None:
    asked = 0
    for seed in range(50):
        doc = make_document(seed, needles=6, paragraphs=50)
        keys = sorted(doc.codes)
        a, b = keys[0], keys[-1]
        question = f"What is the sum of the codes of items {a} and {b}?"
        result, _ = run(doc.text, Roles(seed=seed), question=question, chunk_tokens=250)
        chunks = result["report"]["chunks"]
        in_a, in_b = needle_chunks(doc, a, chunks), needle_chunks(doc, b, chunks)
        if set(in_a) & set(in_b):
            continue  # both in one chunk: not a cross-chunk question
        asked += 1
        assert f"The sum is {doc.codes[a] + doc.codes[b]} " in result["answer"]
        cited = set(result["report"]["cited_chunks"])
        assert cited & set(in_a) and cited & set(in_b)
    assert asked >= 40


@pytest.mark.parametrize("date_rule", [True, False])
def test_conflicts_resolve_to_the_newer_value_with_the_date_rule(date_rule: bool) -> None:
    right = wrong = 0
    for seed in range(12):
        doc = make_document(seed, needles=8, paragraphs=50, conflicts=5)
        result, _ = run(
            doc.text,
            Roles(seed=seed),
            question="List every code.",
            chunk_tokens=300,
            date_rule=date_rule,
        )
        got = listed(result["answer"])
        for key, old in doc.older.items():
            right += got[key] == doc.codes[key]
            wrong += got[key] == old
    assert right + wrong == 60
    if date_rule:
        assert (right, wrong) == (60, 0)
    else:  # without the rule the fake reducer keeps the first value it reads: the old one
        assert (right, wrong) == (0, 60)


def test_collapse_stops_when_the_reducer_does_not_shrink() -> None:
    doc = make_document(7, needles=25, paragraphs=50)
    roles = Roles(seed=7, collapse="inflate")
    result, events = run(
        doc.text,
        roles,
        question="List every code.",
        chunk_tokens=200,
        token_max=400,
        max_collapse_depth=4,
    )
    report = result["report"]
    assert report["collapse_depth"] == 1
    assert any("less than 10%" in w for w in report["warnings"])
    assert any("dropped the lowest-confidence notes" in w for w in report["warnings"])
    assert result["answer"]  # it still answers, from what it kept
    stages = [e["report"]["stage"] for e in events if e["type"] == "round.finished"]
    assert stages == ["map", "collapse", "reduce"]


def test_collapse_is_capped_at_max_depth() -> None:
    doc = make_document(8, needles=10, paragraphs=50)
    roles = Roles(seed=8, collapse="slow", map_padding=4000)  # shrinks ~12% a pass, forever
    for depth in (1, 2, 4):
        calls_before = sum(roles.calls.values())
        result, events = run(
            doc.text,
            roles,
            question="List every code.",
            chunk_tokens=300,
            token_max=500,
            max_collapse_depth=depth,
        )
        report = result["report"]
        assert report["collapse_depth"] == depth
        assert any("dropped the lowest-confidence notes" in w for w in report["warnings"])
        stages = [e["report"]["stage"] for e in events if e["type"] == "round.finished"]
        assert stages == ["map"] + ["collapse"] * depth + ["reduce"]
        calls = sum(roles.calls.values()) - calls_before
        assert calls <= len(report["chunks"]) * (depth + 1) + 1


def test_lossy_map_recall_matches_closed_form() -> None:
    drop = 0.3
    expected, found, n = 0.0, 0, 0
    for seed in range(20):
        doc = make_document(100 + seed, needles=30, paragraphs=50)
        result, _ = run(
            doc.text,
            Roles(seed=seed, map_drop=drop),
            question="List every code.",
            chunk_tokens=200,
            overlap=60,
        )
        got = listed(result["answer"])
        for key, value in doc.codes.items():
            k = len(needle_chunks(doc, key, result["report"]["chunks"]))
            expected += 1 - drop**k  # lost only if every chunk holding it drops it
            found += got.get(key) == value
            n += 1
    assert n >= 500
    p = expected / n
    se = math.sqrt(p * (1 - p) / n)
    assert abs(found / n - p) < 3 * se, (found / n, p, se)


# --------------------------------------------------------------------------- behaviour


def test_map_is_round_robin_and_parallel_over_the_pool() -> None:
    doc = make_document(3, needles=5, paragraphs=30)
    result, events = run(doc.text, Roles(), question="List every code.", chunk_tokens=150)
    chunks = result["report"]["chunks"]
    assert [c["model"] for c in chunks[:6]] == [*POOL, *POOL]
    assert result["judge"]["model"] == "j/reducer"
    judge_events = [e for e in events if e["type"] == "judge.message"]
    assert len(judge_events) == 1 and judge_events[0]["participant"] == "j/reducer"
    assert result["report"]["overlap"] == 37  # a quarter of the chunk when not given


def test_reducer_defaults_to_first_participant() -> None:
    doc = make_document(4, needles=3, paragraphs=10)
    result, _ = run(doc.text, Roles(), judge=None, question="List every code.")
    assert result["judge"]["model"] == POOL[0]
    assert len(result["report"]["chunks"]) == 1


class SmallWindow(RoleProvider):
    def capabilities(self, model: str) -> Capabilities:
        return Capabilities(context_window=1000)


def test_chunk_budget_defaults_to_half_the_smallest_context() -> None:
    roles = Roles()
    panel = [*targets(roles, "p/big"), Target(SmallWindow(roles, "s"), "small")]
    doc = make_document(5, needles=3, paragraphs=20)
    request = {"prompt": doc.text, "mode_options": {"question": "List every code."}}
    result, _ = asyncio.run(run_inprocess("mapreduce", mapreduce.run, request, panel))
    assert result["report"]["chunk_tokens"] == 500
    assert all(c["tokens"] <= 500 for c in result["report"]["chunks"])


def test_question_from_first_line_or_summary() -> None:
    doc = make_document(6, needles=2, paragraphs=5)
    key = sorted(doc.codes)[0]
    result, _ = run(f"What is the code of item {key}?\n{doc.text}", Roles())
    assert result["report"]["question_source"] == "first line"
    assert result["answer"] == f"{key}: {doc.codes[key]} [chunk 1]"
    result, _ = run(doc.text, Roles())
    assert result["report"]["question"] == mapreduce.SUMMARISE
    assert result["report"]["question_source"] == "default"


def test_unparseable_notes_degrade_to_plain_text() -> None:
    doc = make_document(9, needles=4, paragraphs=30)
    roles = Roles(json_ok=False)
    result, _ = run(doc.text, roles, question="List every code.", chunk_tokens=200)
    n = len(result["report"]["chunks"])
    assert result.get("error") is None
    assert roles.calls["map"] == 3 * n  # asked, then retried twice, for every chunk
    warnings = result["report"]["warnings"]
    assert sum("kept the reply as plain text" in w for w in warnings) == n
    assert result["answer"] == "Unknown."


@pytest.mark.parametrize(
    ("prompt", "options", "message"),
    [
        ("   \n", {"question": "q"}, "input is empty"),
        ("text", {"chunk_tokens": 0}, "chunk_tokens must be"),
        ("text", {"chunk_tokens": 100, "overlap": 100}, "overlap"),
    ],
)
def test_usage_errors(prompt: str, options: dict[str, Any], message: str) -> None:
    result, _ = run(prompt, Roles(), **options)
    assert result["error"]["code"] == "usage"
    assert message in result["error"]["message"]


def test_budget_stop_keeps_what_the_notes_say() -> None:
    doc = make_document(10, needles=4, paragraphs=30)
    roles = Roles(map_padding=3)
    panel = targets(roles, *POOL)
    request = {"prompt": doc.text, "mode_options": {"chunk_tokens": 300}, "max_calls": 3}
    result, _ = asyncio.run(run_inprocess("mapreduce", mapreduce.run, request, panel))
    assert result["stopped"] == "max calls (3) reached"
    assert result["answer"] is None or "xxx" in result["answer"]
