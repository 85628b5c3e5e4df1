"""``mapreduce``: split a long input, take structured notes per chunk in parallel, collapse
the notes in document order until they fit, and reduce them to one cited answer.

Input and question: the document is the prompt (usually stdin). The question is
``mode_options["question"]`` (``-q``); without one, a first line ending in "?" is taken as
the question and the rest as the document; otherwise the question is a summarisation
instruction (:data:`SUMMARISE`).

Stages, each ending with a ``round.finished`` event so the terminal shows progress:

1. **Split** with :func:`~superllmd.orchestrator.split.split_text`: ``chunk_tokens`` defaults
   to min(3000, half the smallest known context window in the pool), ``overlap`` to 200
   (never more than a quarter of the chunk).
2. **Map** (round 0): chunk *i* goes to participant *i mod n*, all in parallel. Each returns
   the LLM×MapReduce note ``{relevant_facts: [{fact, quote, chunk_id}], partial_answer,
   confidence, needs_other_chunks}``, validated and retried twice; a note that never
   validates is kept as plain text with confidence 0 and a warning, so a model that cannot
   write JSON still contributes.
3. **Collapse** (rounds 1..d): while the notes exceed ``token_max`` (3000), group them in
   document order into groups of at most ``token_max`` and merge each group with the same
   schema. At most ``max_collapse_depth`` (4) passes; a pass that shrinks the notes by less
   than 10% stops the collapse (LangChain retries forever here). Notes still over the limit
   are truncated, lowest confidence first, with a warning.
4. **Reduce** (last round): the reducer -- ``--judge``, else the first participant -- answers
   from the notes, citing ``[chunk N]``. With ``date_rule`` (default on) it is told to prefer
   the most recently dated value when facts conflict.

``ctx.report`` holds the question, the chunks (offsets, tokens, mapper), the collapse depth,
the chunks the answer cites, and every warning.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, Final

from superllmd.errors import ProviderError, SuperllmError, UsageError
from superllmd.orchestrator.context import RunContext
from superllmd.orchestrator.run import all_failed
from superllmd.orchestrator.split import (
    DEFAULT_CHUNK_TOKENS,
    DEFAULT_OVERLAP,
    Chunk,
    TokenCounter,
    default_counter,
    estimate_tokens,
    split_text,
)
from superllmd.orchestrator.structured import ask_json, gather_all
from superllmd.providers.base import Message
from superllmd.providers.registry import Target

__all__ = [
    "DATE_RULE",
    "DEFAULT_MAX_COLLAPSE_DEPTH",
    "DEFAULT_TOKEN_MAX",
    "NOTE_SCHEMA",
    "SUMMARISE",
    "TASK_COLLAPSE",
    "TASK_MAP",
    "TASK_REDUCE",
    "run",
]

DEFAULT_TOKEN_MAX: Final = 3000
DEFAULT_MAX_COLLAPSE_DEPTH: Final = 4
MIN_SHRINK: Final = 0.10
SUMMARISE: Final = "Summarise the document: its main points and the key facts behind them."
TASK_MAP: Final = "You take notes on one chunk of a long document, for a question about it."
TASK_COLLAPSE: Final = "You merge notes taken from consecutive chunks of a long document."
TASK_REDUCE: Final = "You answer a question about a long document from notes taken on it."
DATE_RULE: Final = (
    "When facts conflict and carry dates, prefer the most recently dated value and say so."
)
NOTE_SHAPE: Final = (
    '{"relevant_facts": [{"fact": "...", "quote": "exact words from the text", "chunk_id": N}],'
    ' "partial_answer": "...", "confidence": 0.0-1.0, "needs_other_chunks": ["..."]}'
)
NOTE_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["relevant_facts", "partial_answer", "confidence", "needs_other_chunks"],
    "properties": {
        "relevant_facts": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["fact"],
                "properties": {
                    "fact": {"type": "string"},
                    "quote": {"type": "string"},
                    "chunk_id": {"type": ["integer", "null"]},
                },
            },
        },
        "partial_answer": {"type": "string"},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "needs_other_chunks": {"type": "array", "items": {"type": "string"}},
    },
}
_CITATION: Final = re.compile(r"\[chunks?\s*([\d,;\s]+)\]", re.IGNORECASE)
Note = dict[str, Any]


def _coerce_note(value: Any) -> Any:
    """Fill the fields small models forget, so a note is judged on its facts."""
    if not isinstance(value, dict):
        return value
    note = dict(value)
    note.setdefault("needs_other_chunks", [])
    note.setdefault("confidence", 0.5)
    if note.get("partial_answer") is None:
        note["partial_answer"] = ""
    if isinstance(note["confidence"], str):
        note["confidence"] = float(note["confidence"])
    if isinstance(note["needs_other_chunks"], str):
        note["needs_other_chunks"] = (
            [note["needs_other_chunks"]] if note["needs_other_chunks"] else []
        )
    for fact in note.get("relevant_facts") or []:
        if isinstance(fact, dict) and isinstance(fact.get("chunk_id"), str):
            digits = re.sub(r"\D", "", fact["chunk_id"])
            fact["chunk_id"] = int(digits) if digits else None
    return note


def _option(options: dict[str, Any], key: str, default: int, low: int) -> int:
    value = options.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise UsageError(f"mapreduce: {key} must be an integer >= {low}, got {value!r}")
    return value


def _question(prompt: str, options: dict[str, Any]) -> tuple[str, str, str]:
    """(question, document, where the question came from)."""
    if options.get("question"):
        return str(options["question"]), prompt, "option"
    first, _, rest = prompt.strip().partition("\n")
    if first.strip().endswith("?") and rest.strip():
        return first.strip(), rest.strip("\n"), "first line"
    return SUMMARISE, prompt, "default"


def _default_chunk_tokens(pool: Sequence[Target]) -> int:
    windows = [t.provider.capabilities(t.model).context_window for t in pool]
    known = [w for w in windows if w]
    return min([DEFAULT_CHUNK_TOKENS, *(w // 2 for w in known)])


def _size(notes: Sequence[Note], count: TokenCounter) -> int:
    return sum(count(json.dumps(n, ensure_ascii=False)) for n in notes)


def _note_block(notes: Sequence[Note]) -> str:
    return "```json\n" + json.dumps(list(notes), ensure_ascii=False, indent=1) + "\n```"


async def run(ctx: RunContext) -> None:
    options: dict[str, Any] = dict(ctx.request.get("mode_options") or {})
    question, document, source = _question(ctx.request["prompt"], options)
    pool = ctx.participants
    chunk_tokens = _option(options, "chunk_tokens", _default_chunk_tokens(pool), 1)
    overlap = _option(options, "overlap", min(DEFAULT_OVERLAP, chunk_tokens // 4), 0)
    if overlap >= chunk_tokens:
        raise UsageError(
            f"mapreduce: overlap ({overlap}) must be below chunk_tokens ({chunk_tokens})"
        )
    token_max = _option(options, "token_max", DEFAULT_TOKEN_MAX, 1)
    max_depth = _option(options, "max_collapse_depth", DEFAULT_MAX_COLLAPSE_DEPTH, 0)
    date_rule = bool(options.get("date_rule", True))
    count = default_counter()
    chunks = split_text(document, chunk_tokens, overlap, count)
    if not chunks or not document.strip():
        raise UsageError("mapreduce: the input is empty; give the document on stdin")
    warnings: list[str] = []
    ctx.report.update(
        question=question,
        question_source=source,
        chunk_tokens=chunk_tokens,
        overlap=overlap,
        token_max=token_max,
        tokenizer="estimate" if count is estimate_tokens else "tiktoken",
        date_rule=date_rule,
        chunks=[
            {"id": c.id, "start": c.start, "end": c.end, "tokens": c.tokens, "model": ""}
            for c in chunks
        ],
        warnings=warnings,
    )
    notes = await _map(ctx, chunks, question, warnings)
    notes, depth = await _collapse(ctx, notes, question, token_max, max_depth, count, warnings)
    ctx.report["collapse_depth"] = depth
    ctx.report["notes_tokens"] = _size(notes, count)
    # If the budget stops the reduce, the run still ends with what the notes say.
    ctx.answer = (
        "\n".join(
            f"[chunks {', '.join(map(str, n['chunks']))}] {n['partial_answer']}"
            for n in notes
            if n["partial_answer"].strip()
        )
        or None
    )
    await _reduce(ctx, notes, question, date_rule, depth + 1, len(chunks))


async def _map(
    ctx: RunContext, chunks: Sequence[Chunk], question: str, warnings: list[str]
) -> list[Note]:
    pool = ctx.participants
    n = len(chunks)

    def messages(chunk: Chunk) -> list[Message]:
        return [
            Message(
                "user",
                f"{TASK_MAP}\nQuestion: {question}\nThis is chunk {chunk.id} of {n}.\n"
                f"--- begin chunk {chunk.id} ---\n{chunk.text}\n--- end chunk {chunk.id} ---\n"
                "List every fact in this chunk that bears on the question, each with an exact "
                "quote and its chunk_id; give what the chunk says towards an answer, how "
                "confident you are, and what other parts of the document would be needed. "
                f"Reply with only a JSON object: {NOTE_SHAPE}",
            )
        ]

    failures: list[SuperllmError] = []

    async def one(i: int, chunk: Chunk) -> Note | None:
        target = pool[i % len(pool)]
        ctx.report["chunks"][i]["model"] = target.name
        got = await ask_json(
            ctx, target, messages(chunk), NOTE_SCHEMA, coerce=_coerce_note, round_=0
        )
        if got.provider_error is not None:
            failures.append(got.provider_error)
            warnings.append(f"chunk {chunk.id}: {target.name} failed: {got.provider_error.message}")
            return None
        if not got.ok:
            warnings.append(
                f"chunk {chunk.id}: no valid JSON note after {got.attempts} attempts; "
                "kept the reply as plain text"
            )
            return _plain_note(got.text, [chunk.id])
        note: Note = got.value
        for fact in note["relevant_facts"]:
            fact["chunk_id"] = chunk.id  # a mapper sees one chunk: its citations are that one
        return {"chunks": [chunk.id], **note}

    results = await gather_all(ctx, [one(i, c) for i, c in enumerate(chunks)])
    notes = [r for r in results if r is not None]
    if not notes:
        raise all_failed("mapreduce: every map call failed; see the errors above", failures)
    ctx.round_finished(0, None, stage="map", chunks=n, notes=len(notes), failed=n - len(notes))
    return notes


def _plain_note(text: str, chunk_ids: list[int]) -> Note:
    return {
        "chunks": chunk_ids,
        "relevant_facts": [],
        "partial_answer": text.strip()[:2000],
        "confidence": 0.0,
        "needs_other_chunks": [],
    }


def _groups(notes: Sequence[Note], token_max: int, count: TokenCounter) -> list[list[Note]]:
    groups: list[list[Note]] = []
    size = 0
    for note in notes:
        tokens = _size([note], count)
        if groups and size + tokens <= token_max:
            groups[-1].append(note)
            size += tokens
        else:
            groups.append([note])
            size = tokens
    return groups


async def _collapse(
    ctx: RunContext,
    notes: list[Note],
    question: str,
    token_max: int,
    max_depth: int,
    count: TokenCounter,
    warnings: list[str],
) -> tuple[list[Note], int]:
    depth = 0
    total = _size(notes, count)
    while total > token_max and depth < max_depth:
        depth += 1
        groups = _groups(notes, token_max, count)
        merged = await gather_all(
            ctx, [_merge(ctx, i, g, question, depth, warnings) for i, g in enumerate(groups)]
        )
        # A group the budget stopped keeps its notes unmerged rather than losing them.
        new_notes = [
            n for g, m in zip(groups, merged, strict=True) for n in (m if m is not None else g)
        ]
        new_total = _size(new_notes, count)
        ctx.round_finished(
            depth, None, stage="collapse", depth=depth, notes=len(new_notes), tokens=new_total
        )
        if new_total > (1 - MIN_SHRINK) * total:
            warnings.append(
                f"collapse pass {depth} shrank the notes by less than {MIN_SHRINK:.0%} "
                f"({total} -> {new_total} tokens); stopped collapsing"
            )
            if new_total < total:
                notes, total = new_notes, new_total
            break
        notes, total = new_notes, new_total
    if total > token_max:
        notes = _truncate(notes, token_max, count, warnings)
    return notes, depth


async def _merge(
    ctx: RunContext, i: int, group: list[Note], question: str, depth: int, warnings: list[str]
) -> list[Note]:
    target = ctx.participants[i % len(ctx.participants)]
    ids = sorted({c for n in group for c in n["chunks"]})
    prompt = (
        f"{TASK_COLLAPSE}\nQuestion: {question}\nNotes, in document order:\n{_note_block(group)}\n"
        "Merge them into one note: keep every fact that bears on the question with its quote "
        "and chunk_id, drop duplicates, combine the partial answers, and give an overall "
        f"confidence. Reply with only a JSON object: {NOTE_SHAPE}"
    )
    got = await ask_json(
        ctx, target, [Message("user", prompt)], NOTE_SCHEMA, coerce=_coerce_note, round_=depth
    )
    if not got.ok:
        why = got.provider_error.message if got.provider_error else "no valid JSON"
        warnings.append(f"collapse pass {depth}: chunks {ids} kept unmerged ({why})")
        return group
    note: Note = got.value
    for fact in note["relevant_facts"]:
        if fact.get("chunk_id") not in ids:
            fact["chunk_id"] = None  # a citation the group cannot back is not kept as one
    return [{"chunks": ids, **note}]


def _truncate(
    notes: list[Note], token_max: int, count: TokenCounter, warnings: list[str]
) -> list[Note]:
    kept = list(notes)
    dropped: list[int] = []
    while len(kept) > 1 and _size(kept, count) > token_max:
        # Lowest confidence goes first; among equals, the latest in the document.
        worst = min(range(len(kept)), key=lambda j: (kept[j].get("confidence", 0.0), -j))
        dropped += kept.pop(worst)["chunks"]
    warnings.append(
        f"notes still exceed token_max ({token_max}); dropped the lowest-confidence notes "
        f"(chunks {sorted(dropped)})"
        + ("; the remaining note is still over the limit" if _size(kept, count) > token_max else "")
    )
    return kept


async def _reduce(
    ctx: RunContext, notes: list[Note], question: str, date_rule: bool, round_: int, n: int
) -> None:
    reducer = ctx.judge or ctx.participants[0]
    rules = [
        "Resolve conflicts by the quality of the evidence (exact quotes) and confidence.",
        *([DATE_RULE] if date_rule else []),
        "Cite the chunk ids behind each claim as [chunk N].",
        "Say what the notes do not tell.",
    ]
    prompt = (
        f"{TASK_REDUCE}\nQuestion: {question}\nNotes from {n} chunks, in document order:\n"
        f"{_note_block(notes)}\n" + "\n".join(rules)
    )
    system = ctx.request.get("system")
    messages = [*([Message("system", system)] if system else []), Message("user", prompt)]
    outcome = await ctx.call(reducer, messages, round_=round_, role="judge")
    if outcome.completion is None:
        raise outcome.error or ProviderError("mapreduce: the reducer gave no answer")
    ctx.answer = outcome.text
    ctx.judge_result = {"model": reducer.name, "answer": outcome.text}
    cited = {
        int(x) for m in _CITATION.finditer(outcome.text) for x in re.findall(r"\d+", m.group(1))
    }
    ctx.report["cited_chunks"] = sorted(c for c in cited if 1 <= c <= n)
    ctx.round_finished(round_, None, stage="reduce", notes=len(notes))
