"""A fake OpenAI chat-completions server (WIRE.md section 2), byte-faithful.

Behaviour is chosen by the requested model name, so an end-to-end test picks it from the
command line (``superllm ask -m fake/truncated ...``):

``echo`` (any unknown name)  answers ``echo: <last user message>``, word by word when streaming
``slow``                     echo with ``delay`` seconds between chunks
``stall``                    streams its first word, then never another (until cut off)
``truncated``                streams some text, then ends the body without finish_reason/[DONE]
``reset``                    streams some text, then resets the TCP connection
``midstream-error``          streams some text, then an in-band ``{"error": ...}`` event
``error-<status>``           answers that status with an OpenAI error body (401, 403, 404,
                             429 with retry-after, 500, 503)
``quota``                    429 ``insufficient_quota`` (not worth retrying)
``badjson``                  500 with an HTML body
``leaky``                    401 whose message quotes the key, as OpenAI's does

Tools (tests/fakes/tools.py): ``tools`` and ``tool_choice`` are checked as OpenAI checks them,
so are the assistant turns' ``tool_calls`` and each ``tool`` turn's ``tool_call_id`` (it must
name an earlier call); a request offering tools is answered with a call (``finish_reason``
``tool_calls``, streamed as OpenAI fragments it), one ending with a result with text.

``FakeOpenAI.script`` queues behaviours for the next requests whatever the model (retry
tests), and ``reply`` can be replaced to make a fake *agent* (see tests/fakes/agents.py).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

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

__all__ = ["FakeOpenAI", "echo_reply"]


def echo_reply(body: dict[str, Any]) -> str:
    users = [m for m in body.get("messages", []) if m.get("role") == "user"]
    content = users[-1]["content"] if users else ""
    if isinstance(content, list):
        content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return f"echo: {content}"


def _count_tokens(text: str) -> int:
    return max(len(text.split()), 1)


_ERRORS = {
    400: ("invalid_request_error", None, "Invalid value for 'temperature'."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: (
        "invalid_request_error",
        "unsupported_country_region_territory",
        "Country not supported.",
    ),
    404: ("invalid_request_error", "model_not_found", "The model does not exist."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached. Please try again in 1s."),
    500: ("server_error", None, "The server had an error while processing your request."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}


class FakeOpenAI:
    vendor = "openai"  # whose structured-output field it reads (tests.fakes.structured)

    def __init__(self, *, delay: float = 0.05, path_prefix: str = "/v1") -> None:
        self.delay = delay
        self.prefix = path_prefix
        self.script: list[str] = []
        self.reply: Callable[[dict[str, Any]], str] = echo_reply
        self.models = ["gpt-fake", "echo"]
        self.server = FakeServer(self.handle)

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> FakeOpenAI:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    @property
    def base_url(self) -> str:
        return self.server.url + self.prefix

    @property
    def requests(self) -> list[FakeRequest]:
        return self.server.requests

    def chat_requests(self) -> list[dict[str, Any]]:
        return [r.json() for r in self.requests if r.path.endswith("/chat/completions")]

    def model_rows(self) -> list[dict[str, Any]]:
        """``GET /models`` items (WIRE.md 2.4); compatible servers add their own keys."""
        return [
            {"id": m, "object": "model", "created": 1700000000, "owned_by": "fake"}
            for m in self.models
        ]

    # -- routing --------------------------------------------------------------------------
    async def handle(self, request: FakeRequest, w: Writer) -> None:
        path = request.path.removeprefix(self.prefix)
        if request.method == "GET" and path == "/models":
            w.respond(200, {"object": "list", "data": self.model_rows()})
        elif request.method == "POST" and path == "/chat/completions":
            await self.chat(request, w)
        elif request.method == "POST" and path == "/embeddings":
            self.embeddings(request, w)
        else:
            w.respond(
                404,
                {
                    "error": {
                        "message": f"no route {request.method} {path}",
                        "type": "invalid_request_error",
                        "param": None,
                        "code": None,
                    }
                },
            )

    def embeddings(self, request: FakeRequest, w: Writer) -> None:
        body = request.json()
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = [
            {"object": "embedding", "index": i, "embedding": _vector(str(t))}
            for i, t in enumerate(inputs)
        ]
        tokens = sum(_count_tokens(str(t)) for t in inputs)
        w.respond(
            200,
            {
                "object": "list",
                "data": data,
                "model": body["model"],
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
        )

    async def chat(self, request: FakeRequest, w: Writer) -> None:
        body = request.json()
        behaviour = self.script.pop(0) if self.script else str(body.get("model", "echo"))
        if behaviour.startswith("error-"):
            self.error(w, int(behaviour.removeprefix("error-")))
            return
        if behaviour == "quota":
            w.respond(
                429,
                {
                    "error": {
                        "message": "You exceeded your current quota.",
                        "type": "insufficient_quota",
                        "param": None,
                        "code": "insufficient_quota",
                    }
                },
            )
            return
        if behaviour == "badjson":
            w.respond(500, "<html><body>502 Bad Gateway</body></html>", content_type="text/html")
            return
        if behaviour == "leaky":
            key = request.headers.get("authorization", "").removeprefix("Bearer ")
            w.respond(
                401,
                {
                    "error": {
                        "message": f"Incorrect API key provided: {key}.",
                        "type": "invalid_request_error",
                        "param": None,
                        "code": "invalid_api_key",
                    }
                },
            )
            return
        schema, problem = native_schema(body, self.vendor)
        if problem:
            w.respond(400, {"error": {"message": problem, "type": "invalid_request_error"}})
            return
        try:
            plan = self.tool_plan(body)
        except ShapeError as exc:
            w.respond(400, {"error": {"message": str(exc), "type": "invalid_request_error"}})
            return
        if isinstance(plan, tuple):
            await self.call_tool(w, body, *plan)
            return
        text = (
            plan
            if plan is not None
            else self.reply(body)
            if schema is None
            else structured_text(schema, behaviour)
        )
        usage = self.usage(body, text)
        if body.get("stream"):
            await self.stream(w, body, text, usage, behaviour)
        else:
            w.respond(200, self.completion(body, text, usage), headers=_ratelimit_headers())

    # -- tools ----------------------------------------------------------------------------
    call_id = "call_fake0"
    tool_modes = ("auto", "none", "required")

    def check_call_id(self, call_id: Any, where: str) -> None:
        require(isinstance(call_id, str) and bool(call_id), f"{where}: a call id is required")

    def tool_plan(self, body: dict[str, Any]) -> tuple[str, dict[str, Any]] | str | None:
        """A call to answer with (name, arguments), text answering a tool's result, or None."""
        messages = body.get("messages", [])
        names: dict[str, str] = {}
        for i, m in enumerate(messages):
            for j, c in enumerate(
                m.get("tool_calls") or () if m.get("role") == "assistant" else ()
            ):
                where = f"messages.{i}.tool_calls.{j}"
                fn = c.get("function") or {}
                require(c.get("type") == "function", f"{where}.type: must be 'function'")
                require(isinstance(fn.get("arguments"), str), f"{where}.function.arguments: str")
                self.check_call_id(c.get("id"), f"{where}.id")
                names[c["id"]] = fn.get("name")
            if m.get("role") == "tool":
                self.check_call_id(m.get("tool_call_id"), f"messages.{i}.tool_call_id")
                require(
                    m["tool_call_id"] in names,
                    f"messages.{i}: a 'tool' message must answer a preceding tool_calls entry",
                )
        if messages and messages[-1].get("role") == "tool":
            return reply_to(messages[-1].get("content"))
        if body.get("tools") is None:
            return None
        tools = dict(openai_shaped_tools(body["tools"]))
        choice = body.get("tool_choice", "auto")
        if isinstance(choice, dict):
            name = (choice.get("function") or {}).get("name")
            require(choice.get("type") == "function" and name in tools, "tool_choice.function")
        else:
            require(choice in self.tool_modes, f"tool_choice: not one of {self.tool_modes}")
            if choice == "none":
                return None
            name = next(iter(tools))
        return name, call_arguments(tools[name], echo_reply(body).removeprefix("echo: "))

    def call_message(self, name: str, arguments: str) -> dict[str, Any]:
        call = {"id": self.call_id, "type": "function"}
        return {**call, "function": {"name": name, "arguments": arguments}}

    async def call_tool(
        self, w: Writer, body: dict[str, Any], name: str, arguments: dict[str, Any]
    ) -> None:
        text = json.dumps(arguments)
        usage = self.usage(body, text)
        if not body.get("stream"):
            reply = self.completion(body, "", usage)
            choice = reply["choices"][0]
            choice["message"] |= {"content": None, "tool_calls": [self.call_message(name, text)]}
            choice["finish_reason"] = "tool_calls"
            w.respond(200, reply)
            return
        w.start_stream()
        base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0}
        base["model"] = body.get("model")

        def event(delta: dict[str, Any], finish: str | None = None, chunk_usage: Any = None) -> str:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            return f"data: {json.dumps({**base, 'choices': [choice], 'usage': chunk_usage})}\n\n"

        w.chunk(event({"role": "assistant", "content": None}))
        first = self.call_message(name, "")
        w.chunk(event({"tool_calls": [{"index": 0, **first}]}))
        for piece in split(text):
            w.chunk(event({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}))
        w.chunk(event({}, "tool_calls"))
        if (body.get("stream_options") or {}).get("include_usage"):
            w.chunk(f"data: {json.dumps({**base, 'choices': [], 'usage': usage})}\n\n")
        w.chunk("data: [DONE]\n\n")
        w.end_stream()

    def error(self, w: Writer, status: int) -> None:
        kind, code, message = _ERRORS.get(status, ("server_error", None, "error"))
        headers = {"retry-after-ms": "10", "retry-after": "0"} if status == 429 else {}
        w.respond(
            status,
            {"error": {"message": message, "type": kind, "param": None, "code": code}},
            headers=headers,
        )

    def usage(self, body: dict[str, Any], text: str) -> dict[str, Any]:
        prompt = sum(_count_tokens(str(m.get("content", ""))) for m in body.get("messages", []))
        completion = _count_tokens(text)
        cached = prompt // 2 if prompt >= 8 else 0
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }

    def completion(self, body: dict[str, Any], text: str, usage: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model"),
            "system_fingerprint": "fp_fake",
            "service_tier": "default",
            "choices": [
                {
                    "index": 0,
                    "logprobs": None,
                    "finish_reason": "stop",
                    "message": {
                        "role": "assistant",
                        "content": text,
                        "refusal": None,
                        "annotations": [],
                    },
                }
            ],
            "usage": usage,
        }

    async def stream(
        self, w: Writer, body: dict[str, Any], text: str, usage: dict[str, Any], behaviour: str
    ) -> None:
        w.start_stream(headers=_ratelimit_headers())
        base = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.get("model"),
            "system_fingerprint": "fp_fake",
        }

        def event(choices: list[dict[str, Any]], chunk_usage: Any = None) -> str:
            return f"data: {json.dumps({**base, 'choices': choices, 'usage': chunk_usage})}\n\n"

        w.chunk(
            event(
                [
                    {
                        "index": 0,
                        "delta": {"role": "assistant", "content": "", "refusal": None},
                        "logprobs": None,
                        "finish_reason": None,
                    }
                ]
            )
        )
        words = text.split(" ")
        pieces = [w_ + (" " if i < len(words) - 1 else "") for i, w_ in enumerate(words)]
        cut = max(len(pieces) // 2, 1)
        for i, piece in enumerate(pieces):
            if behaviour in ("truncated", "reset", "midstream-error") and i == cut:
                break
            w.chunk(
                event(
                    [
                        {
                            "index": 0,
                            "delta": {"content": piece},
                            "logprobs": None,
                            "finish_reason": None,
                        }
                    ]
                )
            )
            delay = self.delay if behaviour == "slow" else 0.0
            await asyncio.sleep(delay)
            if behaviour == "stall":  # mid-answer for good: a call a kill always catches
                await asyncio.sleep(3600)
        if behaviour == "truncated":
            w.end_stream()
            return
        if behaviour == "reset":
            await asyncio.sleep(0.01)
            w.reset()
            return
        if behaviour == "midstream-error":
            error = {"error": {"message": "The server had an error", "type": "server_error"}}
            w.chunk(f"data: {json.dumps(error)}\n\n")
            w.end_stream()
            return
        w.chunk(event([{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}]))
        if (body.get("stream_options") or {}).get("include_usage"):
            w.chunk(event([], usage))
        w.chunk("data: [DONE]\n\n")
        w.end_stream()


def _ratelimit_headers() -> dict[str, str]:
    return {
        "x-request-id": "req_fake",
        "openai-processing-ms": "1",
        "x-ratelimit-limit-requests": "10000",
        "x-ratelimit-remaining-requests": "9999",
        "x-ratelimit-reset-requests": "6ms",
        "x-ratelimit-limit-tokens": "1000000",
        "x-ratelimit-remaining-tokens": "999000",
        "x-ratelimit-reset-tokens": "60ms",
    }


def _vector(text: str, dims: int = 8) -> list[float]:
    import hashlib

    digest = hashlib.sha256(text.encode()).digest()
    return [b / 255.0 for b in digest[:dims]]
