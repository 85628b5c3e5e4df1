"""``consensus --schema``: every participant answers a JSON object, and the vote compares
the parsed objects field by field.

Each reply is parsed and validated (``structured.structured_answer``); one that is not valid
JSON for the schema abstains, as an unextractable answer does in a plain vote, and is named
in ``report["invalid"]``. For each field (the schema's properties in order, then any other
key seen), the plurality of the valid replies' values wins (values compared as canonical
JSON, so ``1`` and ``1.0`` agree and key order does not matter); a tie goes to the first
configured participant, as a tied vote without a judge does. The answer is the object of
the winning values; ``agreement`` is the mean of the fields' plurality shares, and
``report["fields"]`` gives each field's winner, share and votes. No valid reply at all is an
InvalidOutput (exit 4).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

from superllmd.orchestrator.context import RunContext
from superllmd.orchestrator.panel import ask_panel, participant_labels, temperature_of
from superllmd.orchestrator.run import messages_of
from superllmd.orchestrator.structured import InvalidOutput, checked_schema, structured_answer

__all__ = ["field_vote", "run", "schema_instruction"]

_ABSENT: Final = "<absent>"
#: Sampling diversity is what voting feeds on (consensus.DEFAULT_TEMPERATURE).
_TEMPERATURE: Final = 0.7


def schema_instruction(schema: Mapping[str, Any]) -> str:
    """What the prompt adds, for models without a native structured-output mode."""
    return "Answer with one JSON object only, no prose, matching this JSON Schema:\n" + json.dumps(
        schema, ensure_ascii=False
    )


def _canonical(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def field_vote(
    objects: Sequence[Mapping[str, Any]], schema: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """(the merged object, per-field report) of a field-by-field plurality vote.

    >>> field_vote([{"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 2, "b": "y"}], {})[0]
    {'a': 1, 'b': 'y'}
    """
    keys = list((schema.get("properties") or {}).keys())
    for obj in objects:
        keys += [k for k in obj if k not in keys]
    merged: dict[str, Any] = {}
    fields: dict[str, dict[str, Any]] = {}
    for key in keys:
        counts: dict[str, int] = {}
        first: dict[str, Any] = {}
        for obj in objects:
            token = _canonical(obj[key]) if key in obj else _ABSENT
            counts[token] = counts.get(token, 0) + 1
            first.setdefault(token, obj.get(key))
        winner = max(counts, key=lambda t: counts[t])  # first of the tied: panel order
        if winner != _ABSENT:
            merged[key] = first[winner]
        fields[key] = {
            "winner": None if winner == _ABSENT else first[winner],
            "share": counts[winner] / len(objects),
            "votes": counts,
        }
    return merged, fields


async def run(ctx: RunContext) -> None:
    """A consensus whose answers are JSON objects for ``ctx.request["json_schema"]``."""
    schema = checked_schema(ctx.request["json_schema"])
    ctx.strategy = "vote"
    ctx.report["answer_type"] = "structured"
    labels = participant_labels(ctx.participants)
    prompt = f"{ctx.request['prompt']}\n\n{schema_instruction(schema)}"
    messages = messages_of(ctx.request.get("system"), prompt)
    replies = await ask_panel(
        ctx,
        range(len(ctx.participants)),
        labels,
        lambda _: messages,
        "free",
        temperature=temperature_of(ctx, _TEMPERATURE),
        quorum=ctx.request.get("quorum"),
        json_schema=schema,
    )
    if not replies:  # the run budget ran out before anyone answered
        return
    valid: list[dict[str, Any]] = []
    invalid: dict[str, str] = {}
    for reply in replies:
        try:
            value = structured_answer(reply.text, schema, reply.label)
        except InvalidOutput as exc:
            invalid[reply.label] = exc.message
            continue
        valid.append(value if isinstance(value, dict) else {"value": value})
    ctx.report["invalid"] = invalid
    ctx.valid = (len(valid), len(ctx.participants))
    if not valid:
        reasons = "; ".join(invalid.values())
        raise InvalidOutput(f"no participant answered with JSON matching the schema: {reasons}")
    merged, fields = field_vote(valid, schema)
    agreement = sum(f["share"] for f in fields.values()) / len(fields) if fields else 1.0
    ctx.report["fields"] = fields
    ctx.report["unanimous"] = all(v == merged for v in valid) and not invalid
    ctx.agreement = agreement
    ctx.round_finished(0, agreement, fields=fields)
    ctx.answer = json.dumps(merged, ensure_ascii=False)
    ctx.parsed = merged
