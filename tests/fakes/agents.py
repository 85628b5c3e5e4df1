r"""Deterministic fake *agents* for consensus and debate (ORCHESTRATION.md §6.2).

A fake agent reads its request like a model would: it finds the arithmetic item in the
prompt (and the options, for a multiple-choice rendering), computes the gold answer exactly
with ``Fraction``, recognises its role from the prompt's first sentence (answer, revise,
judge, rank, synthesise) and answers in realistic text with the final answer in a *mix of
formats* -- ``FINAL ANSWER: 1,234``, ``\boxed{-3}``, ``The answer is $12.``, ``(B)`` -- so
the real extractor is exercised. Its behaviour comes from its model name::

    noisy-0.67-shared+corrective-0.6-0.1@2
    ^answer policy    ^update policy    ^agent id (distinct agents, same policy)

Answer policies: ``oracle`` (the default, also for unknown names such as ``slow``),
``noisy-P-spread|shared|precedence``, ``mix-ALPHA-PEASY-PHARD`` (difficulty mix, shared
errors), ``persuader`` (a fixed wrong answer, stated with confidence). Update policies:
``stubborn`` (default), ``conformist-Q``, ``corrective-R-S``. Judge policy:
``judge-ACC-BIAS`` (else a judge picks the most consistent answer). Modifiers:
``formatless-Q`` (no final answer: an abstention), ``flaky-RATE`` (HTTP 429 per attempt),
``delay-MS``, ``fmt-tag|boxed|dollar|paren`` (force one format), ``garbled`` (a judge
that never writes JSON).

Every random draw comes from ``random.Random(sha256(f"{seed}|{agent}|{item}|{round}|{role}"))``
-- never Python's ``hash()`` -- where a repeated request (a top-up sample, a retry) gets a
new role suffix, so a run is reproducible and samples are independent.

Two doors, one behaviour: :func:`installed` puts a :class:`Fleet` behind
:class:`~tests.fakes.openai.FakeOpenAI` (the real daemon path, over HTTP), and
:class:`AgentProvider` is an in-process :class:`Provider` for the fast statistical tests.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from superllmd.config import ProviderSettings
from superllmd.errors import AuthError, ModelNotFound, Overloaded, RateLimited, ServerError
from superllmd.orchestrator import prompts
from superllmd.orchestrator.context import ModeFn, RunContext, run_mode
from superllmd.orchestrator.extract import extract_answer, number_key
from superllmd.orchestrator.run import Caller
from superllmd.protocol import Event, Mode, RunResult
from superllmd.providers.base import ChatRequest, Completion, Provider, TextDelta, TokenUsage
from superllmd.providers.registry import Target
from tests.fakes.items import LETTERS, Item, evaluate, parse_item, seeded

__all__ = [
    "AgentProvider",
    "Fleet",
    "Policy",
    "drive",
    "installed",
    "make_context",
    "parse_policy",
    "run_inprocess",
]

# --------------------------------------------------------------------------- policies


@dataclass(frozen=True)
class Policy:
    answer: str = "oracle"  # oracle | noisy | mix | persuader
    p: float = 1.0
    error: str = "spread"
    alpha: float = 1.0
    p_hard: float = 1.0
    update: str = "stubborn"  # stubborn | conformist | corrective
    q: float = 0.0
    r: float = 0.0
    s: float = 0.0
    judge: tuple[float, float] | None = None
    formatless: float = 0.0
    flaky: float = 0.0
    delay: float = 0.0
    fmt: str | None = None
    garbled: bool = False


def parse_policy(model: str) -> Policy:
    """``noisy-0.67-shared+conformist-0.8@3`` -> Policy (the ``@id`` only names the agent)."""
    spec: dict[str, Any] = {}
    for part in model.split("@", 1)[0].split("+"):
        name, *args = part.split("-")
        nums = [float(a) for a in args if re.fullmatch(r"\d+(?:\.\d+)?", a)]
        if name == "noisy":
            spec.update(answer="noisy", p=nums[0], error=args[1] if len(args) > 1 else "spread")
        elif name == "mix":
            spec.update(answer="mix", alpha=nums[0], p=nums[1], p_hard=nums[2], error="shared")
        elif name == "persuader":
            spec.update(answer="persuader", update="stubborn")
        elif name == "conformist":
            spec.update(update="conformist", q=nums[0])
        elif name == "corrective":
            spec.update(update="corrective", r=nums[0], s=nums[1])
        elif name == "judge":
            spec.update(judge=(nums[0], nums[1]))
        elif name in ("formatless", "flaky"):
            spec[name] = nums[0]
        elif name == "delay":
            spec["delay"] = nums[0] / 1000
        elif name == "fmt":
            spec["fmt"] = args[0]
        elif name == "garbled":
            spec["garbled"] = True
    return Policy(**spec)


# --------------------------------------------------------------------------- the fleet

_HEADS = (
    (prompts.PICK_HEAD, "pick"),
    (prompts.RANK_HEAD, "rank"),
    (prompts.SYNTH_HEAD, "synth"),
    (prompts.CHAIR_HEAD, "chair"),
    (prompts.UPDATE_HEAD, "update"),
)


def _blocks(text: str) -> list[tuple[str, str]]:
    """The (label, text) responses shown in a prompt, in shown order."""
    parts = re.split(r"^(Response [A-Z]):\n", text, flags=re.M)
    # A response ends at the first blank line: what follows the last one is instructions.
    return [(parts[i], parts[i + 1].split("\n\n")[0]) for i in range(1, len(parts) - 1, 2)]


class Fleet:
    """Every fake agent's behaviour, deterministic given ``seed`` and the request order of
    repeated identical requests (which only renumbers equivalent samples)."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self._seen: Counter[tuple[str, ...]] = Counter()

    def _rng(self, agent: str, item: str, round_: int, role: str) -> random.Random:
        key = (agent, item, str(round_), role)
        n = self._seen[key]
        self._seen[key] += 1
        return seeded(self.seed, agent, item, round_, role if n == 0 else f"{role}#{n}")

    # -- reading a request -------------------------------------------------------------
    @staticmethod
    def _read(body: dict[str, Any]) -> tuple[str, str, int, str]:
        messages = body.get("messages") or []
        last = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
        kind = next((k for head, k in _HEADS if last.startswith(head)), "answer")
        round_ = sum(m["role"] == "assistant" for m in messages)
        first = next((m["content"] for m in messages if m["role"] == "user"), "")
        return (
            str(body.get("model", "")),
            kind,
            round_,
            first if kind in ("answer", "update") else last,
        )

    def failure(self, body: dict[str, Any]) -> int | None:
        """An HTTP status to fail this attempt with (``flaky``), or None."""
        model, kind, round_, question = self._read(body)
        policy = parse_policy(model)
        if not policy.flaky:
            return None
        item = parse_item(question)
        rng = self._rng(model, item.id if item else question, round_, f"{kind}|attempt")
        return 429 if rng.random() < policy.flaky else None

    def delay(self, body: dict[str, Any]) -> float:
        return parse_policy(str(body.get("model", ""))).delay

    def reply(self, body: dict[str, Any]) -> str:
        """The agent's answer text to one chat request."""
        model, kind, round_, question = self._read(body)
        policy = parse_policy(model)
        item = parse_item(question)
        if item is None and kind not in ("pick", "rank"):  # free text: no gold to aim at
            rng = self._rng(model, question, round_, kind)
            return f"A considered answer ({rng.randrange(1000)}): {question.strip()[:80]}"
        rng = self._rng(model, item.id if item else question, round_, kind)
        if kind == "answer":
            assert item is not None
            return self._render(item, self._initial(model, policy, item, rng), rng, policy)
        messages = body["messages"]
        last = messages[-1]["content"]
        shown = [(label, self._key(item, text)) for label, text in _blocks(last)]
        if kind == "update":
            assert item is not None
            own = self._key(
                item, next(m["content"] for m in reversed(messages) if m["role"] == "assistant")
            )
            new = self._update(model, policy, item, own, [k for _, k in shown], rng)
            note = (
                "I re-checked my steps and found an error; I now agree with"
                if new != own
                else "I re-checked the other answers and my steps hold, so I keep"
            )
            return f"{note} the answer below.\n" + self._render(item, new, rng, policy)
        if policy.garbled:
            return "I would go with the second one, it looks the most careful to me."
        if kind == "pick":
            choice = self._choose(policy, item, [k for _, k in shown], rng)
            return f'{{"choice": "{shown[choice][0]}", "reason": "Its steps check out."}}'
        if kind == "rank":
            first_rng = seeded(self.seed, model, item.id if item else "", 0, "answer")
            mine = self._initial(model, policy, item, first_rng) if item else None
            order = self._rank(policy, item, [k for _, k in shown], mine, rng)
            return '{"ranking": [' + ", ".join(f'"{shown[i][0]}"' for i in order) + "]}"
        ranking = re.search(r"^Peer ranking \(best first\): (Response [A-Z])", last, re.M)
        labels = [label for label, _ in shown]
        if kind == "chair" and ranking and policy.judge is None:
            key = shown[labels.index(ranking.group(1))][1]
        else:
            key = (
                shown[self._choose(policy, item, [k for _, k in shown], rng)][1] if shown else None
            )
        assert item is not None
        return "Having weighed the responses against each other:\n" + self._render(
            item, key, rng, policy
        )

    @staticmethod
    def _key(item: Item | None, text: str) -> str | None:
        if item is None:
            return None
        answer = extract_answer(text, "choice" if item.options else "numeric")
        return answer.key if answer else None

    # -- deciding ----------------------------------------------------------------------
    def _wrong(self, kind: str, item: Item, rng: random.Random) -> str:
        shared = seeded(self.seed, "shared", item.id)
        if item.options is not None:
            wrong = [LETTERS[i] for i, v in enumerate(item.options) if v != item.gold]
            ltr = evaluate(item.expression, precedence=False)
            if kind == "precedence" and ltr in item.options and ltr != item.gold:
                return LETTERS[item.options.index(ltr)]
            return (rng if kind == "spread" else shared).choice(wrong)
        if kind == "precedence" and evaluate(item.expression, precedence=False) != item.gold:
            return number_key(evaluate(item.expression, precedence=False))
        source = rng if kind == "spread" else shared
        return number_key(item.gold + source.choice([-1, 1]) * source.randint(1, 500))

    def _initial(self, agent: str, policy: Policy, item: Item, rng: random.Random) -> str | None:
        if policy.answer == "persuader":
            return self._wrong("shared", item, rng)
        p = policy.p
        if policy.answer == "mix":
            easy = seeded(self.seed, "difficulty", item.id).random() < policy.alpha
            p = policy.p if easy else policy.p_hard
        right = rng.random() < p
        wrong = self._wrong(policy.error, item, rng)
        if rng.random() < policy.formatless:
            return None
        return item.gold_key if right else wrong

    def _update(
        self,
        agent: str,
        policy: Policy,
        item: Item,
        own: str | None,
        peers: list[str | None],
        rng: random.Random,
    ) -> str | None:
        valid = [k for k in peers if k is not None]
        if own is None:
            return self._initial(agent, policy, item, rng)
        if policy.update == "conformist":
            ranked = Counter(valid).most_common()
            unique_top = ranked and (len(ranked) == 1 or ranked[0][1] > ranked[1][1])
            if unique_top and ranked[0][0] != own and rng.random() < policy.q:
                return ranked[0][0]
        elif policy.update == "corrective":
            gold = item.gold_key
            if own != gold and gold in valid and rng.random() < policy.r:
                return gold
            dissent = Counter(k for k in valid if k != own).most_common()
            if own == gold and dissent and rng.random() < policy.s:
                top = [k for k, c in dissent if c == dissent[0][1]]
                return rng.choice(top)
        return own

    def _choose(
        self, policy: Policy, item: Item | None, keys: list[str | None], rng: random.Random
    ) -> int:
        if policy.judge is not None:
            acc, bias = policy.judge
            correct = [i for i, k in enumerate(keys) if item and k == item.gold_key]
            if correct and rng.random() < acc:
                return rng.choice(correct)
            return 0 if rng.random() < bias else rng.randrange(len(keys))
        counts = Counter(keys)  # abstentions (None) never count as support
        return max(range(len(keys)), key=lambda i: (counts[keys[i]] if keys[i] else 0, -i))

    def _rank(
        self,
        policy: Policy,
        item: Item | None,
        keys: list[str | None],
        mine: str | None,
        rng: random.Random,
    ) -> list[int]:
        counts = Counter(keys)
        first = self._choose(policy, item, keys, rng) if policy.judge else None

        def score(i: int) -> tuple[int, int, int, int]:
            return (i == first, keys[i] == mine, counts[keys[i]] if keys[i] else 0, -i)

        return sorted(range(len(keys)), key=score, reverse=True)

    # -- writing -----------------------------------------------------------------------
    def _render(self, item: Item, key: str | None, rng: random.Random, policy: Policy) -> str:
        tokens = re.findall(r"\d+", item.expression)
        a, b, c, d, e, f = (int(t) for t in tokens[:6]) if len(tokens) >= 6 else (0,) * 6
        steps = (
            f"Let me work through {item.expression} step by step.\n"
            f"Multiplication first: {b}*{c} = {b * c} and {e}*{f} = {e * f}.\n"
            f"Then left to right: {a} + {b * c} + {d} - {e * f}.\n"
        )
        if key is None:
            # No number at all: otherwise the extractor's last-number rule would find one.
            return "I went through the steps twice but I am not confident enough to commit."
        confident = "I am completely certain of this.\n" if policy.answer == "persuader" else ""
        if item.options is not None:
            style = policy.fmt or rng.choice(["tag", "paren", "boxed"])
            final = {"tag": f"FINAL ANSWER: {key}", "boxed": f"\\boxed{{{key}}}"}.get(
                style, f"So the answer is ({key})."
            )
            return f"{steps}{confident}{final}"
        value = int(key)
        style = policy.fmt or rng.choice(["tag", "boxed", "dollar"])
        final = {
            "tag": f"FINAL ANSWER: {value:,}",
            "boxed": f"So the result is \\boxed{{{value}}}.",
        }.get(style, f"The answer is ${value}.")
        return f"{steps}{confident}{final}"


# --------------------------------------------------------------------------- the two doors


@contextmanager
def installed(fake: Any, fleet: Fleet) -> Iterator[Fleet]:
    """Put ``fleet`` behind a FakeOpenAI for the duration (flaky agents answer HTTP 429)."""
    original_reply = fake.reply
    original_chat = fake.chat

    async def chat(request: Any, w: Any) -> None:
        body = request.json()
        status = fleet.failure(body)
        if status is not None:
            fake.error(w, status)
            return
        if delay := fleet.delay(body):
            await asyncio.sleep(delay)
        await original_chat(request, w)

    fake.reply, fake.chat = fleet.reply, chat
    try:
        yield fleet
    finally:
        fake.reply = original_reply
        del fake.chat  # the class's method again


_ERRORS = {401: AuthError, 404: ModelNotFound, 429: RateLimited, 500: ServerError, 503: Overloaded}


class AgentProvider(Provider):
    """The fleet as an in-process provider: no sockets, so 500-item statistics run fast."""

    def __init__(self, fleet: Fleet, provider_id: str = "fake") -> None:
        super().__init__(provider_id, ProviderSettings())
        self.fleet = fleet
        self.requests: list[ChatRequest] = []  # every request, for tests to inspect

    async def complete(self, request: ChatRequest) -> Completion:
        self.requests.append(request)
        body = {
            "model": request.model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
        }
        status = int(request.model[6:]) if request.model.startswith("error-") else None
        status = status or self.fleet.failure(body)
        if status is not None:
            raise _ERRORS.get(status, ServerError)(
                f"fake agent failed with {status}", retry_after=0.001
            )
        if delay := self.fleet.delay(body):
            await asyncio.sleep(delay)
        text = self.fleet.reply(body)
        prompt_tokens = sum(len(m.content.split()) for m in request.messages)
        usage = TokenUsage(input_tokens=prompt_tokens, output_tokens=len(text.split()))
        return Completion(text=text, usage=usage, finish_reason="stop", model=request.model)

    async def stream(self, request: ChatRequest) -> AsyncIterator[TextDelta | Completion]:
        completion = await self.complete(request)
        yield TextDelta(completion.text)
        yield completion


async def _no_sleep(_: float) -> None:
    return None


def make_context(
    mode: Mode,
    prompt: str,
    models: list[str],
    fleet: Fleet,
    *,
    judge: str | None = None,
    **request: Any,
) -> tuple[RunContext, AgentProvider]:
    """A RunContext whose participants (and judge) are fake agents, in-process."""
    provider = AgentProvider(fleet)
    ctx = RunContext(
        mode,
        {"prompt": prompt, "stream": False, **request},  # type: ignore[typeddict-item]
        [Target(provider, m) for m in models],
        Caller(sleep=_no_sleep),  # retries still happen; only their waiting is skipped
        judge=Target(provider, judge) if judge else None,
    )
    return ctx, provider


async def drive(ctx: RunContext, fn: ModeFn) -> list[Event]:
    """Run a mode to the end; returns every event, ``run.finished`` last."""
    return [event async for event in run_mode(ctx, fn)]


async def run_inprocess(
    fn: ModeFn, mode: Mode, prompt: str, models: list[str], fleet: Fleet, **request: Any
) -> RunResult:
    """Run one mode in-process on fake agents (no daemon, no HTTP) and return its result."""
    ctx, _ = make_context(mode, prompt, models, fleet, **request)
    events = await drive(ctx, fn)
    assert events[-1]["type"] == "run.finished"
    result: RunResult = events[-1]["result"]
    return result
