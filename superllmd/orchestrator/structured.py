"""Validated JSON from models: parse, schema-check, retry twice, never ``eval``.

Judges, critics and map extractors answer in JSON: a reply is
parsed with :mod:`json` only (reference code that ``eval()``-ed model output ran whatever the
model wrote), checked against a small JSON-Schema subset, and on failure the model is shown
its own reply and the errors and asked again, at most twice. What happens after the last
failure is the caller's choice -- every mode here degrades (objections treated as none, a
note kept as plain text) rather than crash, because tiny local models often cannot emit JSON.

The validator is deliberately small and stdlib-only. Supported keywords: ``type`` (a name or
a list of names), ``properties``, ``required``, ``additionalProperties`` (bool or schema),
``items``, ``enum``, ``const``, ``minimum``, ``maximum``, ``minItems``, ``maxItems``,
``minLength``, ``maxLength``, ``pattern``, ``anyOf`` (what pydantic writes for an optional
field or a union), plus the annotations ``title``, ``description`` and ``default``.
:func:`check_schema` rejects anything else, so a workflow author learns at load time that a
keyword would have been ignored.

Example::

    >>> validate({"a": 1}, {"type": "object", "required": ["a", "b"]})
    ["$: missing required key 'b'"]
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, TypeVar

from superllmd.errors import ProviderError, SuperllmError
from superllmd.orchestrator.run import RunBudgetExhausted
from superllmd.providers.base import Message

if TYPE_CHECKING:
    from superllmd.orchestrator.context import RunContext
    from superllmd.orchestrator.run import CallOutcome
    from superllmd.providers.registry import Target

__all__ = [
    "DEFAULT_RETRIES",
    "STRING",
    "InvalidOutput",
    "SchemaError",
    "Structured",
    "arr",
    "ask_json",
    "check_reply",
    "check_schema",
    "checked_schema",
    "gather_all",
    "obj",
    "parse_json",
    "structured_answer",
    "validate",
]

T = TypeVar("T")

DEFAULT_RETRIES: Final = 2
# A reply longer than this is not a JSON answer worth scanning (and could be slow to scan).
MAX_JSON_CHARS: Final = 200_000
_TYPES: Final[dict[str, Callable[[Any], bool]]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    # bool is an int in Python, never a number in JSON.
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}
_KEYWORDS: Final = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "enum",
        "const",
        "minimum",
        "maximum",
        "minItems",
        "maxItems",
        "minLength",
        "maxLength",
        "pattern",
        "anyOf",
        "title",
        "description",
        "default",
    }
)
_FENCE: Final = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)


class InvalidOutput(ProviderError):
    """A model did not produce valid structured output, even after the retries.

    A provider error (exit 4) because the request was fine and the model's answer was not.
    """


class SchemaError(ValueError):
    """A schema uses something the validator does not support (a config mistake)."""


# --------------------------------------------------------------------------- parsing


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _loads(text: str) -> Any:
    return json.loads(text, parse_constant=_reject_constant)


def parse_json(text: str) -> Any:
    """The JSON value in a model's reply: the whole reply, a fenced block, or the first
    ``{``/``[`` that starts a complete value. Raises ValueError when there is none.

    Only :mod:`json` ever reads the text; Python literals such as ``{'a': 1}`` are rejected.

    >>> parse_json('Sure! ```json\\n{"ok": true}\\n``` Hope that helps.')
    {'ok': True}
    """
    if len(text) > MAX_JSON_CHARS:
        raise ValueError(f"reply is too long to be a JSON answer ({len(text)} characters)")
    candidates = [text.strip()] + [m.group(1).strip() for m in _FENCE.finditer(text)]
    for candidate in candidates:
        try:
            return _loads(candidate)
        except ValueError:
            continue
    decoder = json.JSONDecoder(parse_constant=_reject_constant)
    for match in re.finditer(r"[\[{]", text):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except ValueError:
            continue
        return value
    raise ValueError("no JSON object or array found in the reply")


# --------------------------------------------------------------------------- schemas

STRING: Final[dict[str, Any]] = {"type": "string"}


def obj(required: str = "", /, **properties: Any) -> dict[str, Any]:
    """An object schema; ``required`` names the required keys, space-separated:
    ``obj("a", a=STRING, b=STRING)`` requires a and allows b."""
    return {"type": "object", "required": required.split(), "properties": properties}


def arr(items: Mapping[str, Any]) -> dict[str, Any]:
    """An array schema whose items all match ``items``."""
    return {"type": "array", "items": dict(items)}


def check_schema(schema: Any, path: str = "$") -> None:
    """Raise SchemaError when ``schema`` uses keywords or shapes the validator ignores."""
    if not isinstance(schema, Mapping):
        raise SchemaError(f"schema at {path} must be a table/object, not {type(schema).__name__}")
    unknown = sorted(set(schema) - _KEYWORDS)
    if unknown:
        raise SchemaError(
            f"schema at {path}: unsupported keyword(s) {', '.join(unknown)}; "
            f"supported: {', '.join(sorted(_KEYWORDS))}"
        )
    kinds = schema.get("type")
    names = [kinds] if isinstance(kinds, str) else kinds
    if kinds is not None and (
        not isinstance(names, list) or not all(isinstance(n, str) and n in _TYPES for n in names)
    ):
        raise SchemaError(f"schema at {path}: type must be one of {', '.join(_TYPES)}")
    for key, sub in (schema.get("properties") or {}).items():
        check_schema(sub, f"{path}.{key}")
    if "properties" in schema and not isinstance(schema["properties"], Mapping):
        raise SchemaError(f"schema at {path}: properties must be a table")
    if "required" in schema and not (
        isinstance(schema["required"], list) and all(isinstance(k, str) for k in schema["required"])
    ):
        raise SchemaError(f"schema at {path}: required must be a list of names")
    if "items" in schema:
        check_schema(schema["items"], f"{path}[]")
    if "anyOf" in schema:
        options = schema["anyOf"]
        if not isinstance(options, list) or not options:
            raise SchemaError(f"schema at {path}: anyOf must be a non-empty list of schemas")
        for i, option in enumerate(options):
            check_schema(option, f"{path}.anyOf[{i}]")
    extra = schema.get("additionalProperties")
    if isinstance(extra, Mapping):
        check_schema(extra, f"{path}.*")
    if "pattern" in schema:
        try:
            re.compile(schema["pattern"])
        except (re.error, TypeError) as exc:
            raise SchemaError(f"schema at {path}: bad pattern: {exc}") from None


def validate(value: Any, schema: Mapping[str, Any], path: str = "$") -> list[str]:
    """Every way ``value`` breaks ``schema``, as readable messages; empty when valid."""
    errors: list[str] = []
    kinds = schema.get("type")
    if kinds is not None:
        names = [kinds] if isinstance(kinds, str) else list(kinds)
        if not any(_TYPES[n](value) for n in names):
            return [f"{path}: expected {' or '.join(names)}, got {_json_type(value)}"]
    if "const" in schema and value != schema["const"]:
        errors.append(f"{path}: must be {json.dumps(schema['const'])}")
    if "enum" in schema and value not in schema["enum"]:
        allowed = ", ".join(json.dumps(v) for v in schema["enum"])
        errors.append(f"{path}: must be one of {allowed}")
    if _TYPES["number"](value):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{path}: must be >= {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{path}: must be <= {schema['maximum']}")
    if isinstance(value, str):
        errors += _string_errors(value, schema, path)
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            errors.append(f"{path}: needs at least {schema['minItems']} item(s)")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append(f"{path}: allows at most {schema['maxItems']} item(s)")
        if "items" in schema:
            for i, item in enumerate(value):
                errors += validate(item, schema["items"], f"{path}[{i}]")
    if isinstance(value, dict):
        errors += _object_errors(value, schema, path)
    if "anyOf" in schema:
        tried = [validate(value, option, path) for option in schema["anyOf"]]
        if all(tried):
            closest = min(tried, key=len)
            errors.append(f"{path}: matches none of anyOf (closest: {'; '.join(closest[:2])})")
    return errors


def _string_errors(value: str, schema: Mapping[str, Any], path: str) -> list[str]:
    errors = []
    if "minLength" in schema and len(value) < schema["minLength"]:
        errors.append(f"{path}: needs at least {schema['minLength']} character(s)")
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        errors.append(f"{path}: allows at most {schema['maxLength']} character(s)")
    if "pattern" in schema and re.search(schema["pattern"], value) is None:
        errors.append(f"{path}: does not match /{schema['pattern']}/")
    return errors


def _object_errors(value: dict[str, Any], schema: Mapping[str, Any], path: str) -> list[str]:
    errors = [
        f"{path}: missing required key {k!r}" for k in schema.get("required", ()) if k not in value
    ]
    properties: Mapping[str, Any] = schema.get("properties") or {}
    extra = schema.get("additionalProperties", True)
    for key, item in value.items():
        if key in properties:
            errors += validate(item, properties[key], f"{path}.{key}")
        elif extra is False:
            errors.append(f"{path}: unexpected key {key!r}")
        elif isinstance(extra, Mapping):
            errors += validate(item, extra, f"{path}.{key}")
    return errors


def _json_type(value: Any) -> str:
    for name, test in _TYPES.items():
        if name != "integer" and test(value):
            return name
    return type(value).__name__


# --------------------------------------------------------------------------- asking


@dataclass
class Structured:
    """What came of asking for JSON: the validated value, or None and why not."""

    value: Any = None
    valid: bool = False
    text: str = ""
    attempts: int = 0
    errors: list[str] = field(default_factory=list)
    outcome: CallOutcome | None = None
    provider_error: SuperllmError | None = None

    @property
    def ok(self) -> bool:
        return self.valid

    def require(self, what: str) -> Any:
        """The value, or raise: for callers that cannot go on without it."""
        if self.valid:
            return self.value
        if self.provider_error is not None:
            raise self.provider_error
        last = self.errors[-1] if self.errors else "no reply"
        raise InvalidOutput(f"{what}: no valid JSON after {self.attempts} attempt(s): {last}")


def check_reply(
    text: str,
    schema: Mapping[str, Any],
    coerce: Callable[[Any], Any] | None = None,
) -> tuple[Any, list[str]]:
    """Parse and validate one reply: (value, []) when valid, else (None, errors)."""
    try:
        value = parse_json(text)
    except ValueError as exc:
        return None, [f"not JSON: {exc}"]
    if coerce is not None:
        # A tidy-up must never turn odd output into a crash; the schema check still runs.
        with contextlib.suppress(TypeError, ValueError, KeyError, AttributeError):
            value = coerce(value)
    errors = validate(value, schema)
    return (None, errors) if errors else (value, [])


async def ask_json(
    ctx: RunContext,
    target: Target,
    messages: Sequence[Message],
    schema: Mapping[str, Any],
    *,
    participant: str | None = None,
    round_: int = 0,
    role: str = "participant",
    retries: int = DEFAULT_RETRIES,
    coerce: Callable[[Any], Any] | None = None,
    temperature: float | None = None,
) -> Structured:
    """Ask ``target`` for JSON matching ``schema``; retry up to ``retries`` times on invalid
    output, showing the model its reply and the errors. Never raises for bad output; a
    provider failure ends the attempts at once (the Caller has already retried it).

    ``coerce`` may tidy a parsed value before validation (e.g. wrap a bare list).
    """
    history = list(messages)
    result = Structured()
    for _ in range(retries + 1):
        outcome = await ctx.call(
            target,
            history,
            participant=participant,
            round_=round_,
            role=role,
            temperature=temperature,
            json_output=True,
        )
        result.outcome, result.attempts = outcome, result.attempts + 1
        if outcome.error is not None or outcome.completion is None:
            result.provider_error = outcome.error or ProviderError("the model gave no reply")
            result.errors.append(result.provider_error.message)
            return result
        result.text = outcome.text
        value, errors = check_reply(outcome.text, schema, coerce)
        if not errors:
            result.value, result.valid = value, True
            return result
        result.errors.append("; ".join(errors[:5]))
        history += [
            Message("assistant", outcome.text),
            Message(
                "user",
                "That reply was not valid: "
                + "; ".join(errors[:5])
                + ". Reply again with only the JSON, no other text.",
            ),
        ]
    return result


async def gather_all(ctx: RunContext, calls: Sequence[Awaitable[T]]) -> list[T | None]:
    """Run several multi-call steps (e.g. :func:`ask_json`) in parallel, in order.

    Like ``ctx.gather`` for steps that are more than one call: a step stopped by the run's
    budget yields None and sets ``ctx.stopped``; if every step was stopped, the budget error
    is raised; any other exception is raised once all steps have settled.
    """
    results = await asyncio.gather(*calls, return_exceptions=True)
    out: list[T | None] = []
    budget: RunBudgetExhausted | None = None
    for item in results:
        if isinstance(item, RunBudgetExhausted):
            budget = item
            out.append(None)
        elif isinstance(item, BaseException):
            raise item
        else:
            out.append(item)
    if budget is not None:
        if all(item is None for item in out):
            raise budget
        ctx.stopped = budget.reason
    return out


def checked_schema(schema: Any) -> dict[str, Any]:
    """A request's ``json_schema``, refused (UsageError) when it is not one the validator
    checks fully: an answer is only called valid when every keyword was checked."""
    from superllmd.errors import UsageError

    try:
        check_schema(schema)
    except SchemaError as exc:
        raise UsageError(f"--schema: {exc}") from None
    return dict(schema)


def structured_answer(text: str, schema: Mapping[str, Any], who: str) -> Any:
    """``text`` parsed, when it is JSON matching ``schema``; InvalidOutput (exit 4) naming
    what is wrong otherwise."""
    try:
        value = parse_json(text)
    except ValueError as exc:
        raise InvalidOutput(f"{who} did not answer with JSON ({exc})") from None
    errors = validate(value, schema)
    if errors:
        shown = "; ".join(errors[:3]) + (
            f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        )
        raise InvalidOutput(f"{who}'s answer does not match the schema: {shown}")
    return value
