"""A fake Mistral server (WIRE.md section 7): the OpenAI fake with Mistral's differences.

Base URL ends in ``/v1``. Like the real API, unknown body fields are a 422 validation error
(so ``seed`` and ``stream_options`` are refused: Mistral wants ``random_seed`` and sends usage
in the last stream chunk unasked). Errors are Mistral's shapes, not OpenAI's. Behaviours are
those of :class:`tests.fakes.openai.FakeOpenAI` (echo, slow, truncated, reset,
midstream-error, error-<status>, badjson, leaky) plus:

``error-422``      a FastAPI-style ``{"detail": [{"loc", "msg", "type"}]}`` validation error
``model_length``   an answer whose finish_reason is ``model_length``
``finish-error``   a 200 whose finish_reason is ``error``

429 carries no retry hint. ``slow`` also delays a non-streamed answer. Tool calls are
OpenAI's, but call ids must be 9 alphanumeric characters (also the ones sent back),
``tool_choice`` also takes ``any``, and a streamed call arrives whole in one chunk.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

from tests.fakes.openai import FakeOpenAI
from tests.fakes.server import FakeRequest, Writer
from tests.fakes.tools import require

__all__ = ["FakeMistral"]

_KNOWN = {
    "model",
    "messages",
    "temperature",
    "top_p",
    "max_tokens",
    "stream",
    "stop",
    "random_seed",
    "response_format",
    "tools",
    "tool_choice",
    "presence_penalty",
    "frequency_penalty",
    "n",
    "safe_prompt",
    "prompt_mode",
}
_MESSAGES = {
    400: "Invalid request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Invalid model: no-such-model",
    429: "Requests rate limit exceeded",
    500: "Internal server error",
    503: "Service unavailable, please retry",
}


def _detail(loc: list[str], msg: str, kind: str) -> dict[str, Any]:
    return {"detail": [{"type": kind, "loc": loc, "msg": msg, "input": None}]}


def _model(name: str, *, chat: bool) -> dict[str, Any]:
    return {
        "id": name,
        "object": "model",
        "created": 1700000000,
        "owned_by": "mistralai",
        "capabilities": {
            "completion_chat": chat,
            "completion_fim": False,
            "function_calling": chat,
            "fine_tuning": False,
            "vision": False,
            "classification": False,
        },
        "name": name,
        "description": f"The fake {name}",
        "max_context_length": 131072 if chat else 8192,
        "aliases": [],
        "deprecation": None,
        "default_model_temperature": 0.3 if chat else None,
        "type": "base",
    }


class FakeMistral(FakeOpenAI):
    vendor = "mistral"

    def __init__(self, *, delay: float = 0.05) -> None:
        super().__init__(delay=delay, path_prefix="/v1")
        self.models = ["mistral-fake", "echo"]

    def model_rows(self) -> list[dict[str, Any]]:
        """Mistral's ``GET /v1/models``: OpenAI's list, each model with its capabilities and
        window; the embedding model is listed too, with ``completion_chat`` false."""
        return [_model(m, chat=True) for m in self.models] + [_model("mistral-embed", chat=False)]

    def error(self, w: Writer, status: int) -> None:
        if status == 422:
            body = _detail(
                ["body", "temperature"],
                "Input should be less than or equal to 1.5",
                "less_than_equal",
            )
            w.respond(422, body)
            return
        message = _MESSAGES.get(status, "error")
        if status in (401, 429):
            w.respond(status, {"message": message, "request_id": "fake-request"})
            return
        body = {"object": "error", "message": message, "type": "invalid_request_error"}
        w.respond(status, {**body, "param": None, "code": None})

    async def chat(self, request: FakeRequest, w: Writer) -> None:
        body = request.json()
        extra = sorted(set(body) - _KNOWN)
        if extra:
            w.respond(
                422,
                _detail(["body", extra[0]], "Extra inputs are not permitted", "extra_forbidden"),
            )
            return
        behaviour = self.script[0] if self.script else str(body.get("model", "echo"))
        if behaviour == "leaky":
            self.script[:1] = []
            key = request.headers.get("authorization", "").removeprefix("Bearer ")
            w.respond(401, {"message": f"Unauthorized: {key}", "request_id": "fake-request"})
            return
        if behaviour == "slow" and not body.get("stream"):
            await asyncio.sleep(self.delay)
        await super().chat(request, w)

    call_id = "fAk3Ca11x"
    tool_modes = ("auto", "none", "any", "required")

    def check_call_id(self, call_id: Any, where: str) -> None:
        require(
            isinstance(call_id, str) and re.fullmatch(r"[A-Za-z0-9]{9}", call_id) is not None,
            f"{where}: Tool call id was {call_id} but must be a-z, A-Z, 0-9, with a length of 9.",
        )

    async def call_tool(
        self, w: Writer, body: dict[str, Any], name: str, arguments: dict[str, Any]
    ) -> None:
        if not body.get("stream"):
            await super().call_tool(w, body, name, arguments)
            return
        text = json.dumps(arguments)
        w.start_stream()
        base = {"id": "fake", "object": "chat.completion.chunk", "created": int(time.time())}
        base["model"] = body.get("model")
        call = {**self.call_message(name, text), "index": 0}
        choice = {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
        w.chunk(f"data: {json.dumps({**base, 'choices': [choice]})}\n\n")
        # Mistral: the whole call in one chunk, usage beside the finish reason.
        choice = {"index": 0, "delta": {"tool_calls": [call]}, "finish_reason": "tool_calls"}
        usage = self.usage(body, text)
        w.chunk(f"data: {json.dumps({**base, 'choices': [choice], 'usage': usage})}\n\n")
        w.chunk("data: [DONE]\n\n")
        w.end_stream()

    def usage(self, body: dict[str, Any], text: str) -> dict[str, Any]:
        usage = super().usage(body, text)
        return {k: usage[k] for k in ("prompt_tokens", "completion_tokens", "total_tokens")}

    def completion(self, body: dict[str, Any], text: str, usage: dict[str, Any]) -> dict[str, Any]:
        reply = super().completion(body, text, usage)
        reply["choices"][0]["finish_reason"] = _finish(str(body.get("model")))
        return reply

    async def stream(
        self, w: Writer, body: dict[str, Any], text: str, usage: dict[str, Any], behaviour: str
    ) -> None:
        w.start_stream()
        base = {"id": "fake", "object": "chat.completion.chunk", "created": int(time.time())}
        base["model"] = body.get("model")

        def event(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
            choice = {"index": 0, "delta": delta, "finish_reason": finish}
            return f"data: {json.dumps({**base, 'choices': [choice], **extra})}\n\n"

        w.chunk(event({"role": "assistant", "content": ""}))
        words = text.split(" ")
        pieces = [p + (" " if i < len(words) - 1 else "") for i, p in enumerate(words)]
        cut = max(len(pieces) // 2, 1)
        for i, piece in enumerate(pieces):
            if behaviour in ("truncated", "reset", "midstream-error") and i == cut:
                break
            w.chunk(event({"content": piece}))
            await asyncio.sleep(self.delay if behaviour == "slow" else 0.0)
        if behaviour == "truncated":
            w.end_stream()
            return
        if behaviour == "reset":
            await asyncio.sleep(0.01)
            w.reset()
            return
        if behaviour == "midstream-error":
            w.chunk(event({"content": ""}, "error"))
            w.chunk("data: [DONE]\n\n")
            w.end_stream()
            return
        # Mistral: usage rides on the chunk with the finish reason.
        w.chunk(event({"content": ""}, _finish(behaviour), usage=usage))
        w.chunk("data: [DONE]\n\n")
        w.end_stream()


def _finish(behaviour: str) -> str:
    return {"model_length": "model_length", "finish-error": "error"}.get(behaviour, "stop")
