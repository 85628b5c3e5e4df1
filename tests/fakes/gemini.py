"""A fake Gemini Developer API server (WIRE.md section 4), byte-faithful.

Routes both ``/v1`` and ``/v1beta`` (google-genai 3.x defaults to v1, 2.x to v1beta), with
the model in the path: ``models/{m}:generateContent``, ``:streamGenerateContent?alt=sse``,
``:batchEmbedContents`` and ``GET models``. SSE lines end in CRLF, as Google's do, and each
event is split across two TCP chunks (mid-CRLF) to exercise buffering. There is no end
marker: a stream ends after the chunk with ``finishReason``. Like the real API it refuses a
request without ``x-goog-api-key`` (403). Behaviour is chosen by the model name:

``echo`` (any unknown name)  ``echo: <last user message>``, word by word when streaming
``slow``                     echo, sleeping ``delay`` before answering and between chunks
``truncated``                streams some chunks (with running usage), never a finishReason
``reset``                    streams some text, then resets the TCP connection
``midstream-error``          streams some text, then a pretty-printed error JSON *without*
                             ``data:``, as Google sends errors after a 200
``error-<status>``           that status with a ``google.rpc.Status`` body (400, 401, 403, 404,
                             429 RESOURCE_EXHAUSTED with ``RetryInfo.retryDelay: "12s"``, 500,
                             503 UNAVAILABLE, 504)
``badkey``                   400 INVALID_ARGUMENT with ErrorInfo ``API_KEY_INVALID`` (how
                             Gemini really rejects a key)
``safety``                   a candidate with finishReason SAFETY and no content
``blocked``                  no candidates, ``promptFeedback.blockReason: SAFETY``
``thinking``                 echo, with ``thoughtsTokenCount: 3`` (billed as output)
``badjson``                  500 with an HTML body
``leaky``                    400 API_KEY_INVALID whose message quotes the key

Parts are checked as the real API checks them: each holds exactly one of ``text`` or
``inlineData`` (``{mimeType, data}``; proto JSON also takes the snake_case names); anything
else is a 400 INVALID_ARGUMENT naming the field. Images received are kept in ``images`` as
``(mime_type, data)``. Tools (tests/fakes/tools.py): ``tools[].functionDeclarations`` with
``parameters`` or ``parametersJsonSchema`` (not both), ``toolConfig.functionCallingConfig``
(mode AUTO, ANY, NONE or VALIDATED), ``functionCall`` parts only in model turns and
``functionResponse`` parts (by the tool's name, ``response`` an object) in the user turn after
them, as many as there were calls. A request offering tools is answered with a
``functionCall`` part (finishReason STOP, no id: Gemini gives none), one ending with results
with text.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from tests.fakes.listing import page
from tests.fakes.server import FakeRequest, FakeServer, Writer
from tests.fakes.structured import native_schema, structured_text
from tests.fakes.tools import ShapeError, call_arguments, reply_to, require

__all__ = ["FakeGemini"]

_ROUTE = re.compile(r"^/(v1|v1beta)/models/([^/:]+):(\w+)$")
_STATUS = {
    400: ("INVALID_ARGUMENT", "Invalid JSON payload received."),
    401: ("UNAUTHENTICATED", "Request had invalid authentication credentials."),
    403: ("PERMISSION_DENIED", "Method doesn't allow unregistered callers."),
    404: ("NOT_FOUND", "models/no-such-model is not found for API version v1beta."),
    429: ("RESOURCE_EXHAUSTED", "You exceeded your current quota. Please retry in 12s."),
    500: ("INTERNAL", "An internal error has occurred."),
    503: ("UNAVAILABLE", "The model is overloaded. Please try again later."),
    504: ("DEADLINE_EXCEEDED", "Deadline expired before operation could complete."),
}


def _text(content: dict[str, Any]) -> str:
    return " ".join(str(p.get("text", "")) for p in content.get("parts", []) if "text" in p)


def error_body(status: int, message: str | None = None, details: Any = ()) -> dict[str, Any]:
    code, default = _STATUS.get(status, ("UNKNOWN", "error"))
    error = {"code": status, "message": message or default, "status": code}
    if details:
        error["details"] = list(details)
    return {"error": error}


def _model(name: str) -> dict[str, Any]:
    """One ``Model`` as Google lists it (an embedding model has its own methods, no chat)."""
    embedding = "embedding" in name
    row: dict[str, Any] = {
        "name": f"models/{name}",
        "version": "001",
        "displayName": name.replace("-", " ").title(),
        "description": f"The fake {name}",
        "inputTokenLimit": 2048 if embedding else 1048576,
        "outputTokenLimit": 1 if embedding else 65536,
        "supportedGenerationMethods": (
            ["embedContent", "countTextTokens"]
            if embedding
            else ["generateContent", "countTokens", "createCachedContent"]
        ),
    }
    if not embedding:
        row |= {"temperature": 1, "topP": 0.95, "topK": 64, "maxTemperature": 2, "thinking": True}
    return row


class FakeGemini:
    def __init__(self, *, delay: float = 0.05) -> None:
        self.delay = delay
        self.script: list[str] = []
        self.models = ["gemini-fake", "echo", "text-embedding-fake"]
        self.page_size: int | None = None  # set to force the model list into pages
        self.images: list[tuple[str, str]] = []
        self.server = FakeServer(self.handle)

    def start(self) -> FakeGemini:
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

    def list_models(self, request: FakeRequest, w: Writer) -> None:
        """``GET models?pageSize=&pageToken=`` (WIRE.md 4.5); names carry ``models/``."""
        query = {k: v[0] for k, v in request.query.items()}
        token = query.get("pageToken", "")
        start = int(token.removeprefix("p")) if token.startswith("p") else 0
        chunk, more = page(self.models, query.get("pageSize"), self.page_size, start)
        body: dict[str, Any] = {"models": [_model(m) for m in chunk]}
        if more is not None:
            body["nextPageToken"] = f"p{more}"
        w.respond(200, body)

    async def handle(self, request: FakeRequest, w: Writer) -> None:
        if not request.headers.get("x-goog-api-key"):
            w.respond(403, error_body(403))
            return
        if request.method == "GET" and request.path in ("/v1/models", "/v1beta/models"):
            self.list_models(request, w)
            return
        route = _ROUTE.match(request.path)
        if request.method != "POST" or route is None:
            w.respond(404, error_body(404, f"no route {request.method} {request.path}"))
            return
        model, method = route.group(2), route.group(3)
        if method == "batchEmbedContents":
            rows = request.json()["requests"]
            embeddings = [{"values": [float(len(_text(r["content"]))), 0.5]} for r in rows]
            w.respond(200, {"embeddings": embeddings})
        elif method in ("generateContent", "streamGenerateContent"):
            await self.generate(request, w, model, stream=method == "streamGenerateContent")
        else:
            w.respond(404, error_body(404, f"unknown method {method}"))

    def error(self, w: Writer, status: int) -> None:
        if status == 429:
            details = [
                {
                    "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                    "violations": [{"quotaMetric": "generate_content_free_tier_requests"}],
                },
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "12s"},
            ]
            w.respond(429, error_body(429, details=details))
        else:
            w.respond(status, error_body(status))

    def bad_key(self, w: Writer, message: str) -> None:
        info = {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "API_KEY_INVALID",
            "domain": "googleapis.com",
            "metadata": {"service": "generativelanguage.googleapis.com"},
        }
        w.respond(400, error_body(400, message, [info]))

    def usage(self, body: dict[str, Any], text: str, thoughts: int) -> dict[str, Any]:
        prompt = len(_text(body.get("systemInstruction") or {}).split()) + sum(
            len(_text(c).split()) for c in body.get("contents", [])
        )
        cached = prompt // 2 if prompt >= 8 else 0
        out = len(text.split())
        usage = {"promptTokenCount": prompt, "candidatesTokenCount": out}
        usage["totalTokenCount"] = prompt + out + thoughts
        if cached:  # proto3 JSON omits zero fields
            usage["cachedContentTokenCount"] = cached
        if thoughts:
            usage["thoughtsTokenCount"] = thoughts
        return usage

    async def generate(self, request: FakeRequest, w: Writer, model: str, stream: bool) -> None:
        body = request.json()
        key = request.headers.get("x-goog-api-key", "")
        behaviour = self.script.pop(0) if self.script else model
        if behaviour.startswith("error-"):
            self.error(w, int(behaviour.removeprefix("error-")))
            return
        if behaviour in ("badkey", "leaky"):
            quoted = f": {key}" if behaviour == "leaky" else ""
            self.bad_key(w, f"API key not valid{quoted}. Please pass a valid API key.")
            return
        if behaviour == "badjson":
            w.respond(500, "<html><body>Internal Error</body></html>", content_type="text/html")
            return
        problem = self.check_parts(body)
        if problem:
            w.respond(400, error_body(400, problem))
            return
        schema, problem = native_schema(body, "gemini")
        if problem:
            w.respond(400, error_body(400, problem))
            return
        users = [c for c in body.get("contents", []) if c.get("role") == "user"]
        text = f"echo: {_text(users[-1]) if users else ''}"
        if schema is not None:
            text = structured_text(schema, behaviour)
        try:
            plan = self.tool_plan(body, text.removeprefix("echo: "))
        except ShapeError as exc:
            w.respond(400, error_body(400, str(exc)))
            return
        if isinstance(plan, tuple):
            name, args = plan
            chunk = self.chunk("", "STOP", self.usage(body, json.dumps(args), 0))
            chunk["candidates"][0]["content"]["parts"] = [
                {"functionCall": {"name": name, "args": args}}
            ]
            await self.send(w, [chunk], stream)
            return
        text = plan if plan is not None else text
        usage = self.usage(body, text, 3 if behaviour == "thinking" else 0)
        if behaviour == "slow":
            await asyncio.sleep(self.delay)
        if behaviour == "blocked":
            reply: dict[str, Any] = {"promptFeedback": {"blockReason": "SAFETY"}}
            reply["usageMetadata"] = usage
            await self.send(w, [reply], stream)
            return
        if behaviour == "safety":
            ratings = [{"category": "HARM_CATEGORY_HARASSMENT", "probability": "HIGH"}]
            candidate = {"finishReason": "SAFETY", "index": 0, "safetyRatings": ratings}
            await self.send(w, [{"candidates": [candidate], "usageMetadata": usage}], stream)
            return
        if not stream:
            await self.send(w, [self.chunk(text, "STOP", usage)], stream=False)
            return
        words = text.split(" ")
        pieces = [p + (" " if i < len(words) - 1 else "") for i, p in enumerate(words)]
        cut = max(len(pieces) // 2, 1)
        running = {k: v for k, v in usage.items() if k == "promptTokenCount"}
        chunks = [self.chunk(p, None, running) for p in pieces]
        chunks[-1] = self.chunk(pieces[-1], "STOP", usage)
        if behaviour in ("truncated", "reset", "midstream-error"):
            chunks = chunks[:cut]
        await self.send(w, chunks, stream=True, behaviour=behaviour)

    def check_parts(self, body: dict[str, Any]) -> str | None:
        """What the real API would refuse in the contents' parts, or None."""
        for i, content in enumerate(body.get("contents", [])):
            for j, part in enumerate(content.get("parts", [])):
                where = f"contents[{i}].parts[{j}]"
                keys = set(part) if isinstance(part, dict) else set()
                if keys == {"text"} and isinstance(part["text"], str):
                    continue
                if keys in ({"functionCall"}, {"functionResponse"}):
                    continue  # tool_plan checks these
                # Proto JSON takes either spelling of a field name.
                name = next(iter(keys)) if len(keys) == 1 else ""
                inline = part.get(name) if name in ("inlineData", "inline_data") else None
                mime = inline.get("mimeType", inline.get("mime_type")) if inline else None
                if not isinstance(inline, dict) or len(inline) != 2 or "data" not in inline:
                    return f"Invalid JSON payload received. Unknown name or value at '{where}'"
                if not str(mime).startswith("image/") or not inline["data"]:
                    return f"{where}.inline_data: Unsupported MIME type or empty data"
                self.images.append((str(mime), inline["data"]))
        return None

    def tool_plan(self, body: dict[str, Any], user: str) -> tuple[str, dict[str, Any]] | str | None:
        """A call to answer with (name, args), text answering functions' results, or None."""
        contents = body.get("contents", [])
        calls: list[str] = []  # the functionCall names of the model turn just before
        for i, content in enumerate(contents):
            parts = content.get("parts", [])
            role = content.get("role")
            require(role in ("user", "model"), f"contents[{i}].role: Please use a valid role")
            made = [p["functionCall"] for p in parts if "functionCall" in p]
            answers = [p["functionResponse"] for p in parts if "functionResponse" in p]
            require(not made or role == "model", f"contents[{i}]: functionCall in a user turn")
            for call in made:
                require(isinstance(call.get("args", {}), dict), f"contents[{i}]: args: a Struct")
            if answers:
                require(role == "user", f"contents[{i}]: functionResponse in a model turn")
                require(
                    len(answers) == len(calls),
                    "Please ensure that the number of function response parts is equal to the "
                    "number of function call parts of the function call turn.",
                )
                for answer in answers:
                    require(
                        answer.get("name") in calls,
                        f"contents[{i}]: no call named {answer.get('name')!r}",
                    )
                    require(
                        isinstance(answer.get("response"), dict),
                        f"contents[{i}]: response: a Struct",
                    )
            calls = [str(c.get("name")) for c in made]
        last = contents[-1].get("parts", []) if contents else []
        results = [p["functionResponse"]["response"] for p in last if "functionResponse" in p]
        if results:
            return reply_to(results[-1])
        if body.get("tools") is None:
            return None
        schemas: dict[str, Any] = {}
        for i, tool in enumerate(body["tools"]):
            for j, fn in enumerate(tool.get("functionDeclarations") or []):
                where = f"tools[{i}].function_declarations[{j}]"
                require(
                    not ("parameters" in fn and "parametersJsonSchema" in fn),
                    f"{where}: parameters and parameters_json_schema are mutually exclusive",
                )
                schemas[str(fn.get("name"))] = fn.get("parametersJsonSchema", fn.get("parameters"))
        require(bool(schemas), "tools[0]: no function_declarations")
        config = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
        mode = config.get("mode", "AUTO")
        require(
            mode in ("AUTO", "ANY", "NONE", "VALIDATED"), f"function_calling_config.mode: {mode}"
        )
        if mode == "NONE":
            return None
        allowed = config.get("allowedFunctionNames")
        require(allowed is None or mode == "ANY", "allowed_function_names needs mode ANY")
        name = (allowed or list(schemas))[0]
        require(name in schemas, f"allowed_function_names: no function {name!r}")
        return name, call_arguments(schemas[name], user)

    def chunk(self, text: str, finish: str | None, usage: dict[str, Any]) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": text}]}}
        if finish:
            candidate["finishReason"] = finish
        candidate["index"] = 0
        return {
            "candidates": [candidate],
            "usageMetadata": usage,
            "modelVersion": "gemini-fake-001",
            "responseId": "fake-response",
        }

    async def send(
        self, w: Writer, chunks: list[dict[str, Any]], stream: bool, behaviour: str = ""
    ) -> None:
        if not stream:
            w.respond(200, chunks[0])
            return
        w.start_stream()
        for chunk in chunks:
            event = f"data: {json.dumps(chunk, separators=(',', ':'))}\r\n\r\n".encode()
            half = len(event) - 3  # split between the \r and \n of the blank line
            w.chunk(event[:half])
            await asyncio.sleep(0)
            w.chunk(event[half:])
            await asyncio.sleep(self.delay if behaviour == "slow" else 0.0)
        if behaviour == "reset":
            await asyncio.sleep(0.01)
            w.reset()
            return
        if behaviour == "midstream-error":
            pretty = json.dumps(error_body(503), indent=2).replace("\n", "\r\n")
            w.chunk(pretty + "\r\n")
        w.end_stream()
