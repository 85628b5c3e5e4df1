"""The MCP tools: their JSON schemas and how each maps onto the native API. Stdlib only.

A *run* tool (``ask``, ``consensus``, ``debate``, ``redteam``, ``chain``, ``mapreduce``)
becomes a POST to ``/v1/<route>`` whose NDJSON events feed progress notifications and whose
``run.finished`` result is the tool's structured output (the same object ``--json``
prints). A *query* tool (``models``, ``usage``) becomes a GET. Both transports share these
definitions, so a tool behaves the same over stdio and over HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal

from superllmd.errors import UsageError

__all__ = [
    "BUILTIN_CHAINS",
    "CAPABILITIES",
    "STRATEGIES",
    "TOOLS",
    "USAGE_BY",
    "ToolSpec",
    "query_request",
    "run_request",
]

# Mirrors of the daemon's own lists (tests/mcp/test_specs.py keeps them in step), written out
# so that listing tools imports no orchestrator code.
STRATEGIES: Final = ("vote", "synthesize", "council", "rank", "medoid", "usc")
CAPABILITIES: Final = ("vision", "tools", "json", "embeddings", "streaming")
USAGE_BY: Final = (
    "day", "week", "month", "provider", "model", "mode", "label", "token", "user", "team",
)  # fmt: skip
ANSWER_TYPES: Final = ("numeric", "choice", "boolean", "short", "code", "free")
BUILTIN_CHAINS: Final = {
    "refine": (
        "Self-Refine: the first model drafts, a second critiques, the first revises, until "
        "the critic finds no issues or the iterations end."
    ),
}

_STR: Final = {"type": "string"}
_MODELS: Final = {
    "type": "array",
    "items": {"type": "string", "minLength": 1},
    "description": "Participants as provider/model or aliases; default: the panel alias, "
    "else the default model three times.",
}
_COMMON: Final[dict[str, Any]] = {
    "system": {"type": "string", "description": "System prompt for every participant."},
    "max_cost": {
        "type": "number",
        "minimum": 0,
        "description": "Most USD the whole run may cost; refused before sending if it would.",
    },
    "temperature": {"type": "number", "minimum": 0, "maximum": 2},
    "max_tokens": {"type": "integer", "minimum": 1, "description": "Most tokens per answer."},
    "label": {"type": "string", "description": "Name for usage and budgets (like --label)."},
}
_PANEL: Final[dict[str, Any]] = {
    "models": _MODELS,
    "judge": {"type": "string", "description": "Judge / synthesiser model."},
    "answer_type": {"type": "string", "enum": list(ANSWER_TYPES)},
}
_USAGE: Final = {
    "type": "object",
    "properties": {
        "input_tokens": {"type": "integer"},
        "output_tokens": {"type": "integer"},
        "cached_tokens": {"type": "integer"},
    },
}
_COST: Final = {
    "type": ["number", "null"],
    "description": "USD; null when a model is unpriced (unknown, never free).",
}
# The run tools' structured output: the --json result. Open-ended (keys are only added).
_RUN_OUTPUT: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {
        "run_id": _STR,
        "mode": _STR,
        "answer": {"type": ["string", "null"]},
        "model": _STR,
        "agreement": {"type": ["number", "null"], "description": "0-1, multi-model modes."},
        "report": {"type": "object", "description": "The mode's agreement report and details."},
        "strategy": {"type": ["string", "null"]},
        "rounds": {"type": "integer"},
        "participants": {"type": "array", "items": {"type": "object"}},
        "judge": {"type": ["object", "null"]},
        "usage": _USAGE,
        "cost_usd": _COST,
        "latency_ms": {"type": "integer"},
        "warnings": {"type": "array", "items": _STR},
    },
    "required": ["run_id", "mode", "answer", "usage", "cost_usd"],
}


def _object(required: list[str], **properties: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


@dataclass(frozen=True)
class ToolSpec:
    """One tool: what clients list, and the native route it runs on."""

    name: str
    title: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] = field(default_factory=lambda: dict(_RUN_OUTPUT))
    kind: Literal["run", "query"] = "run"
    route: str = ""


_PROMPT = {"type": "string", "minLength": 1, "description": "The question or task."}

TOOLS: Final[dict[str, ToolSpec]] = {
    spec.name: spec
    for spec in (
        ToolSpec(
            "ask",
            "Ask one model",
            "Ask one model (provider/model, an alias or a fallback chain) for a second "
            "opinion. The cost lands in the user's superllm ledger.",
            _object(
                ["prompt"],
                prompt=_PROMPT,
                model={"type": "string", "description": "provider/model or alias."},
                **_COMMON,
            ),
            route="ask",
        ),
        ToolSpec(
            "consensus",
            "Ask several models and merge",
            "Ask several models in parallel and merge their answers by a strategy; reports "
            "how much they agreed and who disagreed.",
            _object(
                ["prompt"],
                prompt=_PROMPT,
                strategy={"type": "string", "enum": list(STRATEGIES)},
                quorum={"type": "integer", "minimum": 1},
                threshold={"type": "number", "minimum": 0, "maximum": 1},
                **_PANEL,
                **_COMMON,
            ),
            route="consensus",
        ),
        ToolSpec(
            "debate",
            "Let models debate",
            "Models answer independently, then revise seeing each other's answers, round "
            "after round until agreement reaches the threshold or the rounds run out.",
            _object(
                ["prompt"],
                prompt=_PROMPT,
                rounds={"type": "integer", "minimum": 1, "maximum": 10},
                threshold={"type": "number", "minimum": 0, "maximum": 1},
                **_PANEL,
                **_COMMON,
            ),
            route="debate",
        ),
        ToolSpec(
            "redteam",
            "Red-team an answer",
            "Blue answers, red lists concrete flaws, blue revises; a judge gives the verdict "
            "and the remaining risks (submode dispute: two sides, judged both ways).",
            _object(
                ["prompt"],
                prompt=_PROMPT,
                submode={"type": "string", "enum": ["critique", "dispute"]},
                rounds={"type": "integer", "minimum": 1, "maximum": 10},
                **_PANEL,
                **_COMMON,
            ),
            route="adversarial",
        ),
        ToolSpec(
            "chain",
            "Run a workflow",
            "Run a built-in chain (refine) or a workflow of named steps over the input. A "
            "workflow is a TOML text or its parsed object: [[steps]] with name and prompt, "
            "where a prompt may use {input}, {prev} and {steps.NAME}.",
            _object(
                [],
                input={"type": "string", "description": "The chain's input."},
                builtin={"type": "string", "enum": sorted(BUILTIN_CHAINS)},
                workflow={"type": ["string", "object"], "description": "TOML text or object."},
                rounds={"type": "integer", "minimum": 1, "maximum": 10},
                **_PANEL,
                **_COMMON,
            ),
            route="chain",
        ),
        ToolSpec(
            "mapreduce",
            "Map-reduce a long text",
            "Split a long text, map the chunks in parallel across models, reduce to one "
            "answer. Give the text, or a file path under a folder the user allowed with "
            "`[mcp] allowed_paths` in superllm's config.",
            _object(
                [],
                text={"type": "string", "description": "The document."},
                path={"type": "string", "description": "A file under an allowed folder."},
                question={"type": "string", "description": "What to ask of the document."},
                chunk_tokens={"type": "integer", "minimum": 50},
                overlap={"type": "integer", "minimum": 0},
                **_PANEL,
                **_COMMON,
            ),
            route="mapreduce",
        ),
        ToolSpec(
            "models",
            "List models",
            "The models superllm can call, with context window, capabilities and prices per "
            "million tokens; filter by provider, capability and highest price.",
            _object(
                [],
                provider=_STR,
                capability={"type": "array", "items": {"type": "string", "enum": CAPABILITIES}},
                max_price={
                    "type": "number",
                    "minimum": 0,
                    "description": "USD per million tokens, input and output alike.",
                },
            ),
            {
                "type": "object",
                "properties": {"models": {"type": "array", "items": {"type": "object"}}},
                "required": ["models"],
            },
            kind="query",
            route="/v1/models",
        ),
        ToolSpec(
            "usage",
            "Usage and cost",
            "Tokens and cost from the user's ledger: totals and a breakdown by day, week, "
            "month, provider, model, mode or label.",
            _object(
                [],
                period={
                    "type": "string",
                    "description": "Since when: 7d, 12h, today, 2025-01-31, 0 for all time.",
                },
                until=_STR,
                by={"type": "string", "enum": list(USAGE_BY)},
                provider=_STR,
                model=_STR,
                mode=_STR,
                label=_STR,
            ),
            {
                "type": "object",
                "properties": {"totals": {"type": "object"}, "rows": {"type": "array"}},
                "required": ["totals", "rows"],
            },
            kind="query",
            route="/v1/usage",
        ),
    )
}

# Arguments that go into the request under their own name.
_PASSED: Final = (
    "system",
    "max_cost",
    "temperature",
    "max_tokens",
    "label",
    "judge",
    "answer_type",
    "strategy",
    "quorum",
    "threshold",
    "rounds",
)


def run_request(
    spec: ToolSpec, args: dict[str, Any], document: str | None = None
) -> dict[str, Any]:
    """The native API body for a run tool's (already schema-checked) arguments.

    ``document`` is mapreduce's text read from an allowed ``path`` by the caller.
    """
    # Streamed from the providers: a cancelled call stops at once, and its partial answer is
    # what the ledger records as interrupted.
    body: dict[str, Any] = {"options": {}, "stream": True}
    for key in _PASSED:
        if args.get(key) is not None:
            body[key] = args[key]
    if spec.name == "ask":
        body["prompt"] = args["prompt"]
        if args.get("model"):
            body["model"] = args["model"]
        return body
    body["models"] = list(args.get("models") or [])
    if spec.name == "chain":
        body["prompt"] = args.get("input") or ""
        body.update(_workflow(args))
    elif spec.name == "mapreduce":
        text = args.get("text") if document is None else document
        if not text:
            raise UsageError("mapreduce: give the text, or a path under an allowed folder")
        body["prompt"] = text
        body["mode_options"] = {
            k: args[k] for k in ("question", "chunk_tokens", "overlap") if args.get(k) is not None
        }
    else:
        body["prompt"] = args["prompt"]
        if spec.name == "redteam":
            body["mode_options"] = {"submode": args.get("submode") or "critique"}
    return body


def _workflow(args: dict[str, Any]) -> dict[str, Any]:
    builtin, workflow = args.get("builtin"), args.get("workflow")
    if (builtin is None) == (workflow is None):
        raise UsageError("chain: give either builtin (refine) or a workflow, not both or none")
    if builtin is not None:
        return {"mode_options": {"builtin": builtin}}
    if isinstance(workflow, str):
        import tomllib

        try:
            workflow = tomllib.loads(workflow)
        except tomllib.TOMLDecodeError as exc:
            raise UsageError(f"chain: the workflow is not valid TOML: {exc}") from None
    return {"workflow": workflow}


def query_request(spec: ToolSpec, args: dict[str, Any]) -> list[tuple[str, str]]:
    """The query parameters of a query tool's GET, in the native API's names."""
    params: list[tuple[str, str]] = []
    if spec.name == "models":
        params += [("capability", c) for c in args.get("capability") or []]
        for key in ("provider", "max_price"):
            if args.get(key) is not None:
                params.append((key, str(args[key])))
        return params
    params.append(("by", args.get("by") or "day"))
    params.append(("since", args.get("period") or "30d"))
    for key in ("until", "provider", "model", "mode", "label"):
        if args.get(key):
            params.append((key, str(args[key])))
    return params
