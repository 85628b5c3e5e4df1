"""Judges and aggregators: what one model sees of the others, and how its verdict is read.

Hygiene rules, in one place so every mode follows them:

- Candidates are shown as "Response A/B/..." in an order shuffled per recipient with the
  run's seed (``ctx.anonymise``), and any provider/model name inside a response is masked:
  a judge never learns who wrote what.
- Verdicts are structured JSON, parsed with ``json`` and validated; model output is never
  evaluated as code. A reply that does not validate is retried twice, with the problem
  stated; after that the helpers return ``None`` and the caller falls back to voting.
- A judge call the run budget refuses is not an error: the mode stops with what it has
  (``ctx.stopped``) and falls back the same way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from superllmd.orchestrator.context import RunContext
from superllmd.orchestrator.prompts import JSON_RETRY, pick_prompt
from superllmd.orchestrator.run import RunBudgetExhausted
from superllmd.providers.base import Message
from superllmd.providers.registry import Target

__all__ = [
    "JSON_ATTEMPTS",
    "Shown",
    "ask_json",
    "ask_text",
    "label_in",
    "parse_json_object",
    "pick",
    "show",
]

#: One try and two retries, then the caller falls back to voting.
JSON_ATTEMPTS: Final = 3
_FENCE: Final = re.compile(r"```(?:json)?\s*(.*?)```", re.S | re.I)
_LABEL: Final = re.compile(r"^(?:response\s+)?([A-Z]{1,3})$", re.I)
_MAX_OBJECT_STARTS: Final = 64

T = TypeVar("T")


@dataclass(frozen=True)
class Shown:
    """Candidates as one recipient sees them: (label, masked text) in shown order."""

    labelled: list[tuple[str, str]]
    index: dict[str, int]  # label -> position in the caller's list of candidates

    def label_of(self, candidate: int) -> str:
        return next(label for label, i in self.index.items() if i == candidate)


def _masked(text: str, names: Sequence[str]) -> str:
    for name in sorted(set(names), key=len, reverse=True):
        text = re.sub(re.escape(name), "[a model]", text, flags=re.I)
    return text


def show(ctx: RunContext, texts: Sequence[str], recipient: int | None = None) -> Shown:
    """Anonymise ``texts`` for one recipient, masking every provider/model name of the run."""
    names = [t.name for t in ctx.participants] + ([ctx.judge.name] if ctx.judge else [])
    pairs = ctx.anonymise(texts, recipient)
    return Shown(
        labelled=[(label, _masked(texts[i], names)) for label, i in pairs],
        index=dict(pairs),
    )


def parse_json_object(text: str) -> dict[str, Any] | None:
    """The first JSON object in a model reply (fenced or bare), or None.

    Models wrap JSON in prose or code fences despite instructions; this finds the object
    with ``json.JSONDecoder.raw_decode`` from each ``{`` and never executes anything.

    >>> parse_json_object('Sure! ```json\\n{"choice": "Response B"}\\n``` Hope that helps.')
    {'choice': 'Response B'}
    """
    decoder = json.JSONDecoder()
    for chunk in [*(m.group(1) for m in _FENCE.finditer(text)), text]:
        starts = [i for i, ch in enumerate(chunk) if ch == "{"][:_MAX_OBJECT_STARTS]
        for start in starts:
            try:
                value, _ = decoder.raw_decode(chunk, start)
            except ValueError:
                continue
            if isinstance(value, dict):
                return value
    return None


async def ask_json(
    ctx: RunContext,
    target: Target,
    prompt: str,
    validate: Callable[[dict[str, Any]], T],
    *,
    participant: str,
    round_: int,
    role: str = "judge",
) -> T | None:
    """Ask for a JSON verdict; ``validate`` returns the value or raises ValueError.

    Up to :data:`JSON_ATTEMPTS` calls, each retry told what was wrong. None when the model
    failed, never produced a valid object, or the run budget refused the call.
    """
    messages = [Message("user", prompt)]
    for _ in range(JSON_ATTEMPTS):
        try:
            outcome = await ctx.call(
                target,
                messages,
                participant=participant,
                round_=round_,
                role=role,
                temperature=0.0,
                json_output=True,
            )
        except RunBudgetExhausted as exc:
            ctx.stopped = exc.reason
            return None
        if not outcome.ok:
            return None
        data = parse_json_object(outcome.text)
        try:
            if data is None:
                raise ValueError("it contained no JSON object")
            return validate(data)
        except ValueError as exc:
            problem = str(exc)
        messages += [
            Message("assistant", outcome.text),
            Message("user", JSON_RETRY.format(problem=problem)),
        ]
    return None


async def ask_text(ctx: RunContext, target: Target, prompt: str, *, round_: int) -> str | None:
    """One free-text judge call (synthesis, chairman): the run's answer, streamed as it
    (``final``); None if it failed or was refused."""
    try:
        outcome = await ctx.call(
            target,
            [Message("user", prompt)],
            participant=target.name,
            round_=round_,
            role="judge",
            final=True,
        )
    except RunBudgetExhausted as exc:
        ctx.stopped = exc.reason
        return None
    return outcome.text if outcome.ok and outcome.text.strip() else None


def label_in(value: object, labels: Sequence[str]) -> str:
    """``"Response B"``, ``"B"`` or ``"response b"`` -> ``"Response B"``, if it was shown."""
    match = _LABEL.match(value.strip()) if isinstance(value, str) else None
    label = f"Response {match.group(1).upper()}" if match else None
    if label is None or label not in labels:
        raise ValueError(f"{value!r} is not one of {', '.join(labels)}")
    return label


async def pick(
    ctx: RunContext,
    judge: Target,
    question: str,
    texts: Sequence[str],
    instruction: str,
    *,
    round_: int,
    task: str,
) -> int | None:
    """A judge picks one of ``texts`` (USC, tie-breaks); returns its index, or None.

    Records the verdict in ``ctx.judge_result``.
    """
    shown = show(ctx, texts, recipient=-1)

    def validate(data: dict[str, Any]) -> str:
        if "choice" not in data:
            raise ValueError('the object has no "choice"')
        return label_in(data["choice"], list(shown.index))

    label = await ask_json(
        ctx,
        judge,
        pick_prompt(question, shown.labelled, instruction),
        validate,
        participant=judge.name,
        round_=round_,
    )
    if label is None:
        return None
    chosen = shown.index[label]
    ctx.judge_result = {"model": judge.name, "answer": texts[chosen], "task": task}
    return chosen
