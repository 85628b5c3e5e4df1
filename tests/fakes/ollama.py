"""A fake Ollama server, native API (WIRE.md section 5): ``/api/chat`` (NDJSON), ``/api/tags``,
``/api/embed``, ``/api/version``.

``stream`` defaults to true, as in Ollama. No key is needed; a Bearer header is recorded.
Behaviour is chosen by the model name:

``echo`` (any unknown name)  ``echo: <last user message>``, word by word when streaming
``slow``                     echo, sleeping ``delay`` before answering and between lines
``truncated``                streams some lines, then ends the body without ``"done": true``
``reset``                    streams some lines, then resets the TCP connection
``midstream-error``          streams some lines, then an ``{"error": "..."}`` line
``error-<status>``           that status with ``{"error": "..."}`` (400, 401, 404 ``model
                             '<name>' not found``, 429 with no retry hint, 500, 502, 503)
``badjson``                  500 with a plain-text body
``leaky``                    401 whose message quotes the Bearer token

Usage: ``prompt_eval_count`` = words of all messages, ``eval_count`` = words of the answer;
Ollama reports no cache split.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from tests.fakes.openai import echo_reply
from tests.fakes.server import FakeRequest, FakeServer, Writer
from tests.fakes.structured import native_schema, structured_text
from tests.fakes.tools import (
    ShapeError,
    call_arguments,
    openai_shaped_tools,
    reply_to,
    require,
)

__all__ = ["FakeOllama"]

_ERRORS = {
    400: "invalid options: temperature",
    401: "unauthorized",
    429: "too many requests, please retry later",
    500: "llama runner process has terminated: exit status 2",
    502: "an error was encountered while running the model",
    503: "server busy, please try again. maximum pending requests exceeded",
}


class FakeOllama:
    """Tools (tests/fakes/tools.py): OpenAI-shaped ``tools`` (no ``tool_choice``: Ollama has
    none), assistant ``tool_calls`` whose arguments are an *object*, ``tool`` messages naming
    their tool in ``tool_name``. A request offering tools is answered with a whole call (no id)
    in a line before the ``done`` one; one ending with a result with text."""

    def __init__(self, *, delay: float = 0.05) -> None:
        self.delay = delay
        self.script: list[str] = []
        self.models = ["llama3.2:latest", "echo:latest"]
        self.server = FakeServer(self.handle)

    def start(self) -> FakeOllama:
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
        if request.method == "GET" and request.path == "/api/tags":
            details = {
                "parent_model": "",
                "format": "gguf",
                "family": "llama",
                "families": ["llama"],
                "parameter_size": "3.2B",
                "quantization_level": "Q4_K_M",
            }
            models = [
                {
                    "name": m,
                    "model": m,
                    "modified_at": "2025-05-20T10:00:00.000000000+02:00",
                    "size": 2019393189,
                    "digest": "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72",
                    "details": details,
                }
                for m in self.models
            ]
            w.respond(200, {"models": models})
        elif request.method == "GET" and request.path == "/api/version":
            w.respond(200, {"version": "0.12.0"})
        elif request.method == "POST" and request.path == "/api/embed":
            body = request.json()
            inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
            rows = [[float(len(str(t))), 1.0] for t in inputs]
            w.respond(200, {"model": body["model"], "embeddings": rows, "prompt_eval_count": 3})
        elif request.method == "POST" and request.path == "/api/chat":
            await self.chat(request, w)
        else:
            w.respond(404, "404 page not found", content_type="text/plain")

    def tool_plan(self, body: dict[str, Any]) -> tuple[str, dict[str, Any]] | str | None:
        messages = body.get("messages", [])
        require("tool_choice" not in body, 'json: unknown field "tool_choice"')
        called: set[str] = set()
        for i, m in enumerate(messages):
            for c in m.get("tool_calls") or ():
                fn = c.get("function") or {}
                require(
                    isinstance(fn.get("arguments"), dict),
                    f"messages[{i}]: json: cannot unmarshal string into Go struct field "
                    "ToolCallFunction.arguments of type api.ToolCallFunctionArguments",
                )
                called.add(str(fn.get("name")))
            if m.get("role") == "tool":
                require(m.get("tool_name") in called, f"messages[{i}]: tool_name names no call")
        if messages and messages[-1].get("role") == "tool":
            return reply_to(messages[-1].get("content"))
        if body.get("tools") is None:
            return None
        tools = dict(openai_shaped_tools(body["tools"]))
        name = next(iter(tools))
        return name, call_arguments(tools[name], echo_reply(body).removeprefix("echo: "))

    async def chat(self, request: FakeRequest, w: Writer) -> None:
        body = request.json()
        model = str(body.get("model", "echo"))
        behaviour = self.script.pop(0) if self.script else model
        if behaviour.startswith("error-"):
            status = int(behaviour.removeprefix("error-"))
            message = (
                f"model '{model}' not found" if status == 404 else _ERRORS.get(status, "error")
            )
            w.respond(status, {"error": message})
            return
        if behaviour == "badjson":
            w.respond(500, "Internal Server Error", content_type="text/plain")
            return
        if behaviour == "leaky":
            key = request.headers.get("authorization", "").removeprefix("Bearer ")
            w.respond(401, {"error": f"unauthorized: invalid key {key}"})
            return
        schema, problem = native_schema(body, "ollama")
        if problem:
            w.respond(400, {"error": problem})
            return
        try:
            plan = self.tool_plan(body)
        except ShapeError as exc:
            w.respond(400, {"error": str(exc)})
            return
        calls: list[dict[str, Any]] = []
        if isinstance(plan, tuple):
            calls = [{"function": {"name": plan[0], "arguments": plan[1]}}]
        if isinstance(plan, str):
            text = plan
        elif calls:
            text = ""
        else:
            text = echo_reply(body) if schema is None else structured_text(schema, behaviour)
        stats = {
            "total_duration": 4883583458,
            "load_duration": 1334875,
            "prompt_eval_count": sum(
                len(str(m.get("content", "")).split()) for m in body.get("messages", [])
            ),
            "prompt_eval_duration": 342546000,
            "eval_count": len(text.split()),
            "eval_duration": 4535599000,
        }
        if behaviour == "slow":
            await asyncio.sleep(self.delay)
        created = "2025-07-07T20:22:19.184789Z"
        if calls:  # whole, in the one line before the final one (or in the reply)
            message: dict[str, Any] = {"role": "assistant", "content": "", "tool_calls": calls}
            if not body.get("stream", True):
                reply = {"model": model, "created_at": created, "message": message, "done": True}
                w.respond(200, {**reply, "done_reason": "stop", **stats})
                return
            w.start_stream(content_type="application/x-ndjson")
            line = {"model": model, "created_at": created, "message": message, "done": False}
            w.chunk(json.dumps(line) + "\n")
            final = {"model": model, "created_at": created, "done": True, "done_reason": "stop"}
            final["message"] = {"role": "assistant", "content": ""}
            w.chunk(json.dumps({**final, **stats}) + "\n")
            w.end_stream()
            return
        if not body.get("stream", True):
            message = {"role": "assistant", "content": text}
            reply = {"model": model, "created_at": created, "message": message, "done": True}
            w.respond(200, {**reply, "done_reason": "stop", **stats})
            return
        w.start_stream(content_type="application/x-ndjson")
        words = text.split(" ")
        pieces = [p + (" " if i < len(words) - 1 else "") for i, p in enumerate(words)]
        cut = max(len(pieces) // 2, 1)
        for i, piece in enumerate(pieces):
            if behaviour in ("truncated", "reset", "midstream-error") and i == cut:
                break
            line = {"model": model, "created_at": created, "done": False}
            line["message"] = {"role": "assistant", "content": piece}
            w.chunk(json.dumps(line) + "\n")
            await asyncio.sleep(self.delay if behaviour == "slow" else 0.0)
        if behaviour == "truncated":
            w.end_stream()
            return
        if behaviour == "reset":
            await asyncio.sleep(0.01)
            w.reset()
            return
        if behaviour == "midstream-error":
            w.chunk(
                json.dumps({"error": "an error was encountered while running the model"}) + "\n"
            )
            w.end_stream()
            return
        final = {"model": model, "created_at": created, "done": True, "done_reason": "stop"}
        final["message"] = {"role": "assistant", "content": ""}
        w.chunk(json.dumps({**final, **stats}) + "\n")
        w.end_stream()
