"""The response cache: identical requests at temperature 0 are answered from the ledger.

Identical means the same provider, model, messages (images by hash), temperature, limits,
stop sequences, JSON mode and options. Only temperature 0 qualifies: anything else asks for a
fresh sample, and a request with tools is never cached. A hit is reported to the call hooks
as ``cached`` (cost 0, nothing sent), so a consensus, a debate and a red team on the same
prompt and panel share their first answers.

Entries live ``cache_ttl`` seconds (default one day; ``--cache-ttl``). ``--no-cache`` skips
the lookup but still stores the fresh answer, so the next run may use it. Recent entries are
also kept in memory (bounded), so a run sees what the run before it stored even before the
writer has committed it. With ``[daemon] log_prompts = false`` nothing goes to disk. Entries
older than 30 days are dropped when the daemon starts.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping

from superllmd.errors import SuperllmError
from superllmd.ledger import history
from superllmd.ledger.base import Backend
from superllmd.orchestrator.hooks import CallInfo, CallStatus
from superllmd.providers.base import ChatRequest, Completion, TokenUsage

__all__ = ["DEFAULT_TTL", "ResponseCache", "cache_key"]

DEFAULT_TTL = 86400.0
MEMORY_ENTRIES = 256


def cache_key(provider_id: str, request: ChatRequest) -> str | None:
    """The key of a cacheable request, or None (not at temperature 0)."""
    if request.temperature is None or request.temperature != 0:
        return None
    if request.tools or any(m.tool_calls or m.role == "tool" for m in request.messages):
        return None  # an entry holds text only, never the calls a model asked for
    messages = [
        [
            m.role,
            m.content,
            [hashlib.sha256(a.data.encode()).hexdigest() for a in m.attachments],
        ]
        for m in request.messages
    ]
    shape = {
        "provider": provider_id,
        "model": request.model,
        "messages": messages,
        "temperature": 0,
        "max_tokens": request.max_tokens,
        "stop": list(request.stop),
        "json_output": request.json_output,
        "json_schema": request.json_schema,
        "options": dict(request.options),
    }
    raw = json.dumps(shape, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


class ResponseCache:
    """A CallHook. ``persist(environ)`` says whether answers may be written to disk."""

    def __init__(
        self,
        ledger: Backend | None,
        *,
        persist: Callable[[Mapping[str, str]], bool] = lambda _: True,
        default_ttl: float = DEFAULT_TTL,
        memory_entries: int = MEMORY_ENTRIES,
    ) -> None:
        self.ledger = ledger
        self.persist = persist
        self.default_ttl = default_ttl
        self._memory: OrderedDict[str, tuple[float, Completion]] = OrderedDict()
        self._max = memory_entries

    def _key(self, call: CallInfo) -> str | None:
        key = cache_key(call.target.provider.id, call.request)
        if key is not None:
            call.scratch["cache.key"] = key
        return key

    async def before_call(self, call: CallInfo) -> Completion | None:
        key = self._key(call)
        if key is None or call.run.no_cache:
            return None
        ttl = self.default_ttl if call.run.cache_ttl is None else call.run.cache_ttl
        if ttl <= 0:
            return None
        not_before = time.time() - ttl
        found = self._memory.get(key)
        if found is not None and found[0] >= not_before:
            self._memory.move_to_end(key)
            return found[1]
        if self.ledger is None:
            return None
        row = await self.ledger.read(lambda conn: history.cache_get(conn, key, not_before))
        if row is None:
            return None
        text, tokens_in, tokens_out, tokens_cached, finish_reason, model = row
        completion = Completion(
            text, TokenUsage(tokens_in, tokens_out, tokens_cached), finish_reason, model
        )
        self._remember(key, time.time(), completion)
        return completion

    def after_call(
        self,
        call: CallInfo,
        status: CallStatus,
        completion: Completion | None,
        error: SuperllmError | None,
        cost_usd: float | None,
        latency_ms: int,
    ) -> None:
        if status != "ok" or completion is None:
            return
        key = call.scratch.get("cache.key") or self._key(call)
        if key is None:
            return
        now = time.time()
        self._remember(key, now, completion)
        if self.ledger is None or not self.persist(call.run.environ):
            return
        usage = completion.usage
        self.ledger.write(
            "INSERT OR REPLACE INTO response_cache (key, time, provider, model, text, "
            "input_tokens, output_tokens, cached_tokens, finish_reason, response_model) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                key,
                now,
                call.target.provider.id,
                call.target.model,
                completion.text,
                usage.input_tokens,
                usage.output_tokens,
                usage.cached_tokens,
                completion.finish_reason,
                completion.model,
            ),
        )

    def _remember(self, key: str, when: float, completion: Completion) -> None:
        self._memory[key] = (when, completion)
        self._memory.move_to_end(key)
        while len(self._memory) > self._max:
            self._memory.popitem(last=False)
