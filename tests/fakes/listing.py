"""Paging for the fakes' model lists, the way each vendor pages: a page size the client asks
for (capped by the fake's ``page_size``, so a test can force several pages) and an opaque
token or id to continue from."""

from __future__ import annotations

from typing import Any

__all__ = ["page"]


def page(
    items: list[Any], asked: str | None, cap: int | None, start: int = 0
) -> tuple[list[Any], int | None]:
    """The page of ``items`` from ``start``, and where the next page starts (None: last)."""
    size = int(asked) if asked and asked.isdigit() else 20
    if cap is not None:
        size = min(size, cap)
    chunk = items[start : start + size]
    after = start + size
    return chunk, after if after < len(items) else None
