"""A fake Cohere v2 server (WIRE.md section 6): chat, embed and the model list.

Streams are named SSE events (``message-start``, ``content-start``, ``content-delta``,
``content-end``, ``message-end``). Like the real API it answers 401 without a Bearer token.
Behaviour is chosen by the model name:

``echo`` (any unknown name)  ``echo: <last user message>``, word by word when streaming
``slow``                     echo, sleeping ``delay`` before answering and between chunks
``truncated``                streams some text, then ends the body without message-end
``reset``                    streams some text, then resets the TCP connection
``midstream-error``          streams some text, then ``message-end`` with finish_reason ERROR
``error-<status>``           that status with a ``{"id", "message"}`` body (400, 401, 404,
                             429 — Cohere sends no retry hint —, 498 invalid token, 500, 503)
``finish-error``             a 200 reply whose finish_reason is ERROR
``badjson``                  500 with an HTML body
``leaky``                    401 whose message quotes the key

Tools (tests/fakes/tools.py): OpenAI-shaped ``tools``, ``tool_choice`` only REQUIRED or NONE,
assistant ``tool_calls`` with string arguments, ``tool`` messages naming an earlier call by
``tool_call_id``. A request offering tools is answered with a ``tool_plan`` and a call
(finish_reason TOOL_CALL; streamed as ``tool-plan-delta``, ``tool-call-start``,
``tool-call-delta``..., ``tool-call-end``), one ending with a result with text.

``usage.tokens`` follows the suite's convention (prompt = words of all messages, plus
``cached_tokens`` = prompt // 2 once prompt >= 8); ``billed_units`` is deliberately smaller
(Cohere bills fewer tokens than the model sees), so a test can tell which one was read.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from tests.fakes.listing import page
from tests.fakes.openai import echo_reply
from tests.fakes.server import FakeRequest, FakeServer, Writer
from tests.fakes.structured import native_schema, structured_text
from tests.fakes.tools import (
    ShapeError,
    call_arguments,
    openai_shaped_tools,
    reply_to,
    require,
    split,
)

__all__ = ["FakeCohere"]

_MESSAGES = {
    400: "invalid request: temperature must be between 0 and 1",
    401: "invalid api token",
    404: "model 'no-such-model' not found, make sure the correct model ID was used",
    429: "You are past the per minute request limit, please wait and try again later.",
    498: "invalid api token",
    500: "internal server error, this has been reported to our developers",
    503: "service unavailable",
}


class FakeCohere:
    def __init__(self, *, delay: float = 0.05) -> None:
        self.delay = delay
        self.script: list[str] = []
        self.models = ["command-fake", "echo"]
        self.page_size: int | None = None  # set to force the model list into pages
        self.server = FakeServer(self.handle)

    def start(self) -> FakeCohere:
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

    def error(self, w: Writer, status: int, message: str | None = None) -> None:
        body = {"id": "fake-error-id", "message": message or _MESSAGES.get(status, "error")}
        w.respond(status, body)

    def list_models(self, request: FakeRequest, w: Writer) -> None:
        """``GET /v1/models?endpoint=&page_size=&page_token=`` (WIRE.md section 6)."""
        query = {k: v[0] for k, v in request.query.items()}
        token = query.get("page_token", "")
        start = int(token) if token.isdigit() else 0
        chunk, more = page(self.models, query.get("page_size"), self.page_size, start)
        models = [
            {
                "name": m,
                "endpoints": ["generate", "chat", "summarize"],
                "finetuned": False,
                "context_length": 256000,
                "tokenizer_url": f"https://storage.googleapis.com/cohere-public/tokenizers/{m}.json",
                "default_endpoints": ["chat"],
                "features": ["tools", "json_mode", "json_schema"],
            }
            for m in chunk
        ]
        w.respond(200, {"models": models, "next_page_token": None if more is None else str(more)})

    async def handle(self, request: FakeRequest, w: Writer) -> None:
        if not request.headers.get("authorization", "").startswith("Bearer "):
            self.error(w, 401, "no api key supplied")
        elif request.method == "GET" and request.path == "/v1/models":
            self.list_models(request, w)
        elif request.method == "POST" and request.path == "/v2/embed":
            body = request.json()
            rows = [[float(len(t)), 0.25] for t in body["texts"]]
            w.respond(
                200,
                {
                    "id": "fake-embed",
                    "embeddings": {"float": rows},
                    "texts": body["texts"],
                    "meta": {"api_version": {"version": "2"}},
                    "response_type": "embeddings_by_type",
                },
            )
        elif request.method == "POST" and request.path == "/v2/chat":
            await self.chat(request, w)
        else:
            self.error(w, 404, f"no route {request.method} {request.path}")

    def usage(self, body: dict[str, Any], text: str) -> dict[str, Any]:
        prompt = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
        out = len(text.split())
        return {
            "billed_units": {"input_tokens": max(prompt - 2, 0), "output_tokens": out - 1},
            "tokens": {"input_tokens": prompt, "output_tokens": out},
            "cached_tokens": prompt // 2 if prompt >= 8 else 0,
        }

    async def chat(self, request: FakeRequest, w: Writer) -> None:
        body = request.json()
        behaviour = self.script.pop(0) if self.script else str(body.get("model", "echo"))
        if behaviour.startswith("error-"):
            self.error(w, int(behaviour.removeprefix("error-")))
            return
        if behaviour == "badjson":
            w.respond(
                500, "<html><body>Internal Server Error</body></html>", content_type="text/html"
            )
            return
        if behaviour == "leaky":
            key = request.headers.get("authorization", "").removeprefix("Bearer ")
            self.error(w, 401, f"invalid api token: {key}")
            return
        schema, problem = native_schema(body, "cohere")
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
        usage = self.usage(body, text)
        if behaviour == "slow":
            await asyncio.sleep(self.delay)
        if body.get("stream"):
            await self.stream(w, text, usage, behaviour)
            return
        finish = "ERROR" if behaviour == "finish-error" else "COMPLETE"
        content = [{"type": "text", "text": text}]
        reply = {
            "id": "fake-chat",
            "finish_reason": finish,
            "message": {"role": "assistant", "content": content},
            "usage": usage,
        }
        w.respond(200, reply)

    def tool_plan(self, body: dict[str, Any]) -> tuple[str, dict[str, Any]] | str | None:
        """A call to answer with (name, arguments), text answering a tool's result, or None."""
        messages = body.get("messages", [])
        ids: set[str] = set()
        for i, m in enumerate(messages):
            for j, c in enumerate(m.get("tool_calls") or ()):
                where = f"messages[{i}].tool_calls[{j}]"
                require(m.get("role") == "assistant", f"{where}: only assistant messages call")
                require(isinstance((c.get("function") or {}).get("arguments"), str), where)
                ids.add(str(c.get("id")))
            if m.get("role") == "tool":
                require(m.get("tool_call_id") in ids, f"messages[{i}].tool_call_id: unknown call")
        if messages and messages[-1].get("role") == "tool":
            return reply_to(messages[-1].get("content"))
        if body.get("tools") is None:
            return None
        tools = dict(openai_shaped_tools(body["tools"]))
        choice = body.get("tool_choice")
        require(choice in (None, "REQUIRED", "NONE"), "tool_choice: must be REQUIRED or NONE")
        if choice == "NONE":
            return None
        name = next(iter(tools))
        return name, call_arguments(tools[name], echo_reply(body).removeprefix("echo: "))

    async def call_tool(
        self, w: Writer, body: dict[str, Any], name: str, arguments: dict[str, Any]
    ) -> None:
        text = json.dumps(arguments)
        usage = self.usage(body, text)
        plan = f"I will call {name}."
        call = {"id": "fake_call_0", "type": "function"}
        if not body.get("stream"):
            message = {"role": "assistant", "tool_plan": plan}
            message["tool_calls"] = [{**call, "function": {"name": name, "arguments": text}}]
            reply = {"id": "fake-chat", "finish_reason": "TOOL_CALL", "message": message}
            w.respond(200, {**reply, "usage": usage})
            return

        def event(kind: str, data: dict[str, Any]) -> str:
            return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n"

        def calls(value: dict[str, Any]) -> dict[str, Any]:
            return {"message": {"tool_calls": value}}

        w.start_stream()
        start = {"role": "assistant", "content": [], "tool_plan": "", "tool_calls": []}
        w.chunk(event("message-start", {"id": "fake-chat", "delta": {"message": start}}))
        w.chunk(event("tool-plan-delta", {"delta": {"message": {"tool_plan": plan}}}))
        head = {**call, "function": {"name": name, "arguments": ""}}
        w.chunk(event("tool-call-start", {"index": 0, "delta": calls(head)}))
        for piece in split(text):
            delta = calls({"function": {"arguments": piece}})
            w.chunk(event("tool-call-delta", {"index": 0, "delta": delta}))
        w.chunk(event("tool-call-end", {"index": 0}))
        end = {"finish_reason": "TOOL_CALL", "usage": usage}
        w.chunk(event("message-end", {"id": "fake-chat", "delta": end}))
        w.end_stream()

    async def stream(self, w: Writer, text: str, usage: dict[str, Any], behaviour: str) -> None:
        def event(name: str, data: dict[str, Any]) -> str:
            return f"event: {name}\ndata: {json.dumps({'type': name, **data})}\n\n"

        w.start_stream()
        start = {"role": "assistant", "content": [], "tool_plan": "", "tool_calls": []}
        w.chunk(event("message-start", {"id": "fake-chat", "delta": {"message": start}}))
        empty = {"message": {"content": {"type": "text", "text": ""}}}
        w.chunk(event("content-start", {"index": 0, "delta": empty}))
        words = text.split(" ")
        pieces = [p + (" " if i < len(words) - 1 else "") for i, p in enumerate(words)]
        cut = max(len(pieces) // 2, 1)
        for i, piece in enumerate(pieces):
            if behaviour in ("truncated", "reset", "midstream-error") and i == cut:
                break
            delta = {"message": {"content": {"text": piece}}}
            w.chunk(event("content-delta", {"index": 0, "delta": delta}))
            await asyncio.sleep(self.delay if behaviour == "slow" else 0.0)
        if behaviour == "truncated":
            w.end_stream()
            return
        if behaviour == "reset":
            await asyncio.sleep(0.01)
            w.reset()
            return
        if behaviour == "midstream-error":
            end = {"finish_reason": "ERROR", "error": "internal error while generating"}
            w.chunk(event("message-end", {"id": "fake-chat", "delta": end}))
            w.end_stream()
            return
        w.chunk(event("content-end", {"index": 0}))
        end = {"finish_reason": "COMPLETE", "usage": usage}
        w.chunk(event("message-end", {"id": "fake-chat", "delta": end}))
        w.end_stream()
