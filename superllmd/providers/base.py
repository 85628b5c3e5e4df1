"""What a provider is: the types every dialect and plugin implements.

A *kind* (``ProviderKind``) is a wire dialect or driver, registered under the entry-point
group ``superllm.providers``; it is created once per daemon and owns shared resources
(connection pools, a loaded model). A *provider* (``Provider``) is a cheap view of one
configured endpoint (``[providers.ID]``) for one request's environment, made by its kind.

Token counts follow one convention everywhere: ``input_tokens`` counts every prompt token,
``cached_tokens`` is the part of those served from the provider's prompt cache.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from superllmd.errors import BadRequest
from superllmd.listings import ServedModel

if TYPE_CHECKING:
    from superllmd.config import ProviderSettings
    from superllmd.providers._http import HttpClients
    from superllmd.providers.keys import KeyResolver

__all__ = [
    "Attachment",
    "Capabilities",
    "ChatRequest",
    "Completion",
    "KindContext",
    "Message",
    "PriceTier",
    "Provider",
    "ProviderKind",
    "ServedModel",
    "StreamItem",
    "TextDelta",
    "TokenUsage",
    "Tool",
    "ToolCall",
    "ToolCallDelta",
    "ToolChoice",
]

#: ``tool`` is a tool's result, answering an assistant turn's ``tool_calls``.
Role = Literal["system", "user", "assistant", "tool"]
_LOOPBACK = re.compile(r"^https?://(localhost|127\.\d+\.\d+\.\d+|\[::1\])([:/]|$)", re.I)


@dataclass(frozen=True, slots=True)
class Attachment:
    """An image sent with a message (``superllm ask -a``): media type and base64 data."""

    media_type: str
    data: str


@dataclass(frozen=True, slots=True)
class Tool:
    """A function the model may call: its name, what it does, its arguments' JSON Schema."""

    name: str
    description: str = ""
    parameters: Mapping[str, Any] = field(
        default_factory=lambda: {"type": "object", "properties": {}}
    )


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A call the model asked for. ``arguments`` is JSON text (an object), the way OpenAI,
    Cohere and Mistral send it; dialects whose vendors send an object encode it."""

    id: str
    name: str
    arguments: str = "{}"


@dataclass(frozen=True, slots=True)
class ToolChoice:
    """``auto`` (the model decides), ``none``, ``required`` (some tool), or ``tool`` (the one
    named)."""

    mode: Literal["auto", "none", "required", "tool"] = "auto"
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    content: str
    #: Images, only for providers with ``takes_attachments`` and models with vision: a
    #: dialect that cannot send them must never receive them (the daemon refuses first).
    attachments: tuple[Attachment, ...] = ()
    #: An assistant turn's calls (its ``content`` may be empty), and on a ``tool`` turn the
    #: id of the call it answers: only for providers with ``takes_tools``.
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None


@dataclass(frozen=True, slots=True)
class ChatRequest:
    model: str
    messages: tuple[Message, ...]
    temperature: float | None = None
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    json_output: bool = False
    options: Mapping[str, Any] = field(default_factory=dict)
    #: A JSON Schema for the answer: each dialect sends it in its native structured-output
    #: form (and implies ``json_output``); None: free text.
    json_schema: Mapping[str, Any] | None = None
    tools: tuple[Tool, ...] = ()
    tool_choice: ToolChoice | None = None


@dataclass(frozen=True, slots=True)
class TokenUsage:
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    #: Prompt tokens written to the provider's cache (Anthropic bills them above input);
    #: part of ``input_tokens``, priced apart, not among the public usage keys.
    cache_write_tokens: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cached_tokens": self.cached_tokens,
        }


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A piece of the ``index``-th tool call of a streamed answer: its first piece carries
    ``id`` and ``name``, later ones more of the ``arguments`` text (to append)."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(frozen=True, slots=True)
class Completion:
    text: str
    usage: TokenUsage
    finish_reason: str | None = None  # "tool_calls" when the model asks for tools
    model: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()


# A stream yields any number of TextDelta and ToolCallDelta, then exactly one Completion, last
# (which holds the whole text and tool calls again).
StreamItem = TextDelta | ToolCallDelta | Completion


@dataclass(frozen=True, slots=True)
class Capabilities:
    streaming: bool = True
    tools: bool = False
    vision: bool = False
    embeddings: bool = False
    json_output: bool = False
    context_window: int | None = None
    max_output: int | None = None
    # USD per million tokens; None means unpriced (never "free").
    price_input: float | None = None
    price_output: float | None = None
    price_cached_input: float | None = None
    #: Writing to the prompt cache (Anthropic: 1.25x input); None: billed as input.
    price_cache_write: float | None = None
    #: Long-context tiers: prompts above ``above`` tokens are billed at that tier's prices.
    price_tiers: tuple[PriceTier, ...] = ()


@dataclass(frozen=True, slots=True)
class PriceTier:
    """Prices for prompts longer than ``above`` tokens (Gemini 2.5 Pro above 200k)."""

    above: int
    input: float
    output: float
    cached_input: float | None = None


@dataclass(frozen=True, slots=True)
class KindContext:
    """What the daemon hands every kind when it creates it."""

    http: HttpClients
    keys: KeyResolver
    models_dir: Path


class Provider(ABC):
    """One configured endpoint, seen with one request's environment."""

    #: Whether this dialect sends ``Message.attachments`` (images); set by one that does.
    takes_attachments: ClassVar[bool] = False
    #: Whether this dialect sends ``ChatRequest.tools`` and tool turns and reads tool calls
    #: back; a request with tools is refused before it reaches a provider without.
    takes_tools: ClassVar[bool] = False
    #: ``[prices."provider/model"]`` from config, set by the daemon on the providers it
    #: resolves for a request (state.py); they win over the catalog in ``estimate_cost``.
    price_overrides: Mapping[str, Any] = MappingProxyType({})

    def __init__(self, provider_id: str, settings: ProviderSettings) -> None:
        self.id = provider_id
        self.settings = settings

    @abstractmethod
    async def complete(self, request: ChatRequest) -> Completion: ...

    @abstractmethod
    def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:
        """Yield TextDelta pieces as they arrive, then one Completion.

        A stream that ends without its dialect's end marker raises ProtocolError: a cut
        answer must never pass for a short one.
        """

    async def embed(self, model: str, texts: list[str]) -> list[list[float]]:
        raise BadRequest(f"{self.id} does not offer embeddings", provider=self.id)

    async def list_models(self) -> list[str]:
        """Model ids to offer: the configured ones (a dialect may ask its server instead)."""
        return list(self.settings.models)

    async def served_models(self) -> list[ServedModel]:
        """What the endpoint itself serves, asked of it now (``superllm models --refresh``).

        A dialect with a models list endpoint overrides this (``/v1/models``,
        ``/api/tags``...) and raises the provider's error when it cannot; the default is
        what ``list_models`` offers, so a plugin needs nothing more.
        """
        return [ServedModel(name) for name in await self.list_models()]

    async def health(self) -> str | None:
        """Prove the provider can serve, the way a real call would; return what was checked
        (say a model name), or None to let ``providers check`` use its generic probe (a
        models list, else a one-token call). Raises the provider's error when it cannot."""
        return None

    def capabilities(self, model: str) -> Capabilities:
        """From the shipped catalog (models.toml); an unlisted model is unpriced."""
        from superllmd.providers import catalog

        return catalog.capabilities(f"{self.id}/{model}")

    def estimate_cost(self, model: str, usage: TokenUsage) -> float | None:
        from superllmd.providers import catalog

        override = self.price_overrides.get(f"{self.id}/{model}")
        caps = catalog.with_override(self.capabilities(model), override)
        if caps.price_input is None or caps.price_output is None:
            return None
        price_in, price_out = caps.price_input, caps.price_output
        price_cached = caps.price_cached_input
        for tier in sorted(caps.price_tiers, key=lambda t: t.above):
            if usage.input_tokens > tier.above:  # the whole prompt moves to the tier's rate
                price_in, price_out, price_cached = tier.input, tier.output, tier.cached_input
        if price_cached is None:
            price_cached = price_in
        price_write = caps.price_cache_write if caps.price_cache_write is not None else price_in
        fresh = max(usage.input_tokens - usage.cached_tokens - usage.cache_write_tokens, 0)
        return (
            fresh * price_in
            + usage.cached_tokens * price_cached
            + usage.cache_write_tokens * price_write
            + usage.output_tokens * price_out
        ) / 1_000_000


class ProviderKind(ABC):
    """A dialect or driver. Subclasses are what the ``superllm.providers`` entry points name."""

    name: ClassVar[str]
    #: The vendor's conventional key variables, tried in order after the keyring.
    key_env: ClassVar[tuple[str, ...]] = ()
    #: Whether a provider of this kind is unusable without a key. None: it is when the kind
    #: names a key variable and the endpoint is not this machine (a local Ollama needs none).
    key_required: ClassVar[bool | None] = None
    #: Other variables a provider of this kind reads from the request's environment (an
    #: endpoint, an API version). Clients forward only these and the key variables.
    extra_env: ClassVar[tuple[str, ...]] = ()

    def __init__(self, context: KindContext) -> None:
        self.context = context

    def builtin_providers(self) -> dict[str, dict[str, Any]]:
        """Provider ids this kind offers without any config, with their default settings."""
        return {}

    @abstractmethod
    def create(
        self, provider_id: str, settings: ProviderSettings, environ: Mapping[str, str]
    ) -> Provider: ...

    def describe(self, provider_id: str, settings: ProviderSettings) -> str:
        return settings.base_url or ""

    def key_plan(
        self, provider_id: str, settings: ProviderSettings
    ) -> tuple[tuple[str, ...], bool]:
        """The variables that may hold this provider's key, and whether it needs one."""
        names = (settings.api_key_env,) if settings.api_key_env else self.key_env
        if self.key_required is not None:
            return names, self.key_required and bool(names)
        where = settings.base_url or self.describe(provider_id, settings)
        return names, bool(self.key_env) and not _LOOPBACK.match(where)

    def env_names(self, provider_id: str, settings: ProviderSettings) -> tuple[str, ...]:
        """Every variable a provider of this kind may read from a request's environment."""
        names = (settings.api_key_env,) if settings.api_key_env else ()
        return (*names, *self.key_env, *self.extra_env)

    def embedded_models(self, settings: ProviderSettings) -> list[str]:
        """Models that run in-process with no key or network: candidates for the default."""
        return []

    async def aclose(self) -> None:
        return None
