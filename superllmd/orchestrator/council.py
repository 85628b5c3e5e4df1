"""``consensus --strategy council``: peer review, Borda count, then a chairman.

The llm-council stages, with these changes:

1. every participant answers (done by consensus.py);
2. every participant that answered ranks *all* answers, anonymised and shuffled for it
   alone, in validated JSON; its own answer is then removed from its ballot (self-votes
   excluded: models prefer their own text), and the ballots are combined by Borda
   count (normalised, so a ballot that lost an entry weighs the same); Kendall's W over
   the full ballots says how much the reviewers agreed;
3. a chairman -- the judge, else the first participant -- sees the anonymised answers and
   the aggregate ranking by label only, and writes the answer.

Cost 2N + 1 calls. A reviewer whose ranking never validates is left out and reported; a
chairman that fails falls back to the top-ranked answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from superllmd.orchestrator.context import RunContext
from superllmd.orchestrator.extract import AnswerType
from superllmd.orchestrator.judge import ask_json, ask_text, label_in, show
from superllmd.orchestrator.panel import EXTRACTABLE, Reply, display
from superllmd.orchestrator.prompts import chair_prompt, rank_prompt

__all__ = ["borda", "council", "kendall_w"]


def borda(ballots: Sequence[Sequence[int]], n: int) -> list[float]:
    """Mean normalised Borda score per candidate (1 = always ranked first, 0 = last).

    Ballots may be partial (self-votes removed); each scores its m entries m-1 ... 0, over
    m-1. A candidate on no ballot scores 0.

    >>> borda([[0, 1, 2], [1, 0, 2]], 3)
    [0.75, 0.75, 0.0]
    """
    totals, seen = [0.0] * n, [0] * n
    for ballot in ballots:
        m = len(ballot)
        for position, candidate in enumerate(ballot):
            totals[candidate] += (m - 1 - position) / (m - 1) if m > 1 else 1.0
            seen[candidate] += 1
    return [t / s if s else 0.0 for t, s in zip(totals, seen, strict=True)]


def kendall_w(ballots: Sequence[Sequence[int]], n: int) -> float | None:
    """Kendall's coefficient of concordance over complete rankings of ``n`` items.

    1 when every reviewer gave the same order, 0 when their orders cancel out; None with
    fewer than two reviewers or items (nothing to agree on).

    >>> kendall_w([[0, 1, 2], [0, 1, 2]], 3), kendall_w([[0, 1], [1, 0]], 2)
    (1.0, 0.0)
    """
    m = len(ballots)
    if m < 2 or n < 2:
        return None
    rank_sums = [0] * n
    for ballot in ballots:
        for position, candidate in enumerate(ballot):
            rank_sums[candidate] += position + 1
    mean = m * (n + 1) / 2
    s = sum((r - mean) ** 2 for r in rank_sums)
    return 12 * s / (m * m * (n**3 - n))


async def _review(ctx: RunContext, replies: Sequence[Reply], k: int) -> list[int] | None:
    texts = [r.text for r in replies]
    shown = show(ctx, texts, recipient=k)
    labels = list(shown.index)

    def validate(data: dict[str, Any]) -> list[str]:
        ranking = data.get("ranking")
        if not isinstance(ranking, list):
            raise ValueError('"ranking" must be a list of response labels')
        order = [label_in(item, labels) for item in ranking]
        if sorted(order) != sorted(labels):
            raise ValueError(f"the ranking must list each of {', '.join(labels)} exactly once")
        return order

    order = await ask_json(
        ctx,
        replies[k].target,
        rank_prompt(ctx.request["prompt"], shown.labelled),
        validate,
        participant=replies[k].label,
        round_=1,
        role="participant",
    )
    return None if order is None else [shown.index[label] for label in order]


async def council(ctx: RunContext, replies: list[Reply], answer_type: AnswerType) -> None:
    """Stages 2 and 3 of the council over the answers in ``replies``."""
    n = len(replies)
    names = [r.label for r in replies]
    ballots = list(await asyncio.gather(*(_review(ctx, replies, k) for k in range(n))))
    valid = {k: b for k, b in enumerate(ballots) if b is not None}
    without_self = [[c for c in b if c != k] for k, b in valid.items()]
    scores = borda(without_self, n)
    order = sorted(range(n), key=lambda c: (-scores[c], c))
    ctx.report["council"] = {
        "ballots": {names[k]: [names[c] for c in b] for k, b in valid.items()},
        "invalid_ballots": [names[k] for k, b in enumerate(ballots) if b is None],
        "self_first": [names[k] for k, b in valid.items() if b and b[0] == k],
        "self_votes_excluded": True,
        "borda": {names[c]: round(scores[c], 4) for c in range(n)},
        "ranking": [names[c] for c in order] if valid else [],
        "kendall_w": kendall_w(list(valid.values()), n),
    }
    chair = ctx.judge or replies[0].target
    shown = show(ctx, [r.text for r in replies], recipient=-2)
    ranking = [shown.label_of(c) for c in order] if valid else []
    text = await ask_text(
        ctx,
        chair,
        chair_prompt(ctx.request["prompt"], shown.labelled, ranking, answer_type),
        round_=2,
    )
    if text is not None:
        ctx.answer = text
        ctx.judge_result = {"model": chair.name, "answer": text, "task": "chair"}
        return
    best = replies[order[0]]
    ctx.report["fallback"] = "top-ranked answer: the chairman gave no answer"
    ctx.report["response"] = best.text
    answer = best.answer if answer_type in EXTRACTABLE else None
    ctx.answer = display(answer, answer_type) if answer is not None else best.text
