"""The token-budget splitter behind map-reduce (ORCHESTRATION.md §4.6)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from superllmd.orchestrator.split import Chunk, TokenCounter, estimate_tokens, split_text


def words(text: str) -> int:
    """A different tokenizer: one token per whitespace-separated word (at least one)."""
    return max(len(text.split()), 1) if text else 0


def assert_invariants(
    text: str, chunks: list[Chunk], budget: int, overlap: int, count: TokenCounter
) -> None:
    assert chunks, "a non-empty text has chunks"
    assert chunks[0].start == 0 and chunks[-1].end == len(text)
    for i, chunk in enumerate(chunks):
        assert chunk.id == i + 1
        assert chunk.text == text[chunk.start : chunk.end]
        assert chunk.tokens == count(chunk.text) <= budget
    for prev, nxt in itertools.pairwise(chunks):
        assert prev.start < nxt.start <= prev.end, "in order, advancing, no gap"
        assert prev.end < nxt.end
        assert count(text[nxt.start : prev.end]) <= overlap


def test_empty_text_has_no_chunks() -> None:
    assert split_text("") == []


def test_short_text_is_one_chunk() -> None:
    text = "Just one line.\n\nAnd another paragraph."
    assert [(c.start, c.end, c.text) for c in split_text(text)] == [(0, len(text), text)]


@pytest.mark.parametrize(("budget", "overlap"), [(0, 0), (10, 10), (10, -1), (10, 11)])
def test_bad_budget_or_overlap(budget: int, overlap: int) -> None:
    with pytest.raises(ValueError, match=r"chunk_tokens|overlap"):
        split_text("text", budget, overlap)


def test_breaks_at_paragraph_ends_when_they_fit() -> None:
    paragraphs = [f"Paragraph {i} has a first sentence. And a second one here." for i in range(12)]
    text = "\n\n".join(paragraphs)
    chunks = split_text(text, chunk_tokens=40, overlap=0)
    assert len(chunks) > 3
    for chunk in chunks[:-1]:
        assert chunk.text.endswith("\n\n"), chunk.text  # never mid-paragraph
    assert_invariants(text, chunks, 40, 0, estimate_tokens)


def test_long_paragraph_breaks_at_sentences() -> None:
    text = " ".join(f"Sentence number {i} says something." for i in range(60))
    chunks = split_text(text, chunk_tokens=30, overlap=0)
    assert len(chunks) > 5
    for chunk in chunks[:-1]:
        assert chunk.text.endswith(". "), chunk.text


def test_a_word_longer_than_the_budget_is_cut() -> None:
    text = "short words first " + "x" * 200 + " and after"
    chunks = split_text(text, chunk_tokens=10, overlap=0)
    assert_invariants(text, chunks, 10, 0, estimate_tokens)
    assert max(len(c.text) for c in chunks) <= 40


def test_overlap_repeats_whole_sentences() -> None:
    text = " ".join(f"Fact {i} is here." for i in range(100))
    chunks = split_text(text, chunk_tokens=50, overlap=12)
    assert_invariants(text, chunks, 50, 12, estimate_tokens)
    shared = [text[b.start : a.end] for a, b in itertools.pairwise(chunks)]
    assert all(s for s in shared), "neighbours share text when the overlap allows"
    for s in shared:
        assert s.startswith("Fact ") and s.endswith(". "), s


def test_counts_with_the_given_tokenizer() -> None:
    text = " ".join(f"w{i}" for i in range(1000))
    chunks = split_text(text, chunk_tokens=100, overlap=10, count=words)
    assert_invariants(text, chunks, 100, 10, words)
    assert all(c.tokens > 80 for c in chunks[:-1])  # well filled, not cut early


def test_each_chunk_reaches_past_the_last() -> None:
    # Found by a stress run: a strong boundary inside the overlap must not end a chunk where
    # the previous one ended.
    text = "a! bb\n\n ddddddddeeeeeeeeeeeeeeeeee \t\n\n  ? \t\t! ccc\n\n\ndddddddd\n \na\n"
    for budget, overlap in ((3, 2), (2, 1), (4, 3)):
        chunks = split_text(text, budget, overlap, count=words)
        assert_invariants(text, chunks, budget, overlap, words)


prose = st.lists(
    st.one_of(
        st.text(alphabet="abcdefgh", min_size=1, max_size=12),
        st.sampled_from([" ", " ", " ", ". ", "! ", "\n", "\n\n", "\n \n", "? "]),
    ),
    max_size=300,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(text=prose, budget=st.integers(1, 120), data=st.data())
def test_split_properties(text: str, budget: int, data: st.DataObject) -> None:
    overlap = data.draw(st.integers(0, budget - 1))
    chunks = split_text(text, budget, overlap)
    if not text:
        assert chunks == []
        return
    assert_invariants(text, chunks, budget, overlap, estimate_tokens)
    covered: set[int] = set()
    for chunk in chunks:
        covered.update(range(chunk.start, chunk.end))
    assert covered == set(range(len(text))), "every character is in some chunk"
    # Where every word fits the budget, no chunk ends inside a word.
    if all(estimate_tokens(w) <= budget for w in text.split()):
        for chunk in chunks[:-1]:
            inside = not text[chunk.end - 1].isspace() and not text[chunk.end].isspace()
            assert not inside, (chunk.text, text)


@settings(max_examples=150, deadline=None)
@given(text=prose, budget=st.integers(1, 40), data=st.data())
def test_split_properties_with_another_tokenizer(
    text: str, budget: int, data: st.DataObject
) -> None:
    overlap = data.draw(st.integers(0, budget - 1))
    chunks = split_text(text, budget, overlap, count=words)
    if text:
        assert_invariants(text, chunks, budget, overlap, words)
