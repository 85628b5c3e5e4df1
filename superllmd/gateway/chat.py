"""A vendor chat request, translated, run through the seam, and read back as pieces.

Each dialect turns its request into a ``Chat`` (an ask-shaped body: prompt, system, earlier
turns, images, sampling) and renders ``pieces`` in its own wire format. The pieces of a run:

``Text``      answer text to show as content (an ask's deltas; a virtual model's answer)
``ToolDelta`` a piece of a tool call the model asks for (an ask given tools)
``Progress``  a virtual run's participants, rounds and judging, for the ``superllm`` key
``Failed``    the run failed after its reply had started (an in-band error)
``Done``      the run's result, how the answer ended, and the extension object
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, cast

from superllmd.errors import ModelNotFound, SuperllmError, UnknownProvider
from superllmd.gateway import GatewayToken, engine
from superllmd.gateway._shared import Primed, prime, result_error, run_error
from superllmd.gateway.json_only import JsonOnly, json_alone
from superllmd.gateway.virtual import Virtual, extension, parse, progress
from superllmd.protocol import AskRequest, Event, RunResult
from superllmd.protocol_tools import ToolCallInfo
from superllmd.state import DaemonState

__all__ = [
    "Chat",
    "Done",
    "Failed",
    "Piece",
    "Progress",
    "Text",
    "ToolDelta",
    "collect",
    "pieces",
    "start",
]


@dataclass
class Chat:
    """What every dialect's request becomes: a model name and an ask-shaped body."""

    model: str
    body: dict[str, Any] = field(default_factory=dict)
    stream: bool = False

    @property
    def virtual(self) -> Virtual | None:
        return parse(self.model)

    @property
    def json_only(self) -> bool:
        """Whether the answer is to be JSON (a schema or JSON mode was asked for)."""
        return bool(self.body.get("json_schema") or self.body.get("json_output"))


@dataclass(frozen=True, slots=True)
class Text:
    text: str


@dataclass(frozen=True, slots=True)
class ToolDelta:
    """The ``index``-th call's first piece has ``id`` and ``name``; later ones more arguments."""

    index: int
    id: str | None
    name: str | None
    arguments: str


@dataclass(frozen=True, slots=True)
class Progress:
    event: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Failed:
    error: SuperllmError


@dataclass(frozen=True, slots=True)
class Done:
    result: RunResult
    finish_reason: str  # "stop", "length", ... (OpenAI's words; dialects map them)
    extension: dict[str, Any]
    json_only: bool = False  # the answer is to be JSON (Chat.json_only)

    @property
    def answer(self) -> str:
        text = self.result["answer"] or ""
        if not self.json_only or _bare_json(text):
            return text
        # JSON wrapped in prose or a fence: the client gets the JSON alone, a schema's as
        # it was validated, JSON mode's as a stream would have sent it.
        if "parsed" in self.result:
            return json.dumps(self.result["parsed"], ensure_ascii=False)
        return json_alone(text)

    @property
    def tool_calls(self) -> list[ToolCallInfo]:
        return self.result.get("tool_calls") or []


Piece = Text | ToolDelta | Progress | Failed | Done


def _bare_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


async def start(state: DaemonState, chat: Chat, token: GatewayToken | None) -> Primed:
    """Start the run and read it until it commits to an answer (``_shared.prime``)."""
    virtual = chat.virtual
    body: dict[str, Any] = {**chat.body, "stream": chat.stream}
    # A reply shown only once whole need not wait for the ledger at each message.
    hold = chat.stream
    try:
        return await prime(await _events(state, chat, virtual, body, token, hold))
    except UnknownProvider as exc:
        # A vendor client's unknown model is a 404 (OpenAI's model_not_found), not a 400.
        raise ModelNotFound(exc.message, param="model") from None


async def _events(
    state: DaemonState,
    chat: Chat,
    virtual: Virtual | None,
    body: dict[str, Any],
    token: GatewayToken | None,
    hold: bool,
) -> AsyncIterator[Event]:
    if virtual is not None:
        run = virtual.request(body)
        return await engine.run_events(state, virtual.mode, run, token, hold=hold)
    ask: AskRequest = {**body, "model": chat.model}  # type: ignore[typeddict-item]
    return await engine.ask_events(state, ask, token, hold=hold)


def pieces(events: AsyncIterator[Event], chat: Chat) -> AsyncIterator[Piece]:
    """A streamed run's events as the pieces a vendor-shaped reply is made of; a JSON
    answer's text without the prose or fence a model put around it (json_only.py)."""
    native = _pieces(events, chat)
    return _json_alone(native) if chat.json_only else native


async def _json_alone(native: AsyncIterator[Piece]) -> AsyncIterator[Piece]:
    unwrap = JsonOnly()
    async for piece in native:
        if isinstance(piece, Text):
            if text := unwrap.feed(piece.text):
                yield Text(text)
            continue
        if isinstance(piece, Done | Failed) and (rest := unwrap.finish()):
            yield Text(rest)
        yield piece


async def _pieces(events: AsyncIterator[Event], chat: Chat) -> AsyncIterator[Piece]:
    virtual = chat.virtual
    finish = "stop"
    shown = ""  # a virtual run's answer streamed so far (its final synthesis's deltas)
    async for native in events:
        event = cast("dict[str, Any]", native)
        kind = event["type"]
        if kind == "run.finished":
            result: RunResult = event["result"]
            error = result_error(result)
            if error is not None and result.get("answer") is None:
                yield Failed(error)
                return
            answer = result.get("answer") or ""
            if virtual is not None and answer:
                # Streamed already when the synthesis wrote it; else (a vote, a fallback
                # after a synthesis failed) what is not shown yet, as one piece.
                yield Text(answer.removeprefix(shown) if answer.startswith(shown) else answer)
            yield Done(result, finish, extension(result, virtual), chat.json_only)
            return
        if virtual is not None:
            if kind == "judge.delta" and event.get("final"):
                shown += event["text"]
                yield Text(event["text"])
            elif (report := progress(native)) is not None:
                yield Progress(report)
        elif kind == "delta":
            yield Text(event["text"])
        elif kind == "tool_call.delta":
            yield ToolDelta(event["index"], event.get("id"), event.get("name"), event["arguments"])
        elif kind == "message":
            finish = event.get("finish_reason") or "stop"
        elif kind == "error" and event["participant"] is None:
            yield Failed(run_error(event))
            return


async def collect(primed: Primed, chat: Chat) -> Done:
    """The whole run, for a non-streaming reply. Raises the run's error."""
    async for piece in _pieces(primed.events(), chat):
        if isinstance(piece, Failed):
            raise piece.error
        if isinstance(piece, Done):
            return piece
    raise SuperllmError("the run ended without a result")
