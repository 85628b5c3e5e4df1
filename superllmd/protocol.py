"""The native API's request, result and event shapes (API v1), shared by the daemon and CLI.

Stdlib only, so the CLI pays nothing to import it: shapes are ``TypedDict``\\ s, which the
daemon validates with pydantic's ``TypeAdapter`` (``extra="forbid"`` through
``__pydantic_config__``, given as a plain dict so pydantic need not be imported here).

Streams are NDJSON: one event object per line, each with ``type`` and ``run_id``::

    run.started   mode, participants, labels (how later events name each participant)
    delta         participant, round, text
    message       participant, round, text, usage, cost_usd, latency_ms
    error         participant (or null for the run), code, message, retryable
    round.finished  round, agreement, report (multi-model modes)
    judge.delta   participant, round, text (a judge or synthesiser streaming)
    judge.message participant, round, text, usage, cost_usd, latency_ms
    retry         participant, attempt, code, message, wait_s
    run.finished  result (a RunResult, the same object ``--json`` prints)
    tool_call.delta  participant, round, index, id, name, arguments (protocol_tools.py)
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired, Required

# typing_extensions, not typing: pydantic needs its TypedDict before Python 3.12.
from typing_extensions import TypedDict

from superllmd.protocol_names import ENV_NAMES_HEADER, NDJSON, VERSION_HEADER
from superllmd.protocol_tools import ToolCallDeltaEvent, ToolCallInfo, ToolChoiceSpec, ToolSpec

__all__ = [
    "ENV_NAMES_HEADER",
    "NDJSON",
    "VERSION_HEADER",
    "AskRequest",
    "BudgetReport",
    "BudgetSetRequest",
    "BudgetStatus",
    "CapInfo",
    "ConfigSetRequest",
    "DeltaEvent",
    "EmbedRequest",
    "EmbedResult",
    "ErrorEvent",
    "ErrorInfo",
    "Event",
    "ForgetRunsRequest",
    "Health",
    "JudgeDeltaEvent",
    "JudgeMessageEvent",
    "MessageEvent",
    "Mode",
    "ModelInfo",
    "ModelListing",
    "ModelsRefreshRequest",
    "ParticipantResult",
    "RetryEvent",
    "RoundFinishedEvent",
    "RunFinishedEvent",
    "RunList",
    "RunRequest",
    "RunResult",
    "RunStartedEvent",
    "RunSummary",
    "Turn",
    "Usage",
    "UsageFigures",
    "UsageReport",
]


Mode = Literal["ask", "consensus", "debate", "redteam", "chain", "mapreduce"]

_FORBID: Any = {"extra": "forbid"}


class _Bound:
    """Bounds on a number, applied when the daemon validates a body, so every client gets
    the same one-line error naming the field. Stdlib: pydantic calls the hook below with
    its own schema handler, so nothing is imported here."""

    __slots__ = ("ge", "gt", "le")

    def __init__(
        self, *, ge: float | None = None, gt: float | None = None, le: float | None = None
    ) -> None:
        self.ge, self.gt, self.le = ge, gt, le

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> Any:
        schema = handler(source)
        for key in self.__slots__:
            if getattr(self, key) is not None:
                schema[key] = getattr(self, key)
        return schema


Count = Annotated[int, _Bound(ge=1)]  # max_tokens, rounds, quorum, ...: at least one
USD = Annotated[float, _Bound(ge=0)]  # money: never negative
Seconds = Annotated[float, _Bound(ge=0)]
Temperature = Annotated[float, _Bound(ge=0, le=2)]
Share = Annotated[float, _Bound(ge=0, le=1)]  # an agreement threshold
Seed = Annotated[int, _Bound(ge=-(2**63), le=2**63 - 1)]  # what vendors take: a signed int64


class Turn(TypedDict, total=False):
    """One earlier turn of a chat the caller keeps itself (the gateways' ``messages``): an
    assistant's may carry ``tool_calls``, and a ``tool`` turn is the result of the call
    ``tool_call_id`` names (protocol_tools.py)."""

    __pydantic_config__ = _FORBID  # type: ignore[misc]

    role: Required[Literal["system", "user", "assistant", "tool"]]
    content: Required[str]
    attachments: list[dict[str, str]]
    tool_calls: list[ToolCallInfo]
    tool_call_id: str


class _Request(TypedDict, total=False):
    """What every request that calls models takes. ``env`` is the client's environment: it
    applies to this request only."""

    __pydantic_config__ = _FORBID  # type: ignore[misc]

    prompt: Required[str]
    system: str | None
    temperature: Temperature | None
    max_tokens: Count | None
    options: dict[str, Any]
    stream: bool
    label: str | None
    env: dict[str, str]
    # The ledger's concerns: conversations, context fragments, attachments, cost limits and
    # the response cache.
    max_cost: USD | None
    no_cache: bool
    cache_ttl: Seconds | None
    conversation_id: str | None
    continue_last: bool
    fragments: list[str]
    attachments: list[dict[str, str]]
    # A chat's earlier turns, given whole (the OpenAI and Anthropic gateways): they are the
    # history, in place of a stored conversation's.
    messages: list[Turn]
    stop: list[str]
    json_output: bool
    # A JSON Schema the answer must match: sent in each provider's native structured-output
    # form where it has one, and the answer validated against it (ask and consensus).
    json_schema: dict[str, Any] | None
    # Functions the model may call instead of answering (protocol_tools.py); asks only.
    tools: list[ToolSpec]
    tool_choice: ToolChoiceSpec


class AskRequest(_Request, total=False):
    """``POST /v1/ask``: one model, an alias, a fallback chain or a selector."""

    model: str | None


class RunRequest(_Request, total=False):
    """``POST /v1/consensus|debate|adversarial|chain|mapreduce``: several models at once.

    Mode-specific knobs not named here go in ``mode_options`` (e.g. redteam's ``submode``,
    map-reduce's ``chunk_tokens``); a chain's workflow is the parsed TOML in ``workflow``.
    """

    models: list[str]
    judge: str | None
    strategy: str | None
    rounds: Count | None
    threshold: Share | None
    quorum: Count | None
    require_agreement: bool
    answer_type: str | None
    samples: str | None
    max_calls: Count | None
    max_run_tokens: Count | None
    timeout: Annotated[float, _Bound(gt=0)] | None
    seed: Seed | None
    workflow: dict[str, Any] | None
    mode_options: dict[str, Any]


class EmbedRequest(TypedDict, total=False):
    """``POST /v1/embed``: one vector per text."""

    __pydantic_config__ = _FORBID  # type: ignore[misc]

    texts: Required[list[str]]
    model: str | None
    label: str | None
    env: dict[str, str]


class ForgetRunsRequest(TypedDict, total=False):
    """``POST /v1/runs/forget``: drop one run's text (a unique id prefix), or every run's
    before a time (``2025-01-31``, ``30d``); the calls, their tokens and costs stay."""

    __pydantic_config__ = _FORBID  # type: ignore[misc]

    run_id: str
    before: str


class ConfigSetRequest(TypedDict):
    """``PUT /v1/config``: set one dotted key (``providers.openai.base_url``) in config.toml."""

    __pydantic_config__ = _FORBID  # type: ignore[misc]

    key: str
    value: str


class BudgetSetRequest(TypedDict, total=False):
    """``PUT /v1/budgets``: USD limits for everything, one ``provider`` or one ``label``
    (labels have daily budgets only). A limit left out is left as it was."""

    __pydantic_config__ = _FORBID  # type: ignore[misc]

    daily_usd: USD | None
    monthly_usd: USD | None
    provider: str | None
    label: str | None


class Usage(TypedDict):
    input_tokens: int
    output_tokens: int
    cached_tokens: int


class ErrorInfo(TypedDict):
    code: str
    message: str
    retryable: NotRequired[bool]


class ParticipantResult(TypedDict):
    model: str
    answer: str | None
    error: ErrorInfo | None
    usage: Usage
    cost_usd: float | None
    latency_ms: int


class RunResult(TypedDict):
    """What ``--json`` prints. Keys are stable: add keys, never rename.

    ``report`` carries the mode's own details (vote distribution, per-round changes,
    objections upheld, chunks); ``calls`` counts provider calls, for equal-cost comparison.
    """

    run_id: str
    mode: Mode
    answer: str | None
    model: NotRequired[str]
    agreement: NotRequired[float | None]
    # Participants with a valid answer behind ``agreement``, and the panel's size.
    n_valid: NotRequired[int]
    n: NotRequired[int]
    strategy: NotRequired[str | None]
    rounds: NotRequired[int]
    participants: list[ParticipantResult]
    judge: dict[str, Any] | None
    usage: Usage
    cost_usd: float | None
    latency_ms: int
    conversation_id: str | None
    error: NotRequired[ErrorInfo | None]
    calls: NotRequired[int]
    report: NotRequired[dict[str, Any]]
    stopped: NotRequired[str | None]
    warnings: NotRequired[list[str]]  # e.g. a budget 80% spent; the CLI prints them on stderr
    capped: NotRequired[CapInfo]  # answers shortened to fit a budget or --max-cost
    # ``cost_usd`` is null when any call was unpriced; these keep what is known: the sum of
    # the priced calls and how many calls had no price.
    known_cost_usd: NotRequired[float]
    unpriced_calls: NotRequired[int]
    # With ``json_schema``: the answer parsed (the JSON object ``answer`` holds as text).
    parsed: NotRequired[Any]
    # The calls the answering model asked for (an ask given ``tools``), in order.
    tool_calls: NotRequired[list[ToolCallInfo]]


class CapInfo(TypedDict):
    """A run whose calls had their ``max_tokens`` lowered to fit what a budget had left:
    the tightest cap, how many calls were capped, and which budget did it."""

    max_tokens: int
    calls: int
    reason: str


class RunStartedEvent(TypedDict):
    """``participants`` are the models asked; ``labels`` how the run's events name them
    (``model#2`` for a repeat), one each in order. Older daemons send no ``labels``."""

    type: Literal["run.started"]
    run_id: str
    mode: Mode
    participants: list[str]
    labels: NotRequired[list[str]]


class DeltaEvent(TypedDict):
    type: Literal["delta"]
    run_id: str
    participant: str
    round: int
    text: str


class MessageEvent(TypedDict):
    type: Literal["message"]
    run_id: str
    participant: str
    round: int
    text: str
    usage: Usage
    cost_usd: float | None
    latency_ms: int
    finish_reason: NotRequired[str | None]  # "stop", "length", ... as the provider said
    tool_calls: NotRequired[list[ToolCallInfo]]  # with ``tools``: the calls asked for


class ErrorEvent(TypedDict):
    type: Literal["error"]
    run_id: str
    participant: str | None
    code: str
    message: str
    retryable: bool
    retry_after: NotRequired[float]  # seconds, when the provider said how long to wait


class RoundFinishedEvent(TypedDict):
    type: Literal["round.finished"]
    run_id: str
    round: int
    agreement: float | None
    report: dict[str, Any]


class JudgeDeltaEvent(TypedDict):
    type: Literal["judge.delta"]
    run_id: str
    participant: str
    round: int
    text: str
    final: NotRequired[bool]  # the call writes the run's answer (a synthesis, a chairman)


class JudgeMessageEvent(TypedDict):
    type: Literal["judge.message"]
    run_id: str
    participant: str
    round: int
    text: str
    usage: Usage
    cost_usd: float | None
    latency_ms: int
    finish_reason: NotRequired[str | None]


class RetryEvent(TypedDict):
    """A failed attempt that will be tried again (or handed to the next model in a chain)."""

    type: Literal["retry"]
    run_id: str
    participant: str
    attempt: int
    code: str
    message: str
    wait_s: float


class RunFinishedEvent(TypedDict):
    type: Literal["run.finished"]
    run_id: str
    result: RunResult


Event = (
    RunStartedEvent
    | DeltaEvent
    | MessageEvent
    | ErrorEvent
    | RoundFinishedEvent
    | JudgeDeltaEvent
    | JudgeMessageEvent
    | RetryEvent
    | RunFinishedEvent
    | ToolCallDeltaEvent
)


class Health(TypedDict):
    version: str
    api_version: int
    pid: int
    uptime_s: float
    providers_ready: list[str]
    config_error: str | None
    #: The files this daemon uses, fixed when it started: config, ledger, log, socket.
    paths: NotRequired[dict[str, str]]
    # The environment variables a client forwards besides SUPERLLM_*: the key (and endpoint)
    # variables the registry names for its providers; ``env_tag`` names this list.
    env_names: NotRequired[list[str]]
    env_tag: NotRequired[str]
    # Each provider that has been called: its circuit (closed, open, half_open), failures in
    # a row, times opened, seconds until a trial call (superllmd/providers/breaker.py).
    circuits: NotRequired[dict[str, dict[str, Any]]]
    tasks: NotRequired[int]  # asyncio tasks alive in the daemon


# -- the answers of the reading routes (what the SDK returns) --------------------------------


class EmbedResult(TypedDict):
    """``POST /v1/embed``: one vector per text, in order."""

    model: str
    dimensions: int
    vectors: list[list[float]]


class ModelInfo(TypedDict):
    """One row of ``GET /v1/models``: a model's capabilities and prices (USD per million
    tokens; None means unpriced, never free)."""

    model: str
    provider: str
    streaming: bool
    tools: bool
    vision: bool
    embeddings: bool
    json_output: bool
    context_window: int | None
    max_output: int | None
    price_input: float | None
    price_output: float | None
    price_cached_input: float | None
    price_cache_write: float | None
    price_tiers: list[dict[str, Any]]
    priced: bool
    price_as_of: str | None
    latency_ms: int | None
    #: In the provider's own model list, as ``superllm models --refresh`` last fetched it.
    listed: NotRequired[bool]


class ModelsRefreshRequest(TypedDict, total=False):
    """``POST /v1/models/refresh``: ask providers for the models they serve, and cache each
    list. Without ``ids``: the providers worth checking, as ``superllm providers check``."""

    __pydantic_config__ = _FORBID  # type: ignore[misc]

    ids: list[str]
    timeout: Annotated[float, _Bound(gt=0, le=600)]
    env: dict[str, str]


class ModelListing(TypedDict):
    """One provider's answer to ``POST /v1/models/refresh``."""

    id: str
    ok: bool
    count: int  # models listed (0 on failure)
    fetched_at: str | None  # ISO 8601, when the cached list was fetched
    latency_ms: int
    error: ErrorInfo | None


class UsageFigures(TypedDict):
    calls: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cost_usd: float | None  # None: some call was unpriced
    cache_hits: int
    errors: int


class UsageReport(TypedDict):
    """``GET /v1/usage``: totals, and one row per ``by`` key (day, provider, model...); each
    row holds its key under the ``by`` name beside the figures."""

    by: str
    since: float | None
    until: float | None
    totals: UsageFigures
    rows: list[dict[str, Any]]


class RunSummary(TypedDict):
    """One run of ``GET /v1/runs`` (prompt and answer cut to 200 characters)."""

    run_id: str
    time: float
    finished: float | None
    mode: str
    label: str | None
    conversation_id: str | None
    participants: list[str]
    prompt: str | None
    answer: str | None
    agreement: float | None
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cost_usd: float | None
    latency_ms: int | None
    status: str
    error_code: str | None
    snippet: NotRequired[str]  # with ``search``: the text around the match


class RunList(TypedDict):
    runs: list[RunSummary]


class BudgetStatus(TypedDict):
    budget: str
    scope: Literal["global", "provider", "label"]
    name: str | None
    period: Literal["day", "month"]
    limit_usd: float
    spent_usd: float
    reserved_usd: float
    left_usd: float
    unpriced: bool  # some spending in the period was unpriced


class BudgetReport(TypedDict):
    """``GET /v1/budgets``: every configured budget and what is left of it."""

    path: str
    budgets: list[BudgetStatus]
    block_unpriced: bool
    warn_at: float
