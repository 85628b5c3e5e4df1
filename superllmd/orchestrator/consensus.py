"""``consensus``: ask every participant at once, then merge by a strategy.

Strategies (``--strategy``):

``vote``        default for extractable answers (numeric, choice, boolean, short). Extract
                and normalise each final answer, plurality wins, abstentions get no vote.
                A tie goes to the judge (USC-style) if one is configured, else to the first
                configured participant. ``--samples auto`` tops up round-robin until the
                Beta posterior says the leader is the true majority (0.9, at most 9
                samples); ``--samples N`` is plain self-consistency with N samples.
``synthesize``  default for free text and code (MoA, one aggregation layer): the judge, or
                the first participant, merges the anonymised answers.
``council``     peer ranking, Borda count, then a chairman writes the answer (council.py).
``medoid``      no extra call: the answer most similar to the others.
``usc``         Universal Self-Consistency: one extra call picks the most consistent
                answer, so the result always comes from the panel.

Where ``--samples auto`` stops: the Beta confidence of (top, runner-up) votes, against
the threshold 0.9 -- so three unanimous answers suffice and any split draws more::

    3-0 0.9375 stop   4-0 0.969   5-0 0.984   2-1 0.6875 more   3-1 0.8125 more
    4-1 0.891 more    5-1 0.9375 stop         6-1 0.965          4-2 0.773 more   6-2 0.910 stop

Voting captures most of what multi-agent methods gain, at the lowest cost, so it is
the default wherever answers can be compared. ``--quorum k`` takes the first k answers and
reports the rest as late; a failed participant is reported and the run goes on, and only a
panel where every participant failed fails the run (exit 4).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Final

from superllmd.errors import UsageError
from superllmd.orchestrator.agreement import (
    beta_confidence,
    should_stop_sampling,
    text_report,
    vote_report,
)
from superllmd.orchestrator.context import RunContext
from superllmd.orchestrator.council import council
from superllmd.orchestrator.extract import AnswerType
from superllmd.orchestrator.judge import ask_text, pick, show
from superllmd.orchestrator.panel import (
    EXTRACTABLE,
    Reply,
    agreement_of,
    answer_type_of,
    ask_panel,
    break_tie,
    display,
    participant_labels,
    temperature_of,
    text_agreement,
)
from superllmd.orchestrator.prompts import USC_INSTRUCTION, question_prompt, synth_prompt
from superllmd.orchestrator.run import messages_of
from superllmd.providers.base import Message

__all__ = [
    "AUTO_MAX_SAMPLES",
    "AUTO_THRESHOLD",
    "DEFAULT_TEMPERATURE",
    "STRATEGIES",
    "run",
    "samples_needed",
]

STRATEGIES: Final = ("vote", "synthesize", "council", "medoid", "usc")
_ALIASES: Final = {"rank": "council"}  # the council's other name, kept as an alias
#: Sampling diversity is what voting feeds on; 0 when the user asks for determinism.
DEFAULT_TEMPERATURE: Final = 0.7
#: ``--samples auto``: the defaults (looser than Adaptive-Consistency's 0.95, so three
#: unanimous providers, 0.9375, are enough and 2-1 tops up).
AUTO_THRESHOLD: Final = 0.9
AUTO_MAX_SAMPLES: Final = 9


def _strategy(ctx: RunContext, answer_type: AnswerType) -> str:
    given = ctx.request.get("strategy")
    if given is None:
        return "vote" if answer_type in EXTRACTABLE else "synthesize"
    strategy = _ALIASES.get(given, given)
    if strategy not in STRATEGIES:
        raise UsageError(f"unknown strategy {given!r}; use one of: {', '.join(STRATEGIES)}")
    return strategy


async def run(ctx: RunContext) -> None:
    """Run a consensus: one parallel round, then the strategy."""
    if ctx.request.get("json_schema") is not None:  # JSON answers, voted field by field
        from superllmd.orchestrator import structured_vote

        await structured_vote.run(ctx)
        return
    answer_type = answer_type_of(ctx)
    strategy = _strategy(ctx, answer_type)
    ctx.strategy = strategy
    ctx.report["answer_type"] = answer_type
    quorum = ctx.request.get("quorum")
    if quorum is not None and quorum > len(ctx.participants):
        raise UsageError(f"--quorum {quorum} is more than the {len(ctx.participants)} models")
    labels = participant_labels(ctx.participants)
    messages = messages_of(
        ctx.request.get("system"), question_prompt(ctx.request["prompt"], answer_type)
    )
    replies = await ask_panel(
        ctx,
        range(len(ctx.participants)),
        labels,
        lambda _: messages,
        answer_type,
        temperature=temperature_of(ctx, DEFAULT_TEMPERATURE),
        quorum=quorum,
    )
    if not replies:  # the run budget ran out before anyone answered
        return
    if strategy == "vote":
        replies = await _top_up(ctx, replies, labels, lambda _: messages, answer_type)
    agreement, report = await agreement_of(ctx, answer_type, replies)
    ctx.agreement = agreement
    ctx.report["agreement"] = report
    ctx.round_finished(0, agreement, **{k: v for k, v in report.items() if k != "agreement"})
    await _STRATEGIES[strategy](ctx, replies, answer_type)


# --------------------------------------------------------------------------- vote


def samples_needed(counts: Sequence[int], threshold: float = AUTO_THRESHOLD) -> int:
    """Fewest extra samples that could reach ``threshold``: all of them agreeing with the
    leader. Drawing that many at once keeps top-ups parallel and never overshoots.

    >>> samples_needed([2, 1]), samples_needed([3]), samples_needed([])
    (3, 0, 3)
    """
    ranked = [*sorted(counts, reverse=True), 0, 0]
    top, runner_up = ranked[0], ranked[1]
    extra = 0
    while beta_confidence(top + extra, runner_up) < threshold:
        extra += 1
    return extra


def _counts(replies: Sequence[Reply]) -> list[int]:
    votes = vote_report([r.answer for r in replies], labels_of(replies))
    return [len(voters) for voters in votes.distribution.values()]


def labels_of(replies: Sequence[Reply]) -> list[str]:
    return [r.label for r in replies]


async def _top_up(
    ctx: RunContext,
    replies: list[Reply],
    labels: Sequence[str],
    messages: Callable[[int], Sequence[Message]],
    answer_type: AnswerType,
) -> list[Reply]:
    """``--samples``: draw more answers round-robin over the participants that answered."""
    samples = ctx.request.get("samples")
    if samples is None:
        return replies
    adaptive = samples == "auto"
    if not adaptive and not str(samples).isdigit():
        raise UsageError(f"--samples takes auto or a number, not {samples!r}")
    limit = AUTO_MAX_SAMPLES if adaptive else int(samples)
    pool = [r.index for r in replies]
    first = len(replies)
    stop = "max samples"
    while True:
        counts = _counts(replies)
        if adaptive and should_stop_sampling(counts, AUTO_THRESHOLD):
            stop = "confident"
            break
        room = limit - len(replies)
        if room <= 0:
            break
        want = min(samples_needed(counts) if adaptive else room, room)
        drawn = len(replies) - first
        more = await ask_panel(
            ctx,
            [pool[(drawn + j) % len(pool)] for j in range(want)],
            labels,
            messages,
            answer_type,
            temperature=temperature_of(ctx, DEFAULT_TEMPERATURE),
            require_one=False,
        )
        replies = [*replies, *more]
        if ctx.stopped or not more:
            stop = "budget" if ctx.stopped else "no answers"
            break
    ranked = [*sorted(_counts(replies), reverse=True), 0, 0]
    ctx.report["sampling"] = {
        "mode": "auto" if adaptive else "fixed",
        "samples": len(replies),
        "top_up": len(replies) - first,
        "stop": stop,
        "beta_confidence": beta_confidence(ranked[0], ranked[1]),
    }
    return replies


async def _vote(ctx: RunContext, replies: list[Reply], answer_type: AnswerType) -> None:
    votes = vote_report([r.answer for r in replies], labels_of(replies))
    if votes.winner is None:
        ctx.report["fallback"] = "medoid: no participant gave an extractable answer"
        await _medoid(ctx, replies, answer_type)
        return
    winner = votes.winner
    if len(votes.tied) > 1:
        tied = [next(r for r in replies if r.answer and r.answer.key == k) for k in votes.tied]
        tied.sort(key=lambda r: r.index)  # "first configured" means panel order
        chosen, how = await break_tie(ctx, tied, round_=0)
        assert chosen.answer is not None
        winner = chosen.answer.key
        ctx.report["tie_break"] = {"tied": votes.tied, "by": how, "winner": winner}
    best = next(r for r in replies if r.answer is not None and r.answer.key == winner)
    assert best.answer is not None
    ctx.answer = display(best.answer, answer_type)
    ctx.report["winner"] = winner
    ctx.report["response"] = best.text


# --------------------------------------------------------------------------- text strategies


async def _medoid(ctx: RunContext, replies: list[Reply], answer_type: AnswerType) -> None:
    report = await text_agreement(ctx, [r.text for r in replies], labels_of(replies))
    assert report.medoid_index is not None
    ctx.answer = replies[report.medoid_index].text
    ctx.report["medoid"] = report.medoid_label


async def _fallback(
    ctx: RunContext, replies: list[Reply], answer_type: AnswerType, why: str
) -> None:
    ctx.report["fallback"] = why
    if answer_type in EXTRACTABLE:
        await _vote(ctx, replies, answer_type)
    else:
        await _medoid(ctx, replies, answer_type)


async def _usc(ctx: RunContext, replies: list[Reply], answer_type: AnswerType) -> None:
    if len(replies) == 1:
        chosen: int | None = 0
    else:
        judge = ctx.judge or replies[0].target
        prompt = ctx.request["prompt"]
        chosen = await pick(
            ctx, judge, prompt, [r.text for r in replies], USC_INSTRUCTION, round_=0, task="usc"
        )
    if chosen is None:
        await _fallback(ctx, replies, answer_type, "vote: the judge gave no valid choice")
        return
    reply = replies[chosen]
    ctx.report["chosen"] = reply.label
    ctx.report["response"] = reply.text
    answer = reply.answer if answer_type in EXTRACTABLE else None
    ctx.answer = display(answer, answer_type) if answer is not None else reply.text


async def _synthesize(ctx: RunContext, replies: list[Reply], answer_type: AnswerType) -> None:
    aggregator = ctx.judge or replies[0].target
    texts = [r.text for r in replies]
    shown = show(ctx, texts, recipient=-1)
    medoid = text_report(texts, labels_of(replies)).medoid_index
    agreement = ctx.report["agreement"]
    summary = (
        f"Agreement among the responses: {agreement['label']} ({ctx.agreement or 0.0:.2f}). "
        f"The response closest to the others is {shown.label_of(medoid or 0)}."
    )
    prompt = synth_prompt(ctx.request["prompt"], shown.labelled, answer_type, summary)
    text = await ask_text(ctx, aggregator, prompt, round_=0)
    if text is None:
        await _fallback(ctx, replies, answer_type, "the aggregator gave no answer")
        return
    ctx.answer = text
    ctx.judge_result = {"model": aggregator.name, "answer": text, "task": "synthesis"}


_STRATEGIES: Final[dict[str, Callable[[RunContext, list[Reply], AnswerType], Awaitable[None]]]] = {
    "vote": _vote,
    "synthesize": _synthesize,
    "council": council,
    "medoid": _medoid,
    "usc": _usc,
}
