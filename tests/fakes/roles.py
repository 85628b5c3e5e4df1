"""Fake roles for redteam, chain and mapreduce: deterministic policies (ORCHESTRATION.md §6.2).

One :class:`Roles` object plays every role. It tells which from the task line each mode's
prompt carries (imported from the modes, so rewording a prompt cannot silently break the
fakes), reads what it needs from the prompt, and answers like a model would -- prose, or
JSON where the mode asks for it. Every random draw comes from
``random.Random(sha256(f"{seed}|{model}|{item}|{round}|{role}"))``, never ``hash()``.

Policies (fields of :class:`Roles`):

- blue ``noisy(blue_accuracy, precedence)`` on arithmetic items ("Item N: compute a + b * c.");
  a wrong answer is the left-to-right value. Blue accepts an objection that shows the right
  calculation and rebuts the rest.
- red ``critic(detect, false_alarm)``: finds the planted error with probability ``detect``,
  invents a bogus objection with probability ``false_alarm``.
- the critique judge rules an objection valid when it shows the right value (right with
  probability ``judge_acc``); the dispute judge is ``judge(judge_acc, position_bias)``: the
  correct side with probability ``judge_acc``, else the side shown first with probability
  ``position_bias``, else a fair coin.
- the map extractor regex-extracts needles from its chunk, losing each with probability
  ``map_drop``; the collapse reducer keeps every fact (``keep``), or never shrinks
  (``inflate``), or shrinks by only ~12% a pass (``slow``); the final reducer answers from
  the facts' quotes, preferring the newest dated value when the prompt gives the date rule.

Use in-process with :func:`targets` (a small :class:`Provider`), or over HTTP with
``fake_openai.reply = openai_reply(roles)``.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from superllmd.config import ProviderSettings
from superllmd.orchestrator import adversarial as adv
from superllmd.orchestrator import chain, mapreduce
from superllmd.orchestrator.context import ModeFn, RunContext, run_mode
from superllmd.orchestrator.extract import extract_answer
from superllmd.orchestrator.run import Caller
from superllmd.protocol import Mode, RunRequest
from superllmd.providers.base import (
    ChatRequest,
    Completion,
    Provider,
    StreamItem,
    TextDelta,
    TokenUsage,
)
from superllmd.providers.registry import Target

__all__ = [
    "Document",
    "Messages",
    "RoleProvider",
    "Roles",
    "arithmetic_item",
    "draw",
    "make_document",
    "openai_reply",
    "run_inprocess",
    "targets",
]

Messages = Sequence[tuple[str, str]]
ITEM = re.compile(r"Item (\d+): compute (\d+) \+ (\d+) \* (\d+)\.")
NEEDLE = re.compile(r"(?:As of (\d{4}-\d{2}-\d{2}), )?the code of item ([A-Z]-\d+) is (\d+)\.")
BLOCK = re.compile(r"<<<\n(.*?)\n>>>", re.DOTALL)
TASKS = (  # most specific first: the first marker found names the role
    (adv.TASK_RED, "red"),
    (adv.TASK_RESPOND, "respond"),
    (adv.TASK_JUDGE, "judge"),
    (adv.TASK_ALTERNATIVE, "alternative"),
    (adv.TASK_ARGUE, "argue"),
    (adv.TASK_DISPUTE_JUDGE, "dispute_judge"),
    (mapreduce.TASK_MAP, "map"),
    (mapreduce.TASK_COLLAPSE, "collapse"),
    (mapreduce.TASK_REDUCE, "reduce"),
    (chain.TASK_GATE, "gate"),
    (chain.TASK_CRITIQUE, "critique"),
    (chain.TASK_REVISE, "revise"),
)
JSON_ROLES = frozenset({"red", "respond", "judge", "dispute_judge", "map", "collapse"})
WORDS = ["the", "a", "report", "notes", "river", "stone", "market", "old", "new", "data"]


def draw(seed: int, model: str, item: object, round_: object, role: str) -> random.Random:
    key = f"{seed}|{model}|{item}|{round_}|{role}".encode()
    return random.Random(int.from_bytes(hashlib.sha256(key).digest()[:8], "big"))


def arithmetic_item(i: int, seed: int = 0) -> tuple[str, int, int]:
    """(question, gold, the left-to-right "precedence" error) for item ``i``."""
    rng = draw(seed, "", i, 0, "item")
    a, b, c = rng.randrange(2, 30), rng.randrange(2, 30), rng.randrange(2, 30)
    return f"Item {i}: compute {a} + {b} * {c}.", a + b * c, (a + b) * c


def _item(text: str) -> tuple[int, int, int] | None:
    m = ITEM.search(text)
    if m is None:
        return None
    i, a, b, c = (int(x) for x in m.groups())
    return i, a + b * c, (a + b) * c


def _value(text: str) -> int | None:
    answer = extract_answer(text, "numeric")
    return int(answer.value) if answer is not None and not isinstance(answer.value, str) else None


@dataclass
class Roles:
    seed: int = 0
    blue_accuracy: float = 1.0
    detect: float = 1.0
    false_alarm: float = 0.0
    judge_acc: float = 1.0
    position_bias: float = 0.0
    map_drop: float = 0.0
    map_padding: int = 0
    collapse: str = "keep"
    gate: bool = True
    critic_issues: int = 1
    json_ok: bool = True
    calls: Counter[str] = field(default_factory=Counter)

    def __call__(self, model: str, messages: Messages) -> str:
        users = [c for r, c in messages if r == "user"]
        role, prompt = "answer", users[0] if users else ""
        for text in reversed(users):
            found = next((r for marker, r in TASKS if marker in text), None)
            if found is not None:
                role, prompt = found, text
                break
        self.calls[role] += 1
        if role in JSON_ROLES and not self.json_ok:
            return "Sorry, I think it is mostly fine."
        handler: Callable[[str, str, Messages], str] = getattr(self, f"_{role}")
        return handler(model, prompt, messages)

    # -- redteam --------------------------------------------------------------------------

    def _answer(self, model: str, prompt: str, messages: Messages) -> str:
        item = _item(prompt)
        if item is None:
            return f"{model} says: {messages[-1][1]}"
        i, gold, wrong = item
        right = draw(self.seed, model, i, 0, "answer").random() < self.blue_accuracy
        return f"Working it out step by step.\nFINAL ANSWER: {gold if right else wrong}"

    def _red(self, model: str, prompt: str, messages: Messages) -> str:
        item, answer = _item(prompt), BLOCK.findall(prompt)[0]
        raised = prompt.count("\n- ")
        rng = draw(self.seed, model, item[0] if item else prompt[:50], raised, "red")
        objections = []
        if item is None:
            if raised == 0:
                objections.append({"claim": "The answer cites no source.", "evidence": answer[:40]})
        else:
            gold = item[1]
            value = _value(answer)
            if value != gold and rng.random() < self.detect:
                objections.append(
                    {
                        "claim": f"The result is wrong: it should be = {gold}, not {value}.",
                        "evidence": f"calculation: multiplication first gives {gold}",
                        "severity": "high",
                    }
                )
            elif rng.random() < self.false_alarm:
                objections.append({"claim": "The answer states no units.", "severity": "low"})
        return json.dumps({"objections": objections})

    def _respond(self, model: str, prompt: str, messages: Messages) -> str:
        previous = next(c for r, c in messages if r == "assistant")
        item = _item(" ".join(c for r, c in messages if r == "user"))
        answer, responses = previous, []
        for oid, claim in re.findall(r"\[(O\d+)\] \(\w+\) (.*)", prompt):
            if item is None or f"= {item[1]}," in claim:
                responses.append({"id": oid, "action": "accept", "text": "Agreed; fixed."})
                answer = f"Revised.\nFINAL ANSWER: {item[1]}" if item else previous + " (sourced)"
            else:
                responses.append({"id": oid, "action": "rebut", "text": "Units are not needed."})
        return json.dumps({"responses": responses, "answer": answer})

    def _judge(self, model: str, prompt: str, messages: Messages) -> str:
        item, current = _item(prompt), BLOCK.findall(prompt)[0]
        rulings = []
        for oid, claim in re.findall(r"\[(O\d+)\] \(\w+\) Objection: (.*)", prompt):
            real = item is None or f"= {item[1]}," in claim
            rng = draw(self.seed, model, item[0] if item else 0, oid, "judge")
            valid = real if rng.random() < self.judge_acc else not real
            resolved = item is None or _value(current) == item[1]
            rulings.append({"id": oid, "valid": valid, "resolved": valid and resolved})
        upheld = [r for r in rulings if r["valid"]]
        preference = "blue" if not upheld else "revise"
        if any(not r["resolved"] for r in upheld):
            preference = "red"
        return json.dumps(
            {
                "objections": rulings,
                "preference": preference,
                "final_answer": current,
                "residual_risks": ["checked by hand only"],
            }
        )

    def _alternative(self, model: str, prompt: str, messages: Messages) -> str:
        item = _item(prompt)
        if item is None:
            return "The opposite holds."
        value = _value(BLOCK.findall(prompt)[0])
        return f"FINAL ANSWER: {item[2] if value == item[1] else item[1]}"

    def _argue(self, model: str, prompt: str, messages: Messages) -> str:
        return f"My answer is right: {BLOCK.findall(prompt)[0][:60]}"

    def _dispute_judge(self, model: str, prompt: str, messages: Messages) -> str:
        item = _item(prompt)
        side_a, side_b = BLOCK.findall(prompt)[:2]
        if item is None:  # no facts to go on: always the first side shown
            return json.dumps({"winner": "A", "reason": "it came first"})
        correct = "A" if _value(side_a) == item[1] else "B"
        rng = draw(self.seed, model, item[0], f"{side_a}|{side_b}", "judge")
        if rng.random() < self.judge_acc:
            winner = correct
        elif rng.random() < self.position_bias:
            winner = "A"
        else:
            winner = rng.choice("AB")
        return json.dumps({"winner": winner, "reason": "on the evidence"})

    # -- mapreduce ------------------------------------------------------------------------

    def _map(self, model: str, prompt: str, messages: Messages) -> str:
        m = re.search(r"--- begin chunk (\d+) ---\n(.*)\n--- end chunk \1 ---", prompt, re.DOTALL)
        assert m is not None, "map prompt without a chunk"
        chunk_id, text = int(m.group(1)), m.group(2)
        facts = []
        for needle in NEEDLE.finditer(text):
            rng = draw(self.seed, model, needle.group(2), chunk_id, "map")
            if rng.random() >= self.map_drop:
                facts.append({"fact": needle.group(0), "quote": needle.group(0), "chunk_id": 0})
        return json.dumps(
            {
                "relevant_facts": facts,
                "partial_answer": "x" * self.map_padding,
                "confidence": 0.9,
                "needs_other_chunks": [],
            }
        )

    def _collapse(self, model: str, prompt: str, messages: Messages) -> str:
        notes = _notes(prompt)
        facts = list(
            {(f["quote"], f["chunk_id"]): f for n in notes for f in n["relevant_facts"]}.values()
        )
        padding = sum(len(n["partial_answer"]) for n in notes)
        if self.collapse == "inflate":  # never shrinks: everything kept, and then some
            padding += len(json.dumps(notes))
        elif self.collapse == "slow":
            padding = int(padding * 0.85)
        else:
            padding = 0
        return json.dumps(
            {
                "relevant_facts": facts,
                "partial_answer": "x" * padding,
                "confidence": min(n["confidence"] for n in notes),
                "needs_other_chunks": [],
            }
        )

    def _reduce(self, model: str, prompt: str, messages: Messages) -> str:
        question = re.search(r"Question: (.*)", prompt)
        asked = question.group(1) if question else ""
        newest = mapreduce.DATE_RULE in prompt
        known: dict[str, tuple[str, str, int]] = {}  # key -> (date, value, chunk)
        for note in _notes(prompt):
            for fact in note["relevant_facts"]:
                m = NEEDLE.search(fact.get("quote", ""))
                if m is None:
                    continue
                date, key, value = m.group(1) or "", m.group(2), m.group(3)
                if key not in known or (newest and date > known[key][0]):
                    known[key] = (date, value, fact.get("chunk_id") or 0)
        keys = re.findall(r"[A-Z]-\d+", asked)
        if "sum" in asked and keys and all(k in known for k in keys):
            total = sum(int(known[k][1]) for k in keys)
            cites = " ".join(f"[chunk {known[k][2]}]" for k in keys)
            return f"The sum is {total} {cites}."
        shown = [k for k in keys if k in known] if keys else sorted(known)
        return "\n".join(f"{k}: {known[k][1]} [chunk {known[k][2]}]" for k in shown) or "Unknown."

    # -- chain ----------------------------------------------------------------------------

    def _gate(self, model: str, prompt: str, messages: Messages) -> str:
        return f"Checked.\nFINAL ANSWER: {'yes' if self.gate else 'no'}"

    def _critique(self, model: str, prompt: str, messages: Messages) -> str:
        if self.calls["critique"] > self.critic_issues:
            return chain.NO_ISSUES
        return "1. The answer is too short; add a reason."

    def _revise(self, model: str, prompt: str, messages: Messages) -> str:
        previous = [c for r, c in messages if r == "assistant"][-1]
        return f"{previous} Revised with a reason."


def _notes(prompt: str) -> list[dict[str, Any]]:
    m = re.search(r"```json\n(.*?)\n```", prompt, re.DOTALL)
    assert m is not None, "no notes block in the prompt"
    notes: list[dict[str, Any]] = json.loads(m.group(1))
    return notes


# --------------------------------------------------------------------------- documents


@dataclass
class Document:
    text: str
    codes: dict[str, int]  # the true (newest) code of every item
    older: dict[str, int] = field(default_factory=dict)  # superseded values of conflicts


def make_document(
    seed: int, needles: int = 25, paragraphs: int = 60, conflicts: int = 0
) -> Document:
    """Filler prose with planted needles "the code of item K-n is v." at random places;
    ``conflicts`` items get an older dated value early and a newer dated one late."""
    rng = draw(seed, "", "doc", 0, "document")

    def sentence() -> str:
        words = [rng.choice(WORDS) for _ in range(rng.randrange(8, 16))]
        return " ".join(words).capitalize() + "."

    paras = [[sentence() for _ in range(rng.randrange(3, 7))] for _ in range(paragraphs)]
    codes: dict[str, int] = {}
    older: dict[str, int] = {}
    for n in range(needles):
        key, value = f"K-{seed * 1000 + n}", rng.randrange(100, 99999)
        codes[key] = value
        if n < conflicts:
            old = rng.randrange(100, 99999)
            older[key] = old
            early, late = rng.randrange(paragraphs // 2), rng.randrange(paragraphs // 2, paragraphs)
            paras[early].insert(0, f"As of 2021-03-04, the code of item {key} is {old}.")
            paras[late].append(f"As of 2024-06-01, the code of item {key} is {value}.")
        else:
            paras[rng.randrange(paragraphs)].append(
                f"For the record, the code of item {key} is {value}."
            )
    return Document("\n\n".join(" ".join(p) for p in paras) + "\n", codes, older)


# --------------------------------------------------------------------------- plumbing


class RoleProvider(Provider):
    """An in-process provider whose replies come from a policy: fast enough for thousands
    of runs, with the same Caller, events and budget as a real one."""

    def __init__(self, policy: Callable[[str, Messages], str], provider_id: str = "role") -> None:
        super().__init__(provider_id, ProviderSettings())
        self.policy = policy

    async def complete(self, request: ChatRequest) -> Completion:
        text = self.policy(request.model, [(m.role, m.content) for m in request.messages])
        tokens_in = sum(len(m.content) for m in request.messages) // 4 + 1
        return Completion(text, TokenUsage(tokens_in, len(text) // 4 + 1), "stop", request.model)

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:
        completion = await self.complete(request)
        yield TextDelta(completion.text)
        yield completion


def targets(policy: Callable[[str, Messages], str], *names: str) -> list[Target]:
    """One Target per "provider/model" name, all answered by ``policy``."""
    out = []
    for name in names:
        provider, _, model = name.partition("/")
        out.append(Target(RoleProvider(policy, provider), model))
    return out


async def run_inprocess(
    mode: Mode,
    fn: ModeFn,
    request: dict[str, Any],
    panel: list[Target],
    judge: Target | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run a mode in-process; returns (result, every event)."""
    policy = panel[0].provider.policy if isinstance(panel[0].provider, RoleProvider) else None
    ctx = RunContext(
        mode,
        RunRequest(**request),  # type: ignore[typeddict-item]
        panel,
        Caller(),
        judge=judge,
        resolve=(lambda name: targets(policy, name)[0]) if policy else None,
    )
    events = [cast(dict[str, Any], e) async for e in run_mode(ctx, fn)]
    return events[-1]["result"], events


def openai_reply(policy: Callable[[str, Messages], str]) -> Callable[[dict[str, Any]], str]:
    """A ``FakeOpenAI.reply`` hook that answers with ``policy``."""

    def reply(body: dict[str, Any]) -> str:
        messages = []
        for m in body.get("messages", []):
            content = m.get("content", "")
            if isinstance(content, list):
                content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
            messages.append((str(m.get("role")), str(content)))
        return policy(str(body.get("model", "")), messages)

    return reply
