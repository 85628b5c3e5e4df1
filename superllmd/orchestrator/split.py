"""Splitting a long text into overlapping chunks that fit a token budget (for map-reduce).

Chunks break where a reader would: at a paragraph end when one falls in the second half of
the budget, else at a sentence end, else between words, and only as a last resort inside a
word (a "sentence" longer than the budget, such as a minified file). Consecutive chunks
share up to ``overlap`` tokens of whole sentences (or words), so a fact cut by a boundary is
still seen whole by one mapper.

Guarantees, checked by property tests: chunks are in document order, every character of the
input lies in at least one chunk, each chunk is ``text[start:end]`` and counts at most
``chunk_tokens`` tokens, and the text two neighbours share counts at most ``overlap``.

Tokens are counted with ``tiktoken`` when it is installed, else estimated at about four
characters per token -- a count that only needs to be right to within the slack the
default budget leaves (3000 tokens against contexts of 8k and more).

Example::

    >>> [c.text for c in split_text("One. Two.\\n\\nThree.", chunk_tokens=3, overlap=0)]
    ['One. Two.\\n\\n', 'Three.']
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "DEFAULT_CHUNK_TOKENS",
    "DEFAULT_OVERLAP",
    "Chunk",
    "TokenCounter",
    "default_counter",
    "estimate_tokens",
    "split_text",
]

DEFAULT_CHUNK_TOKENS: Final = 3000
DEFAULT_OVERLAP: Final = 200
CHARS_PER_TOKEN: Final = 4

TokenCounter = Callable[[str], int]

# Boundary strengths, strongest first; a piece records the strength of the boundary it ends at.
PARAGRAPH, SENTENCE, WORD, FORCED = 0, 1, 2, 3
_LEVELS: Final = (
    (PARAGRAPH, re.compile(r"\n[ \t\r\f\v]*\n\s*")),
    (SENTENCE, re.compile(r"[.!?\u3002]+[\"'\u201d\u2019)\]]*\s+")),
    (WORD, re.compile(r"\s+")),
)


def estimate_tokens(text: str) -> int:
    """About four characters per token, rounded up (what most BPE vocabularies give for
    English prose)."""
    return -(-len(text) // CHARS_PER_TOKEN)


def default_counter() -> TokenCounter:
    """``tiktoken``'s cl100k count when that package is installed, else the estimate."""
    try:  # optional: imported by name so that type checking does not require it
        tiktoken: Any = importlib.import_module("tiktoken")
    except ImportError:
        return estimate_tokens
    try:
        encoding = tiktoken.get_encoding("cl100k_base")
    except Exception:  # its vocabulary is fetched on first use, which offline can fail
        return estimate_tokens

    def count(text: str) -> int:
        return len(encoding.encode(text, disallowed_special=()))

    return count


@dataclass(frozen=True, slots=True)
class Chunk:
    """``text == source[start:end]``; ids count from 1 in document order (cited as
    ``[chunk N]``)."""

    id: int
    start: int
    end: int
    text: str
    tokens: int


@dataclass(frozen=True, slots=True)
class _Piece:
    start: int
    end: int
    strength: int  # of the boundary at ``end``


class _Splitter:
    def __init__(self, text: str, budget: int, count: TokenCounter) -> None:
        self.text = text
        self.budget = budget
        self.count = count

    def tokens(self, start: int, end: int) -> int:
        return self.count(self.text[start:end])

    def pieces(self, start: int, end: int, level: int, end_strength: int) -> list[_Piece]:
        """Cut [start, end) into pieces that each fit the budget, at the strongest boundaries
        available from ``level`` down. Paragraphs are always cut into sentences, so that the
        overlap and the cut can fall between any two sentences; words only when a sentence
        does not fit."""
        if level > SENTENCE and self.tokens(start, end) <= self.budget:
            return [_Piece(start, end, end_strength)]
        if level >= len(_LEVELS):
            return self._forced(start, end, end_strength)
        strength, pattern = _LEVELS[level]
        # Sentences keep their trailing space; between words, the space is a piece of its own,
        # so that a word and the space after it never have to be cut apart inside the word.
        edges = (
            m.span() if strength == WORD else (m.end(),)
            for m in pattern.finditer(self.text, start, end)
        )
        cuts = sorted({c for pair in edges for c in pair if start < c < end})
        bounds = [start, *cuts, end]
        out: list[_Piece] = []
        for i in range(len(bounds) - 1):
            last = i == len(bounds) - 2
            out += self.pieces(
                bounds[i], bounds[i + 1], level + 1, end_strength if last else strength
            )
        return out

    def _forced(self, start: int, end: int, end_strength: int) -> list[_Piece]:
        out: list[_Piece] = []
        while start < end:
            lo, hi = start + 1, end  # the longest prefix that fits; one character always does
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if self.tokens(start, mid) <= self.budget:
                    lo = mid
                else:
                    hi = mid - 1
            out.append(_Piece(start, lo, end_strength if lo == end else FORCED))
            start = lo
        return out


def split_text(
    text: str,
    chunk_tokens: int = DEFAULT_CHUNK_TOKENS,
    overlap: int = DEFAULT_OVERLAP,
    count: TokenCounter = estimate_tokens,
) -> list[Chunk]:
    """Split ``text`` into chunks of at most ``chunk_tokens`` tokens sharing up to ``overlap``
    tokens with their neighbour. An empty text has no chunks.

    Raises ValueError for a budget below one token or an overlap not below the budget.
    """
    if chunk_tokens < 1:
        raise ValueError(f"chunk_tokens must be at least 1, got {chunk_tokens}")
    if not 0 <= overlap < chunk_tokens:
        raise ValueError(f"overlap must be between 0 and chunk_tokens - 1, got {overlap}")
    if not text:
        return []
    sp = _Splitter(text, chunk_tokens, count)
    pieces = sp.pieces(0, len(text), 0, PARAGRAPH)
    chunks: list[Chunk] = []
    s, e = 0, -1
    while s < len(pieces):
        e = _choose_end(sp, pieces, s, e + 1)
        start, end = pieces[s].start, pieces[e].end
        chunks.append(Chunk(len(chunks) + 1, start, end, text[start:end], sp.tokens(start, end)))
        if e == len(pieces) - 1:
            break
        s = _next_start(sp, pieces, s, e, overlap)
    return chunks


def _choose_end(sp: _Splitter, pieces: list[_Piece], s: int, floor: int) -> int:
    """The last piece of the chunk starting at piece ``s``; at least ``floor``, so that each
    chunk reaches past the one before."""
    # The furthest piece that still fits (counts grow with the span, so bisect) ...
    lo, hi = s, len(pieces) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if sp.tokens(pieces[s].start, pieces[mid].end) <= sp.budget:
            lo = mid
        else:
            hi = mid - 1
    furthest = lo
    if furthest == len(pieces) - 1:
        return furthest
    # ... then, within the second half of the budget, the strongest boundary (latest on ties).
    best = furthest
    for e in range(furthest - 1, max(s, floor) - 1, -1):
        if 2 * sp.tokens(pieces[s].start, pieces[e].end) < sp.budget:
            break
        if pieces[e].strength < pieces[best].strength:
            best = e
    return best


def _next_start(sp: _Splitter, pieces: list[_Piece], s: int, e: int, overlap: int) -> int:
    """The first piece of the next chunk: as far back as ``overlap`` tokens allow (never
    before ``s + 1``, so the split always advances), with room left for one new piece."""
    j = e + 1
    while j - 1 > s and sp.tokens(pieces[j - 1].start, pieces[e].end) <= overlap:
        j -= 1
    while j <= e and sp.tokens(pieces[j].start, pieces[e + 1].end) > sp.budget:
        j += 1
    return j
