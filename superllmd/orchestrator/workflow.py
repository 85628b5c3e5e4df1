"""Chain workflows: parsing and validating the TOML, and filling step templates.

Everything is checked before any call (see chain.py for the format): unknown keys, missing
or duplicate names, placeholders naming no step or a later one, bad regexes and schemas are
``WorkflowError`` (a usage error, exit 2) naming the step. Templates are filled by lookup
only, never ``str.format``, so a placeholder cannot reach into Python objects.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from superllmd.errors import ProviderError, UsageError
from superllmd.orchestrator.prompts import clip as _clip
from superllmd.orchestrator.structured import SchemaError, check_schema

__all__ = [
    "CHECK_KEYS",
    "DEFAULT_RETRIES",
    "STEP_KEYS",
    "STEP_MODES",
    "TOP_KEYS",
    "Step",
    "StepFailed",
    "WorkflowError",
    "clip",
    "parse_workflow",
    "references",
    "render",
]

DEFAULT_RETRIES: Final = 1
SHOWN_CHARS: Final = 6000  # the most of one output another model reads (head and tail)
TOP_KEYS: Final = frozenset({"name", "description", "steps"})
STEP_KEYS: Final = frozenset(
    {"name", "prompt", "model", "models", "judge", "mode", "options", "rounds", "strategy"}
    | {"system", "temperature", "output", "check", "retries", "description"}
)
CHECK_KEYS: Final = frozenset({"regex", "schema", "gate"})
STEP_MODES: Final = ("ask", "consensus", "debate", "redteam", "mapreduce")
_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_BRACES: Final = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")
_PLACEHOLDER: Final = re.compile(r"\s*[A-Za-z_][\w.-]*\s*")


class WorkflowError(UsageError):
    """The workflow file is wrong; nothing has been called yet."""


class StepFailed(ProviderError):
    """A step's output failed its check after every retry (the models' fault: exit 4)."""


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    prompt: str
    models: tuple[str, ...] = ()
    judge: str | None = None
    mode: str = "ask"
    options: Mapping[str, Any] | None = None
    rounds: int | None = None
    strategy: str | None = None
    system: str | None = None
    temperature: float | None = None
    output: str = "text"
    regex: re.Pattern[str] | None = None
    schema: Mapping[str, Any] | None = None
    gate: str | None = None
    retries: int = DEFAULT_RETRIES


def clip(text: str) -> str:
    return _clip(text, SHOWN_CHARS)


# --------------------------------------------------------------------------- templates


def references(template: str) -> list[str]:
    """The placeholders ``template`` uses, in order; brace groups that are not a name (a JSON
    example) are literal text."""
    return [
        m.group(1).strip()
        for m in _BRACES.finditer(template)
        if m.group(1) is not None and _PLACEHOLDER.fullmatch(m.group(1))
    ]


def render(template: str, values: Mapping[str, str]) -> str:
    """Fill ``{input}``, ``{prev}`` and ``{steps.NAME}``; never evaluates anything (unlike
    ``str.format``, which would follow ``{input.__class__}``).

    >>> render('{{"q": "{input}"}} {x y}', {"input": "hi"})
    '{"q": "hi"} {x y}'
    """

    def fill(m: re.Match[str]) -> str:
        whole, name = m.group(0), m.group(1)
        if whole in ("{{", "}}"):
            return whole[0]
        if name is not None and _PLACEHOLDER.fullmatch(name):
            return values[name.strip()]
        return whole

    return _BRACES.sub(fill, template)


# --------------------------------------------------------------------------- validation


def parse_workflow(data: Any) -> list[Step]:
    """Check a parsed workflow TOML and return its steps; WorkflowError names the step."""
    if not isinstance(data, Mapping):
        raise WorkflowError("chain: the workflow must be a TOML table with [[steps]]")
    unknown = sorted(set(data) - TOP_KEYS)
    if unknown:
        raise WorkflowError(
            f"chain: unknown top-level key(s) {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(TOP_KEYS))}"
        )
    raw = data.get("steps")
    if not isinstance(raw, list) or not raw:
        raise WorkflowError("chain: the workflow has no steps; add [[steps]] tables")
    every = [str(s.get("name")) for s in raw if isinstance(s, Mapping)]
    steps: list[Step] = []
    for i, item in enumerate(raw, 1):
        steps.append(_parse_step(i, item, [s.name for s in steps], every))
    return steps


# Optional step keys with a simple type: (accepted types, how to say it).
_TYPED: Final[dict[str, tuple[type | tuple[type, ...], str]]] = {
    "judge": (str, "a model name"),
    "system": (str, "a string"),
    "strategy": (str, "a string"),
    "description": (str, "a string"),
    "temperature": ((int, float), "a number"),
    "options": (Mapping, "a table"),
    "rounds": (int, "a positive integer"),
    "retries": (int, "an integer from 0 to 5"),
    "check": (Mapping, "a table: { regex = ... }, { schema = ... } or { gate = ... }"),
}


def _parse_step(i: int, item: Any, earlier: list[str], every: list[str]) -> Step:
    if not isinstance(item, Mapping):
        raise WorkflowError(f"chain step {i}: must be a table ([[steps]])")
    name = item.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise WorkflowError(f"chain step {i}: needs a name (letters, digits, _ or -), got {name!r}")

    def fail(message: str) -> WorkflowError:
        return WorkflowError(f"chain step {i} ({name!r}): {message}")

    if name in earlier:
        raise fail("the name is already used by an earlier step")
    if unknown := sorted(set(item) - STEP_KEYS):
        raise fail(f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(STEP_KEYS))}")
    for key, (kinds, what) in _TYPED.items():
        value = item.get(key)
        if value is not None and (not isinstance(value, kinds) or isinstance(value, bool)):
            raise fail(f"{key} must be {what}")
    if item.get("rounds", 1) < 1 or not 0 <= item.get("retries", DEFAULT_RETRIES) <= 5:
        raise fail("rounds must be positive and retries from 0 to 5")
    prompt = item.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise fail("needs a prompt")
    for ref in references(prompt):
        target = ref.removeprefix("steps.")
        if ref in ("input", "prev"):
            continue
        if not ref.startswith("steps.") or not _NAME.fullmatch(target):
            raise fail(f"unknown placeholder {{{ref}}}; use {{input}}, {{prev}}, {{steps.NAME}}")
        if target == name:
            raise fail(f"{{{ref}}} refers to the step itself")
        if target not in earlier:
            later = target in every
            raise fail(f"{{{ref}}} refers to " + ("a later step" if later else "no step"))
    if "model" in item and "models" in item:
        raise fail("give model or models, not both")
    models = item.get("models", [item["model"]] if "model" in item else [])
    if not isinstance(models, list) or not all(isinstance(m, str) and m for m in models):
        raise fail("model must be a name and models a list of names")
    if (mode := item.get("mode", "ask")) not in STEP_MODES:
        raise fail(f"unknown mode {mode!r}; use one of {', '.join(STEP_MODES)}")
    if (output := item.get("output", "text")) not in ("text", "json"):
        raise fail(f"output must be text or json, got {output!r}")
    regex, schema, gate = _parse_check(item.get("check") or {}, fail)
    temperature = item.get("temperature")
    return Step(
        name=name,
        prompt=prompt,
        models=tuple(models),
        judge=item.get("judge"),
        mode=mode,
        options=item.get("options"),
        rounds=item.get("rounds"),
        strategy=item.get("strategy"),
        system=item.get("system"),
        temperature=float(temperature) if temperature is not None else None,
        output="json" if schema is not None else output,
        regex=regex,
        schema=schema,
        gate=gate,
        retries=item.get("retries", DEFAULT_RETRIES),
    )


def _parse_check(
    check: Mapping[str, Any], fail: Callable[[str], WorkflowError]
) -> tuple[re.Pattern[str] | None, Mapping[str, Any] | None, str | None]:
    if unknown := sorted(set(check) - CHECK_KEYS):
        raise fail(f"unknown check(s) {', '.join(unknown)}; use regex, schema or gate")
    regex = None
    if "regex" in check:
        try:
            regex = re.compile(str(check["regex"]))
        except re.error as exc:
            raise fail(f"bad check regex: {exc}") from None
    schema = check.get("schema")
    if schema is not None:
        try:
            check_schema(schema)
        except SchemaError as exc:
            raise fail(f"bad check schema: {exc}") from None
    gate = check.get("gate")
    if gate is not None and (not isinstance(gate, str) or not gate.strip()):
        raise fail("check gate must be a yes/no question")
    return regex, schema, gate


# --------------------------------------------------------------------------- running
