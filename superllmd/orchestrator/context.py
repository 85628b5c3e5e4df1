"""The context every mode runs in, ``ask`` included.

A mode is ``async def run(ctx: RunContext) -> None``: it calls models through ``ctx`` (which
streams their events to the client as they happen), records its decisions with
``ctx.round_finished`` and ``ctx.report``, and sets ``ctx.answer``. ``run_mode`` drives it
and produces the event stream, ending in ``run.finished`` with the result; the whole stream
is kept as the run's transcript. A mode that fails as a whole raises the error tree.

A ``single`` context is one model's run (``ask``): its participants are a fallback chain of
which only the first is announced, the mode sets ``ctx.model`` to the one that answered, and
the result has ``model`` instead of the panel's keys (agreement, rounds, strategy, report).

Identity hygiene: when one model sees others' output, use
``ctx.anonymise`` — "Response A/B/..." in an order shuffled per recipient with the run's
seed; provider names never reach judges or aggregators.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, cast

from superllmd.errors import SuperllmError
from superllmd.orchestrator.hooks import RunInfo
from superllmd.orchestrator.run import (
    Caller,
    CallOutcome,
    RunBudget,
    RunBudgetExhausted,
    base_result,
    error_event,
    new_run_id,
)
from superllmd.orchestrator.tooluse import choice_of, tools_of
from superllmd.protocol import ErrorInfo, Event, Mode, RunRequest, RunResult
from superllmd.protocol_tools import ToolCallInfo
from superllmd.providers.base import Attachment, ChatRequest, Message
from superllmd.providers.registry import Target

__all__ = ["DEFAULT_THRESHOLD", "ModeFn", "RunContext", "run_labels", "run_mode", "side_label"]

DEFAULT_CONCURRENCY = 64  # per run; providers have their own max_concurrency
DEFAULT_THRESHOLD = 0.8
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def letter_label(pos: int) -> str:
    """Spreadsheet-style labels that never run out: 0 -> A, 25 -> Z, 26 -> AA, 27 -> AB."""
    out = ""
    pos += 1
    while pos:
        pos, rem = divmod(pos - 1, 26)
        out = LETTERS[rem] + out
    return out


def participant_labels(targets: Sequence[Target]) -> list[str]:
    """One label per participant: its model name, with ``#2``, ``#3`` for repeats."""
    seen: dict[str, int] = {}
    labels = []
    for target in targets:
        seen[target.name] = seen.get(target.name, 0) + 1
        n = seen[target.name]
        labels.append(target.name if n == 1 else f"{target.name}#{n}")
    return labels


def side_label(blue: str, red: str, side: str) -> str:
    """How a redteam's events name one side: its model, with the role appended when one
    model plays both sides, so that each side has its own lane."""
    name = blue if side == "blue" else red
    return name if blue != red else f"{name} ({side})"


def run_labels(mode: Mode, targets: Sequence[Target]) -> list[str]:
    """How a run's events name its participants, announced in ``run.started`` so that no
    client re-derives them: the panel labels; for a redteam, blue's and red's (see
    ``side_label``; a third is the judge, with its own events).
    """
    if mode == "redteam" and targets:
        blue = targets[0].name
        red = targets[1].name if len(targets) > 1 else blue
        return [side_label(blue, red, "blue"), side_label(blue, red, "red")]
    return participant_labels(targets)


class RunContext:
    def __init__(
        self,
        mode: Mode,
        request: RunRequest,
        participants: Sequence[Target],
        caller: Caller,
        *,
        judge: Target | None = None,
        resolve: Callable[[str], Target] | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        embedder: Target | None = None,
        history: Sequence[Message] = (),
        conversation_id: str | None = None,
        attachments: Sequence[Attachment] = (),
        single: bool = False,
    ) -> None:
        self.run_id = new_run_id()
        self.single = single
        # The embedding model free-text agreement uses, when one is configured.
        self.embedder = embedder
        # A conversation's earlier turns and the run's images: every call of the run gets
        # them (see ``chat``), whatever prompts the mode builds.
        self.history = tuple(history)
        self.attachments = tuple(attachments)
        self.info = RunInfo(
            self.run_id,
            mode,
            label=request.get("label"),
            environ=request.get("env") or {},
            max_cost=request.get("max_cost"),
            no_cache=request.get("no_cache", False),
            cache_ttl=request.get("cache_ttl"),
            conversation_id=conversation_id,
        )
        self.mode = mode
        self.request = request
        self.participants = list(participants)
        self.judge = judge
        self.caller = caller
        self._resolve = resolve
        self.seed = request.get("seed")
        self._rng: random.Random | None = None  # made when a mode first draws (see ``rng``)
        timeout = request.get("timeout")
        self.budget = RunBudget(
            max_calls=request.get("max_calls"),
            max_tokens=request.get("max_run_tokens"),
            deadline=time.monotonic() + timeout if timeout else None,
        )
        self.stream = request.get("stream", True)
        self.outcomes: list[CallOutcome] = []
        self.transcript: list[Event] = []
        self.answer: str | None = None
        self.model: str | None = None  # a single run's model that answered
        # The result, once ``run_mode`` has finished the run.
        self.finished: RunResult | None = None
        self.agreement: float | None = None
        # (participants with a valid answer, panel size) behind ``agreement``, if it has one.
        self.valid: tuple[int, int] | None = None
        self.strategy: str | None = request.get("strategy")
        self.rounds = 0
        self.report: dict[str, Any] = {}
        self.judge_result: dict[str, Any] | None = None
        self.parsed: Any = None  # with json_schema: the answer as a parsed object
        self.tool_calls: list[ToolCallInfo] = []  # with tools: the calls the answer asks for
        self.stopped: str | None = None
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self._slots = asyncio.Semaphore(concurrency)
        self._started = time.perf_counter()

    @property
    def rng(self) -> random.Random:
        """The run's randomness: seeded by the request's ``seed``, else by the run's id. Made
        on first use: seeding hashes the id, and an ask never draws."""
        if self._rng is None:
            self._rng = random.Random(self.seed if self.seed is not None else self.run_id)
        return self._rng

    @rng.setter
    def rng(self, rng: random.Random) -> None:
        self._rng = rng

    # -- events -------------------------------------------------------------------------

    def emit(self, event: Event) -> None:
        self.transcript.append(event)
        self._queue.put_nowait(event)

    def round_finished(self, round_: int, agreement: float | None, **report: Any) -> None:
        self.rounds = max(self.rounds, round_ + 1)
        self.emit(
            {
                "type": "round.finished",
                "run_id": self.run_id,
                "round": round_,
                "agreement": agreement,
                "report": report,
            }
        )

    # -- calls --------------------------------------------------------------------------

    def resolve(self, name: str) -> Target:
        if self._resolve is None:
            raise SuperllmError("this run cannot resolve extra models")
        return self._resolve(name)

    def chat(
        self,
        target: Target,
        messages: Sequence[Message],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        json_output: bool = False,
        stop: Sequence[str] = (),
        json_schema: Mapping[str, Any] | None = None,
    ) -> ChatRequest:
        options: Mapping[str, Any] = self.request.get("options") or {}
        return ChatRequest(
            model=target.model,
            messages=self._with_context(messages),
            temperature=temperature if temperature is not None else self.request.get("temperature"),
            max_tokens=max_tokens or self.request.get("max_tokens"),
            stop=tuple(stop),
            json_output=json_output,
            options=options,
            json_schema=json_schema,
            # Only an ask can get here with tools (the other modes refuse them up front).
            tools=tools_of(self.request),
            tool_choice=choice_of(self.request),
        )

    def _with_context(self, messages: Sequence[Message]) -> tuple[Message, ...]:
        """History after the leading system messages; images on the first message after."""
        if not self.history and not self.attachments:
            return tuple(messages)
        split = next((i for i, m in enumerate(messages) if m.role != "system"), len(messages))
        rest = list(messages[split:])
        if self.attachments and rest:
            rest[0] = dataclasses.replace(rest[0], attachments=self.attachments)
        return (*messages[:split], *self.history, *rest)

    async def call(
        self,
        target: Target,
        messages: Sequence[Message],
        *,
        participant: str | None = None,
        round_: int = 0,
        role: str = "participant",
        temperature: float | None = None,
        max_tokens: int | None = None,
        json_output: bool = False,
        stop: Sequence[str] = (),
        json_schema: Mapping[str, Any] | None = None,
        final: bool = False,
    ) -> CallOutcome:
        """One call, counted against the run's budget; its events go to the client live.
        ``final``: the call writes the run's answer (a synthesis), so its ``judge.delta``
        events say ``final`` and a gateway streams them as the answer.

        Raises RunBudgetExhausted before calling when the run's budget is spent.
        """
        self.budget.take_call()
        outcome = CallOutcome(target)
        self.outcomes.append(outcome)
        request = self.chat(
            target,
            messages,
            temperature=temperature,
            max_tokens=max_tokens,
            json_output=json_output,
            stop=stop,
            json_schema=json_schema,
        )
        async with self._slots:
            remaining = self.budget.remaining_time()
            events = self.caller.call(
                self.run_id,
                target,
                request,
                stream=self.stream,
                round_=round_,
                participant=participant,
                role="judge" if role == "judge" else "participant",
                outcome=outcome,
                run=self.info,
            )
            try:
                async with asyncio.timeout(remaining):
                    async for event in events:
                        final_delta = final and event["type"] == "judge.delta"
                        self.emit({**event, "final": True} if final_delta else event)  # type: ignore[arg-type]
            except TimeoutError:
                outcome.error = SuperllmError("the run's --timeout cut this call short")
                self.emit(error_event(self.run_id, outcome.participant, outcome.error))
        if outcome.completion is not None:
            self.budget.add(outcome.completion.usage)
        return outcome

    async def gather(
        self, calls: Sequence[Callable[[], Awaitable[CallOutcome]]], quorum: int | None = None
    ) -> list[CallOutcome | None]:
        """Run calls in parallel; with a quorum, stop once that many succeeded.

        Returns one entry per call, in order: its outcome, or None if it was cancelled
        because the quorum was already met (those are reported as late).
        """
        tasks = [asyncio.ensure_future(c()) for c in calls]
        results: list[CallOutcome | None] = [None] * len(tasks)
        index = {t: i for i, t in enumerate(tasks)}
        ok = 0
        pending = set(tasks)
        budget_error: RunBudgetExhausted | None = None
        try:
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    exc = task.exception()
                    if isinstance(exc, RunBudgetExhausted):
                        budget_error = exc
                        continue
                    if exc is not None:
                        raise exc
                    outcome = task.result()
                    results[index[task]] = outcome
                    ok += outcome.ok
                if quorum is not None and ok >= quorum:
                    break
        finally:
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(asyncio.CancelledError, RunBudgetExhausted):
                    await task
        if budget_error is not None and ok == 0:
            raise budget_error
        if budget_error is not None:
            self.stopped = budget_error.reason
        return results

    # -- presentation -------------------------------------------------------------------

    def anonymise(
        self, texts: Sequence[str], recipient: int | None = None
    ) -> list[tuple[str, int]]:
        """Shuffle ``texts`` for one recipient; returns (label, original index) pairs, labels
        "Response A", "Response B"... in the shuffled order."""
        order = list(range(len(texts)))
        random.Random(f"{self.rng.random()}|{recipient}").shuffle(order)
        return [(f"Response {letter_label(pos)}", i) for pos, i in enumerate(order)]

    # -- result -------------------------------------------------------------------------

    def result(self) -> RunResult:
        result = base_result(self.run_id, self.mode, self.outcomes, self._started)
        result["answer"] = self.answer
        result["participants"] = [o.result() for o in self.outcomes if o.role == "participant"]
        result["conversation_id"] = self.info.conversation_id
        if self.parsed is not None:
            result["parsed"] = self.parsed
        if self.tool_calls:
            result["tool_calls"] = self.tool_calls
        if self.single:
            result["model"] = self.model or self.participants[0].name
            result["error"] = None
            return result
        result["agreement"] = self.agreement
        result["strategy"] = self.strategy
        result["rounds"] = self.rounds
        result["judge"] = self.judge_result
        result["report"] = self.report
        result["stopped"] = self.stopped
        if self.report.get("warnings"):  # a mode's degradations reach stderr, not only --json
            result["warnings"] = [str(w) for w in self.report["warnings"]]
        if self.valid is not None:
            result["n_valid"], result["n"] = self.valid
        if self.request.get("require_agreement"):
            message = self._missed_agreement()
            if message is not None:
                result["error"] = {"code": "no_agreement", "message": message}
        return result

    def _missed_agreement(self) -> str | None:
        """Why ``--require-agreement`` fails, or None. Failed participants count against it:
        agreement among the few who answered is not the panel's agreement."""
        threshold = self.request.get("threshold") or DEFAULT_THRESHOLD
        if self.agreement is None or self.agreement < threshold:
            shown = "unknown" if self.agreement is None else f"{self.agreement:.2f}"
            return f"agreement {shown} is below the required {threshold:.2f}"
        if self.valid is not None:
            n_valid, n = self.valid
            if 2 * n_valid <= n:
                return (
                    f"only {n_valid} of {n} participants gave a valid answer; agreement "
                    "needs most of them (see the failures above)"
                )
        return None


ModeFn = Callable[[RunContext], Awaitable[None]]


async def run_mode(ctx: RunContext, fn: ModeFn) -> AsyncIterator[Event]:
    """Run a mode, yielding its events as they happen and ``run.finished`` last."""
    ctx.emit(
        {
            "type": "run.started",
            "run_id": ctx.run_id,
            "mode": ctx.mode,
            # A single run's later participants are fallbacks: events name one once it is called.
            "participants": [t.name for t in ctx.participants[: 1 if ctx.single else None]],
            "labels": run_labels(ctx.mode, ctx.participants[: 1 if ctx.single else None]),
        }
    )

    async def body() -> None:
        try:
            await fn(ctx)
        except RunBudgetExhausted as exc:
            ctx.stopped = exc.reason
        except SuperllmError as exc:
            ctx.report["error"] = exc.to_dict()
            ctx.emit(error_event(ctx.run_id, None, exc))
        finally:
            ctx._queue.put_nowait(None)

    task = asyncio.create_task(body())
    try:
        while (event := await ctx._queue.get()) is not None:
            yield event
        await task
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    result = ctx.result()
    if "error" in ctx.report:  # a run-level failure outranks a missed agreement
        # Whole (code, message, retryable and details such as retry_after or provider), so
        # the client rebuilds the error the mode raised.
        result["error"] = cast(ErrorInfo, dict(ctx.report["error"]))
    ctx.finished = result
    finished: Event = {"type": "run.finished", "run_id": ctx.run_id, "result": result}
    ctx.transcript.append(finished)
    await ctx.caller.run_finished(ctx.info, ctx.request, result, ctx.transcript)
    yield finished
