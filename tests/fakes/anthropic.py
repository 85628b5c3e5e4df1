"""A fake Anthropic Messages server (WIRE.md section 3), byte-faithful.

Base URL is the server root (no ``/v1``), as with the real SDK. Like the real API it answers
401 without ``x-api-key`` and 400 without ``anthropic-version``. Behaviour is chosen by the
model name (or queued in ``script``):

``echo`` (any unknown name)  ``echo: <last user message>``, word by word when streaming
``slow``                     echo, sleeping ``delay`` before answering and between chunks
``truncated``                streams some text, then ends the body without message_stop
``reset``                    streams some text, then resets the TCP connection
``midstream-error``          streams some text, then ``event: error`` (overloaded_error)
``error-<status>``           that status with an Anthropic error body (400, 401, 403, 404,
                             429 with ``retry-after: 7``, 500, 503, 529 overloaded)
``spendlimit``               429 ``enforced_spend_limit_reached``, no retry-after
``cache``                    usage with cache writes and reads (input 10, write 20, read 30)
``badjson``                  502 with an HTML body
``leaky``                    401 whose message quotes the key

Content blocks are checked as the real API checks them (a ``text`` block needs a string
``text``; an ``image`` block a ``base64`` source with a media type Anthropic takes): a wrong
shape is a 400 ``invalid_request_error`` naming the field. Images received are kept in
``images`` as ``(media_type, data)``. Tools (tests/fakes/tools.py) are checked too: each
``{name, input_schema}`` (an object schema), ``tool_choice`` ``{"type": auto|any|none|tool}``,
``tool_use`` blocks only from the assistant with an object ``input``, and ``tool_result``
blocks first in the user turn right after it, each naming one of its ``tool_use`` ids. A
request offering tools is answered with a ``tool_use`` block (``stop_reason`` ``tool_use``,
its input streamed as ``input_json_delta`` pieces); one ending with results with text.

Usage follows the suite's convention (tests/providers/conformance.py): prompt = words of the
system prompt and messages, of which ``prompt // 2`` are cache reads once prompt >= 8.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from tests.fakes.listing import page
from tests.fakes.openai import echo_reply
from tests.fakes.server import FakeRequest, FakeServer, Writer
from tests.fakes.structured import native_schema, structured_text
from tests.fakes.tools import ShapeError, call_arguments, reply_to, require, split

__all__ = ["FakeAnthropic"]

_IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")

_ERRORS = {
    400: ("invalid_request_error", "max_tokens: Field required"),
    401: ("authentication_error", "invalid x-api-key"),
    403: (
        "permission_error",
        "Your API key does not have permission to use the specified resource.",
    ),
    404: ("not_found_error", "model: no-such-model"),
    429: ("rate_limit_error", "This request would exceed your organization's rate limit."),
    500: ("api_error", "Internal server error"),
    503: ("api_error", "Service unavailable"),
    529: ("overloaded_error", "Overloaded"),
}


def _words(text: Any) -> int:
    if isinstance(text, list):
        text = " ".join(str(b.get("text", "")) for b in text if isinstance(b, dict))
    return len(str(text).split())


class FakeAnthropic:
    def __init__(self, *, delay: float = 0.05) -> None:
        self.delay = delay
        self.script: list[str] = []
        self.models = ["claude-fake", "echo"]
        self.page_size: int | None = None  # set to force the model list into pages
        self.images: list[tuple[str, str]] = []
        self.server = FakeServer(self.handle)

    def start(self) -> FakeAnthropic:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    @property
    def base_url(self) -> str:
        return self.server.url

    @property
    def requests(self) -> list[FakeRequest]:
        return self.server.requests

    async def handle(self, request: FakeRequest, w: Writer) -> None:
        if not request.headers.get("x-api-key"):
            self.error(w, 401, "x-api-key header is required")
        elif not request.headers.get("anthropic-version"):
            self.error(w, 400, "anthropic-version: header is required")
        elif request.method == "GET" and request.path == "/v1/models":
            self.list_models(request, w)
        elif request.method == "POST" and request.path == "/v1/messages":
            await self.messages(request, w)
        else:
            self.error(w, 404, f"no route {request.method} {request.path}")

    def list_models(self, request: FakeRequest, w: Writer) -> None:
        """``GET /v1/models?limit=&after_id=`` (WIRE.md 3.4), newest first, paged by id."""
        query = {k: v[0] for k, v in request.query.items()}
        start = self.models.index(query["after_id"]) + 1 if "after_id" in query else 0
        chunk, more = page(self.models, query.get("limit"), self.page_size, start)
        data = [
            {
                "type": "model",
                "id": m,
                "display_name": m.replace("-", " ").title(),
                "created_at": "2025-01-01T00:00:00Z",
                "max_input_tokens": 200000,
                "max_tokens": 64000,
            }
            for m in chunk
        ]
        w.respond(
            200,
            {
                "data": data,
                "has_more": more is not None,
                "first_id": chunk[0] if chunk else None,
                "last_id": chunk[-1] if chunk else None,
            },
        )

    def error(self, w: Writer, status: int, message: str | None = None, **extra: Any) -> None:
        kind, default = _ERRORS.get(status, ("api_error", "error"))
        headers = {"request-id": "req_fake"}
        if status == 429:
            headers |= {
                "retry-after": "7",
                "anthropic-ratelimit-requests-limit": "50",
                "anthropic-ratelimit-requests-remaining": "0",
                "anthropic-ratelimit-requests-reset": "2025-01-01T00:00:07Z",
            }
        error = {"type": kind, "message": message or default, **extra}
        body = {"type": "error", "error": error, "request_id": "req_fake"}
        w.respond(status, body, headers=headers)

    def usage(self, body: dict[str, Any], text: str, behaviour: str) -> dict[str, Any]:
        prompt = _words(body.get("system", "")) + sum(
            _words(m.get("content", "")) for m in body.get("messages", [])
        )
        cached = prompt // 2 if prompt >= 8 else 0
        fresh, written = prompt - cached, 0
        if behaviour == "cache":
            fresh, written, cached = 10, 20, 30
        return {
            "input_tokens": fresh,
            "cache_creation_input_tokens": written,
            "cache_read_input_tokens": cached,
            "cache_creation": {
                "ephemeral_5m_input_tokens": written,
                "ephemeral_1h_input_tokens": 0,
            },
            "output_tokens": len(text.split()),
            "service_tier": "standard",
        }

    async def messages(self, request: FakeRequest, w: Writer) -> None:
        body = request.json()
        behaviour = self.script.pop(0) if self.script else str(body.get("model", "echo"))
        if behaviour.startswith("error-"):
            self.error(w, int(behaviour.removeprefix("error-")))
            return
        if behaviour == "spendlimit":
            self.error(
                w,
                429,
                "You have reached your specified workspace API usage limits.",
                details={"error_code": "enforced_spend_limit_reached"},
            )
            return
        if behaviour == "badjson":
            w.respond(502, "<html><body>502 Bad Gateway</body></html>", content_type="text/html")
            return
        if behaviour == "leaky":
            self.error(w, 401, f"invalid x-api-key: {request.headers.get('x-api-key')}")
            return
        if "max_tokens" not in body:
            self.error(w, 400, "max_tokens: Field required")
            return
        problem = self.check_content(body)
        if problem:
            self.error(w, 400, problem)
            return
        schema, problem = native_schema(body, "anthropic")
        if problem:
            self.error(w, 400, problem)
            return
        try:
            plan = self.tool_plan(body)
        except ShapeError as exc:
            self.error(w, 400, str(exc))
            return
        if isinstance(plan, tuple):
            await self.call_tool(w, body, *plan)
            return
        text = (
            plan
            if plan is not None
            else echo_reply(body)
            if schema is None
            else structured_text(schema, behaviour)
        )
        usage = self.usage(body, text, behaviour)
        if behaviour == "slow":
            await asyncio.sleep(self.delay)
        if body.get("stream"):
            await self.stream(w, body, text, usage, behaviour)
            return
        message = self.message(body, usage)
        message["content"] = [{"type": "text", "text": text}]
        message["stop_reason"], message["usage"] = "end_turn", usage
        w.respond(200, message, headers={"request-id": "req_fake"})

    def check_content(self, body: dict[str, Any]) -> str | None:
        """What the real API would refuse in the messages' content blocks, or None."""
        for i, m in enumerate(body.get("messages", [])):
            content = m.get("content")
            if isinstance(content, str):
                continue
            if not isinstance(content, list):
                return f"messages.{i}.content: Input should be a valid list"
            for j, block in enumerate(content):
                where = f"messages.{i}.content.{j}"
                kind = block.get("type") if isinstance(block, dict) else None
                if kind == "text":
                    if not isinstance(block.get("text"), str):
                        return f"{where}.text.text: Field required"
                elif kind == "image":
                    source = block.get("source")
                    if not isinstance(source, dict) or source.get("type") != "base64":
                        return f"{where}.image.source: Input tag does not match 'base64'"
                    if source.get("media_type") not in _IMAGE_TYPES:
                        return f"{where}.image.source.base64.media_type: Input should be " + (
                            ", ".join(repr(t) for t in _IMAGE_TYPES)
                        )
                    if not isinstance(source.get("data"), str) or not source["data"]:
                        return f"{where}.image.source.base64.data: Field required"
                    self.images.append((source["media_type"], source["data"]))
                elif kind in ("tool_use", "tool_result"):
                    continue  # tool_plan checks these
                else:
                    return f"{where}: Input tag {kind!r} does not match any of the expected tags"
        return None

    def tool_plan(self, body: dict[str, Any]) -> tuple[str, dict[str, Any]] | str | None:
        """A call to answer with (name, input), text answering tools' results, or None."""
        messages = body.get("messages", [])
        uses: set[str] = set()  # the tool_use ids of the assistant turn just before
        result: Any = None
        for i, m in enumerate(messages):
            blocks = m.get("content") if isinstance(m.get("content"), list) else []
            kinds = [b.get("type") for b in blocks]
            if m.get("role") == "assistant":
                require(
                    "tool_result" not in kinds, f"messages.{i}: tool_result in an assistant turn"
                )
                uses = set()
                for j, b in enumerate(blocks):
                    if b.get("type") == "tool_use":
                        where = f"messages.{i}.content.{j}"
                        require(
                            isinstance(b.get("input"), dict), f"{where}.input: must be an object"
                        )
                        require(bool(b.get("id")) and bool(b.get("name")), f"{where}: id and name")
                        uses.add(b["id"])
                continue
            require("tool_use" not in kinds, f"messages.{i}: tool_use in a user turn")
            results = [b for b in blocks if b.get("type") == "tool_result"]
            require(
                kinds[: len(results)] == ["tool_result"] * len(results),
                f"messages.{i}: tool_result blocks must come first in the user turn",
            )
            for b in results:
                require(
                    b.get("tool_use_id") in uses,
                    f"messages.{i}: unexpected `tool_use_id` found in `tool_result` blocks: "
                    f"{b.get('tool_use_id')}. Each `tool_result` block must have a "
                    "corresponding `tool_use` block in the previous message.",
                )
                result = b.get("content")
            uses = set()
        last = messages[-1] if messages else {}
        last_blocks = last.get("content") if isinstance(last.get("content"), list) else []
        if any(b.get("type") == "tool_result" for b in last_blocks):
            return reply_to(result)
        tools = body.get("tools")
        if tools is None:
            return None
        require(isinstance(tools, list) and bool(tools), "tools: Input should be a valid list")
        schemas: dict[str, Any] = {}
        for i, t in enumerate(tools):
            require("type" not in t or t["type"] == "custom", f"tools.{i}.type: custom tools only")
            schema = t.get("input_schema")
            require(
                isinstance(schema, dict) and schema.get("type") == "object",
                f"tools.{i}.custom.input_schema.type: Input should be 'object'",
            )
            schemas[str(t.get("name"))] = schema
        choice = body.get("tool_choice", {"type": "auto"})
        require(choice.get("type") in ("auto", "any", "none", "tool"), "tool_choice.type")
        if choice["type"] == "none":
            return None
        name = choice.get("name") if choice["type"] == "tool" else next(iter(schemas))
        require(name in schemas, f"tool_choice.name: no tool named {name!r}")
        return str(name), call_arguments(schemas[name], echo_reply(body).removeprefix("echo: "))

    async def call_tool(
        self, w: Writer, body: dict[str, Any], name: str, arguments: dict[str, Any]
    ) -> None:
        usage = self.usage(body, json.dumps(arguments), "")
        block = {"type": "tool_use", "id": "toolu_fake0", "name": name}
        if not body.get("stream"):
            message = self.message(body, usage)
            message["content"] = [{**block, "input": arguments}]
            message["stop_reason"], message["usage"] = "tool_use", usage
            w.respond(200, message)
            return

        def event(kind: str, data: dict[str, Any]) -> str:
            return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n"

        w.start_stream()
        w.chunk(event("message_start", {"message": self.message(body, usage)}))
        w.chunk(event("content_block_start", {"index": 0, "content_block": {**block, "input": {}}}))
        for piece in split(json.dumps(arguments)):
            delta = {"type": "input_json_delta", "partial_json": piece}
            w.chunk(event("content_block_delta", {"index": 0, "delta": delta}))
        w.chunk(event("content_block_stop", {"index": 0}))
        delta = {"stop_reason": "tool_use", "stop_sequence": None}
        final = {"output_tokens": usage["output_tokens"], "input_tokens": usage["input_tokens"]}
        w.chunk(event("message_delta", {"delta": delta, "usage": final}))
        w.chunk(event("message_stop", {}))
        w.end_stream()

    def message(self, body: dict[str, Any], usage: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": body.get("model"),
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {**usage, "output_tokens": 1},
        }

    async def stream(
        self, w: Writer, body: dict[str, Any], text: str, usage: dict[str, Any], behaviour: str
    ) -> None:
        def event(name: str, data: dict[str, Any]) -> str:
            return f"event: {name}\ndata: {json.dumps({'type': name, **data})}\n\n"

        w.start_stream(headers={"request-id": "req_fake"})
        w.chunk(event("message_start", {"message": self.message(body, usage)}))
        block = {"type": "text", "text": ""}
        w.chunk(event("content_block_start", {"index": 0, "content_block": block}))
        w.chunk(event("ping", {}))
        words = text.split(" ")
        pieces = [p + (" " if i < len(words) - 1 else "") for i, p in enumerate(words)]
        cut = max(len(pieces) // 2, 1)
        for i, piece in enumerate(pieces):
            if behaviour in ("truncated", "reset", "midstream-error") and i == cut:
                break
            delta = {"type": "text_delta", "text": piece}
            w.chunk(event("content_block_delta", {"index": 0, "delta": delta}))
            await asyncio.sleep(self.delay if behaviour == "slow" else 0.0)
        if behaviour == "truncated":
            w.end_stream()
            return
        if behaviour == "reset":
            await asyncio.sleep(0.01)
            w.reset()
            return
        if behaviour == "midstream-error":
            error = {"type": "overloaded_error", "message": "Overloaded"}
            w.chunk(event("error", {"error": error}))
            w.end_stream()
            return
        w.chunk(event("content_block_stop", {"index": 0}))
        delta = {"stop_reason": "end_turn", "stop_sequence": None}
        # Cumulative counts, as the real API sends them.
        final = {k: usage[k] for k in ("output_tokens", "input_tokens")}
        final |= {k: usage[k] for k in ("cache_creation_input_tokens", "cache_read_input_tokens")}
        w.chunk(event("message_delta", {"delta": delta, "usage": final}))
        w.chunk(event("message_stop", {}))
        w.end_stream()
