"""The SSE reader against the hazards of WIRE.md section 1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from hypothesis import given
from hypothesis import strategies as st

from superllmd.providers._http import SSEEvent, iter_sse


async def _chunks(parts: list[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def parse(parts: list[bytes]) -> list[SSEEvent]:
    async def run() -> list[SSEEvent]:
        return [e async for e in iter_sse(_chunks(parts))]

    return asyncio.run(run())


def test_events_comments_and_names() -> None:
    raw = b": keep-alive\n\nevent: ping\ndata: {}\n\ndata: a\ndata: b\nid: 7\n\n"
    assert parse([raw]) == [SSEEvent("ping", "{}"), SSEEvent("message", "a\nb", "7")]


def test_crlf_and_cr_line_endings() -> None:
    assert parse([b"data: x\r\n\r\ndata: y\r\rdata: z\n\n"]) == [
        SSEEvent("message", "x"),
        SSEEvent("message", "y"),
        SSEEvent("message", "z"),
    ]


def test_crlf_split_across_chunks_is_one_line_end() -> None:
    assert parse([b"data: x\r", b"\n\r", b"\ndata: y\r\n\r\n"]) == [
        SSEEvent("message", "x"),
        SSEEvent("message", "y"),
    ]


def test_utf8_split_across_chunks() -> None:
    data = "data: héllo ✓\n\n".encode()
    assert parse([data[:8], data[8:13], data[13:]]) == [SSEEvent("message", "héllo ✓")]


def test_last_event_without_blank_line_is_delivered() -> None:
    assert parse([b"data: [DONE]"]) == [SSEEvent("message", "[DONE]")]


def test_openrouter_processing_comment_ignored() -> None:
    assert parse([b": OPENROUTER PROCESSING\n\n: OPENROUTER PROCESSING\n\n"]) == []


@given(
    st.lists(
        st.text(
            alphabet=st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)),
            max_size=20,
        ),
        min_size=1,
        max_size=6,
    ),
    st.sampled_from([b"\n", b"\r\n", b"\r"]),
    st.data(),
)
def test_any_chunking_gives_the_same_events(
    payloads: list[str], eol: bytes, data: st.DataObject
) -> None:
    raw = b"".join(b"data: " + p.encode() + eol + eol for p in payloads)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=8)))
    parts = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
    assert [e.data for e in parse(parts)] == payloads
