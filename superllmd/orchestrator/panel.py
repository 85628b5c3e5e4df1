"""What consensus and debate share: the task type, asking the panel, and agreement reports.

A *panel* is the participants of a run, each under a label that is unique even when the same
model sits on it twice (``local/smollm2`` and ``local/smollm2#2``), so its events, votes and
failures can be told apart. :func:`ask_panel` asks some of them in parallel and records who
failed or came too late in ``ctx.report`` -- a failed participant is dropped from the stage,
never from the run.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, cast, get_args

from superllmd.errors import Cancelled, SuperllmError, UsageError
from superllmd.orchestrator.agreement import TextReport, VoteReport, text_report, vote_report
from superllmd.orchestrator.context import RunContext, participant_labels
from superllmd.orchestrator.extract import (
    Answer,
    AnswerType,
    detect_answer_type,
    extract_answer,
)
from superllmd.orchestrator.judge import pick
from superllmd.orchestrator.prompts import TIE_INSTRUCTION
from superllmd.orchestrator.run import CallOutcome, all_failed
from superllmd.providers.base import Message
from superllmd.providers.registry import Target

__all__ = [
    "EXTRACTABLE",
    "Reply",
    "agreement_of",
    "answer_type_of",
    "ask_panel",
    "break_tie",
    "display",
    "participant_labels",
    "temperature_of",
    "text_agreement",
    "text_dict",
    "vote_dict",
]

#: Types whose answers reduce to a comparable key and so can be voted on.
EXTRACTABLE: Final[frozenset[AnswerType]] = frozenset({"numeric", "choice", "boolean", "short"})


def answer_type_of(ctx: RunContext) -> AnswerType:
    """``--answer-type`` if given, else the cheap heuristic on the prompt."""
    given = ctx.request.get("answer_type")
    if given is None:
        return detect_answer_type(ctx.request["prompt"])
    if given not in get_args(AnswerType):
        known = ", ".join(get_args(AnswerType))
        raise UsageError(f"unknown answer type {given!r}; use one of: {known}")
    return cast(AnswerType, given)


def temperature_of(ctx: RunContext, default: float) -> float | None:
    """The mode's default temperature unless the user set one (None lets ctx.call use it)."""
    return None if ctx.request.get("temperature") is not None else default


def display(answer: Answer, answer_type: AnswerType) -> str:
    """How an extracted answer is shown as the run's answer: its canonical form."""
    if answer_type == "boolean":
        return "yes" if answer.value is True else "no"
    if answer_type in ("numeric", "choice"):
        return answer.key
    return answer.raw.strip()


@dataclass
class Reply:
    """One participant's successful answer in one round."""

    index: int  # position on the panel
    label: str
    target: Target
    outcome: CallOutcome
    answer: Answer | None

    @property
    def text(self) -> str:
        return self.outcome.text


def _record(ctx: RunContext, key: str, entry: dict[str, Any]) -> None:
    ctx.report.setdefault(key, []).append(entry)


async def ask_panel(
    ctx: RunContext,
    members: Sequence[int],
    labels: Sequence[str],
    messages: Callable[[int], Sequence[Message]],
    answer_type: AnswerType,
    *,
    round_: int = 0,
    temperature: float | None = None,
    quorum: int | None = None,
    require_one: bool = True,
    json_schema: Mapping[str, Any] | None = None,
) -> list[Reply]:
    """Ask panel ``members`` (indices into ``ctx.participants``) in parallel.

    Returns the successful replies in panel order. Failures go to ``report["failed"]``,
    calls cancelled once the quorum was met to ``report["late"]``, calls the run budget
    refused to ``report["not_called"]``. With ``require_one``, no reply at all is a
    ProviderError (the run fails with exit 4) -- unless the budget ran out first.
    """
    targets = ctx.participants

    def call(i: int) -> Callable[[], Awaitable[CallOutcome]]:
        return lambda: ctx.call(
            targets[i],
            messages(i),
            participant=labels[i],
            round_=round_,
            temperature=temperature,
            json_schema=json_schema,
        )

    first = len(ctx.outcomes)
    outcomes = await ctx.gather([call(i) for i in members], quorum=quorum)
    for cut in ctx.outcomes[first:]:  # cancelled once the quorum was met: say so in the result
        if cut.completion is None and cut.error is None:
            cut.error = Cancelled("the quorum was met before this participant answered")
    ok = sum(o is not None and o.ok for o in outcomes)
    replies: list[Reply] = []
    errors: list[str] = []
    failures: list[SuperllmError] = []
    for i, outcome in zip(members, outcomes, strict=True):
        if outcome is None:
            met = quorum is not None and ok >= quorum
            _record(
                ctx, "late" if met else "not_called", {"participant": labels[i], "round": round_}
            )
        elif outcome.ok:
            answer = extract_answer(outcome.text, answer_type)
            replies.append(Reply(i, labels[i], targets[i], outcome, answer))
        elif outcome.error is not None:
            error = outcome.error
            _record(
                ctx,
                "failed",
                {
                    "participant": labels[i],
                    "round": round_,
                    "code": error.code,
                    "message": error.message,
                },
            )
            errors.append(f"{labels[i]}: {error.message}")
            failures.append(error)
    if require_one and not replies and not ctx.stopped:
        raise all_failed(
            "every participant failed: " + "; ".join(errors or ["no answer"]), failures
        )
    if quorum is not None and len(replies) < quorum and not ctx.stopped:
        # Failures count against the quorum: k answers were asked for, fewer came.
        why = "; ".join(errors) if errors else "no other answer came"
        raise all_failed(
            f"--quorum {quorum} not met: {len(replies)} of {len(members)} participants "
            f"answered ({why})",
            failures if len(failures) == len(members) else [],
        )
    return replies


def vote_dict(report: VoteReport) -> dict[str, Any]:
    """A VoteReport as JSON-ready fields (the agreement report every mode attaches)."""
    return {
        "n_valid": report.n_valid,
        "n_abstain": report.n_abstain,
        "abstain_rate": report.abstain_rate,
        "distribution": report.distribution,
        "answers": {key: answer.raw for key, answer in report.answers.items()},
        "winner": report.winner,
        "tied": report.tied,
        "plurality_share": report.plurality_share,
        "margin": report.margin,
        "beta_confidence": report.beta_confidence,
        "label": report.label,
        "dissenters": report.dissenters,
        "mean_pairwise_agreement": report.mean_pairwise_agreement,
        "agreement": report.agreement,
    }


def text_dict(report: TextReport) -> dict[str, Any]:
    """A TextReport as JSON-ready fields (pairwise similarity and medoid)."""
    return {
        "labels": report.labels,
        "similarity": [[round(x, 4) for x in row] for row in report.similarity],
        "medoid": report.medoid_label,
        "mean_pairwise_similarity": report.mean_pairwise_similarity,
        "label": report.label,
        "agreement": report.agreement,
    }


async def text_agreement(
    ctx: RunContext, texts: Sequence[str], labels: Sequence[str]
) -> TextReport:
    """Free-text agreement: embedding cosine when an embedding model is configured
    (``default_embedding_model``), lexical similarity otherwise or if embedding fails.
    ``ctx.report["similarity"]`` says which was used."""
    embedder = ctx.embedder
    if embedder is not None and len(texts) > 1:
        # Agreement and the medoid look at the same answers: embed them once per run.
        memo: dict[tuple[str, ...], list[list[float]]] = ctx.info.scratch.setdefault(
            "embeddings", {}
        )
        try:
            vectors = memo.get(tuple(texts))
            if vectors is None:
                vectors = await embedder.provider.embed(embedder.model, list(texts))
                memo[tuple(texts)] = vectors
        except SuperllmError as exc:
            ctx.report.setdefault("warnings", []).append(
                f"embedding with {embedder.name} failed ({exc.message}); used lexical similarity"
            )
        else:
            if len(vectors) == len(texts):
                ctx.report["similarity"] = f"embedding:{embedder.name}"
                return text_report(texts, labels, vectors=vectors)
    ctx.report["similarity"] = "lexical"
    return text_report(texts, labels)


async def agreement_of(
    ctx: RunContext, answer_type: AnswerType, replies: Sequence[Reply]
) -> tuple[float, dict[str, Any]]:
    """Agreement by task type: exact match for extractable answers; for free text, embedding
    cosine when an embedding model is configured, else lexical similarity."""
    labels = [r.label for r in replies]
    extractable = answer_type in EXTRACTABLE
    # Who of the panel stands behind the figure: a failed or abstaining participant is no
    # valid answer, and the summary line says "n_valid of n" so a thin panel is visible.
    valid = {r.index for r in replies if not extractable or r.answer is not None}
    ctx.valid = (len(valid), len(ctx.participants))
    if extractable:
        votes = vote_report([r.answer for r in replies], labels)
        return votes.agreement, {"kind": "vote", **vote_dict(votes), "n": len(ctx.participants)}
    texts = await text_agreement(ctx, [r.text for r in replies], labels)
    return texts.agreement, {"kind": "text", **text_dict(texts), "n": len(ctx.participants)}


async def break_tie(ctx: RunContext, tied: Sequence[Reply], *, round_: int) -> tuple[Reply, str]:
    """Settle a tie between answers, one representative reply each, in panel order.

    The configured judge picks the best-supported one (USC-style); with no judge, or a judge
    that gives no valid choice, the answer of the first configured participant wins.
    """
    if ctx.judge is not None:
        chosen = await pick(
            ctx,
            ctx.judge,
            ctx.request["prompt"],
            [r.text for r in tied],
            TIE_INSTRUCTION,
            round_=round_,
            task="tie-break",
        )
        if chosen is not None:
            return tied[chosen], "judge"
    return tied[0], "first configured"
