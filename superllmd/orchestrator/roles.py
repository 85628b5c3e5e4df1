"""The cast of ``redteam``: who plays blue, red and judge, what each is told, and how their
JSON replies are read. Shared by the critique (adversarial.py) and dispute (dispute.py)
sub-modes; see adversarial.py for the whole protocol.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from superllmd.errors import ProviderError
from superllmd.orchestrator.context import RunContext, side_label
from superllmd.orchestrator.panel import answer_type_of
from superllmd.orchestrator.prompts import clip as _clip
from superllmd.orchestrator.prompts import question_prompt
from superllmd.orchestrator.run import messages_of
from superllmd.orchestrator.structured import STRING, Structured, arr, ask_json, obj
from superllmd.providers.base import Message
from superllmd.providers.registry import Target

__all__ = [
    "DEFAULT_ROUNDS",
    "MAX_OBJECTIONS",
    "OBJECTIONS_SCHEMA",
    "REPEAT_SIMILARITY",
    "RESPONSES_SCHEMA",
    "RULING_SCHEMA",
    "SEVERITIES",
    "TASK_ALTERNATIVE",
    "TASK_ARGUE",
    "TASK_DISPUTE_JUDGE",
    "TASK_JUDGE",
    "TASK_RED",
    "TASK_RESPOND",
    "VERDICT_SCHEMA",
    "Roles",
    "ask_role",
    "blue_messages",
    "clip",
    "coerce_reply",
    "first_answer",
    "why_unreadable",
]

DEFAULT_ROUNDS: Final = 2
MAX_OBJECTIONS: Final = 8  # per round: caps message length as much as nitpicking
REPEAT_SIMILARITY: Final = 0.8
SHOWN_CHARS: Final = 6000  # the most of one text (question, answer) another model reads


def clip(text: str, limit: int = SHOWN_CHARS) -> str:
    """Head and tail (where a final-answer line is) of a text shown to another model."""
    return _clip(text, limit)


SEVERITIES: Final = ("low", "medium", "high", "critical")
TASK_RED: Final = "You are the red team: you look for substantive flaws in an answer."
TASK_RESPOND: Final = "A reviewer raised objections to your answer."
TASK_JUDGE: Final = "You are an impartial judge of an answer and the objections raised to it."
TASK_ALTERNATIVE: Final = "Propose the strongest answer that differs from the one given."
TASK_ARGUE: Final = "You argue for an assigned answer in a debate before a judge."
TASK_DISPUTE_JUDGE: Final = "You are an impartial judge of a debate between two sides."

_ID: Final = {"type": ["string", "integer"]}
_BOOL: Final = {"type": "boolean"}
_SEVERITY: Final = {"enum": list(SEVERITIES)}
OBJECTIONS_SCHEMA: Final = obj(
    "objections",
    objections=arr(obj("claim", id=_ID, claim=STRING, evidence=STRING, severity=_SEVERITY)),
)
RESPONSES_SCHEMA: Final = obj(
    "responses answer",
    responses=arr(obj("id action", id=_ID, action={"enum": ["accept", "rebut"]}, text=STRING)),
    answer=STRING,
)
VERDICT_SCHEMA: Final = obj(
    "objections preference final_answer residual_risks",
    objections=arr(obj("id valid", id=_ID, valid=_BOOL, resolved=_BOOL, reason=STRING)),
    preference={"enum": ["blue", "revise", "red"]},
    final_answer=STRING,
    residual_risks=arr(STRING),
)
RULING_SCHEMA: Final = obj("winner", winner={"enum": ["A", "B"]}, reason=STRING)


def _lower(value: Any, key: str) -> None:
    if isinstance(value, dict) and isinstance(value.get(key), str):
        value[key] = value[key].strip().lower()


def coerce_reply(value: Any) -> Any:
    """Tidy what small models get almost right: a bare list, "Accept" or "Side A"."""
    if isinstance(value, list):
        value = {"objections": value}
    if not isinstance(value, dict):
        return value
    for item in [*(value.get("objections") or []), *(value.get("responses") or [])]:
        _lower(item, "severity")
        _lower(item, "action")
        if isinstance(item, dict) and str(item.get("action", "")).startswith("accept"):
            item["action"] = "accept"
    _lower(value, "preference")
    if isinstance(value.get("residual_risks"), str):
        value["residual_risks"] = [value["residual_risks"]] if value["residual_risks"] else []
    if isinstance(value.get("winner"), str):
        value["winner"] = value["winner"].strip().upper().removeprefix("SIDE").strip()
    return value


def why_unreadable(got: Structured) -> str:
    return got.provider_error.message if got.provider_error else "no valid JSON"


async def ask_role(
    ctx: RunContext,
    target: Target,
    messages: list[Message],
    schema: dict[str, Any],
    who: str,
    r: int,
    role: str = "participant",
) -> Structured:
    # Judges rule at temperature 0: a verdict should not depend on the sampling luck.
    temperature = 0.0 if role == "judge" else None
    return await ask_json(
        ctx,
        target,
        messages,
        schema,
        participant=who,
        round_=r,
        role=role,
        coerce=coerce_reply,
        temperature=temperature,
    )


@dataclass
class Roles:
    blue: Target
    red: Target
    judge: Target
    jury: list[Target]

    @classmethod
    def of(cls, ctx: RunContext) -> Roles:
        panel = ctx.participants
        blue, red = panel[0], panel[1] if len(panel) > 1 else panel[0]
        rest = panel[2:]
        if ctx.judge is not None:
            return cls(blue, red, ctx.judge, rest)
        return cls(blue, red, rest[0] if rest else red, rest[1:])

    def mask(self, text: str) -> str:
        """``text`` with every model name of the run masked: a judge must not learn who wrote
        what, even when a model names itself in its answer."""
        names = {t.name for t in (self.blue, self.red, self.judge, *self.jury)}
        for name in sorted(names, key=len, reverse=True):
            text = re.sub(re.escape(name), "[a model]", text, flags=re.IGNORECASE)
        return text

    def label(self, side: str) -> str:
        """Events name the model; a model playing both sides gets its role appended."""
        return side_label(self.blue.name, self.red.name, side)


def blue_messages(ctx: RunContext) -> tuple[Message, ...]:
    """The question as blue sees it: with the final-answer instruction for extractable
    answer types, as every mode asks it."""
    prompt = question_prompt(ctx.request["prompt"], answer_type_of(ctx))
    return messages_of(ctx.request.get("system"), prompt)


async def first_answer(ctx: RunContext, roles: Roles) -> str:
    messages = blue_messages(ctx)
    outcome = await ctx.call(roles.blue, messages, participant=roles.label("blue"))
    if outcome.completion is None:
        raise outcome.error or ProviderError("redteam: blue gave no answer")
    ctx.answer = outcome.text
    return outcome.text
