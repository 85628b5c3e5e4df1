"""``ask``: one model, or an alias that names a fallback chain tried in order.

A mode like the others, run by ``context.run_mode`` in a ``single`` context: the chain is
``ctx.participants``; the next model is tried only when one failed in a way another model
may not (``falls_back``), and every attempt is in the result's ``participants``. A model
whose provider's circuit is open (providers/breaker.py) is skipped, unless it is the last.
"""

from __future__ import annotations

from superllmd.errors import ProviderError, SuperllmError
from superllmd.orchestrator.context import RunContext
from superllmd.orchestrator.run import CallOutcome, messages_of
from superllmd.orchestrator.structured import InvalidOutput, checked_schema, structured_answer
from superllmd.orchestrator.tooluse import calls_info

__all__ = ["falls_back", "run"]


def falls_back(error: SuperllmError) -> bool:
    """Try the next model in a chain when this one is down, not when the request is bad."""
    return isinstance(error, ProviderError) and (
        error.retryable or error.code in {"auth", "quota", "not_found", "permission"}
    )


async def run(ctx: RunContext) -> None:
    request = ctx.request
    messages = messages_of(request.get("system"), request["prompt"])
    if ctx.history and ctx.history[-1].role == "tool" and not request["prompt"]:
        messages = messages[:-1]  # after tools' results the model answers them: no empty turn
    given = request.get("json_schema")
    schema = None if given is None else checked_schema(given)
    last: CallOutcome | None = None
    breaker = ctx.caller.breaker
    chain = ctx.participants
    for n, target in enumerate(chain):
        if breaker is not None and n < len(chain) - 1 and breaker.skips(target.provider.id):
            # Cooling down after failing again and again: the chain's next model answers.
            # (The last one is called whatever its state: one more try beats no answer.)
            ctx.report.setdefault("skipped", []).append(
                {"model": target.name, "reason": "circuit open"}
            )
            continue
        last = await ctx.call(
            target,
            messages,
            stop=request.get("stop") or (),
            json_output=request.get("json_output", False),
            json_schema=schema,
        )
        if schema is not None and last.error is None and last.completion is not None:
            try:  # the answer is checked whichever provider gave it (--schema)
                ctx.parsed = structured_answer(last.completion.text, schema, target.name)
            except InvalidOutput as exc:
                last.error = exc
        if last.error is None or not falls_back(last.error):
            break
    if last is None:  # models resolve to one target at least; an empty chain is a bug
        raise SuperllmError("ask: no model to call")
    ctx.model = last.target.name
    ctx.answer = last.completion.text if last.completion else None
    if last.completion is not None:
        ctx.tool_calls = calls_info(last.completion.tool_calls)
    if last.error is not None:
        raise last.error
