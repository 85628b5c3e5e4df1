"""Model output in the TUI: Markdown where the answer is written in Markdown, plain text
(escaped) where it is not, so "3+4*5-2" keeps its stars and "<number>" does not vanish as
an HTML tag."""

from __future__ import annotations

import re
from typing import Final

__all__ = ["escape_markdown", "for_markdown", "markdown_shaped"]

#: Signs that a text was written as Markdown: a fence, a heading, a list, emphasis pairs,
#: a link or a table row.
_SHAPED: Final = re.compile(
    r"```|^#{1,6} \S|^\s*(?:[-*+]|\d+\.) \S|\*\*\S[^*\n]*\*\*|__\S[^_\n]*__|"
    r"`[^`\n]+`|\]\([^)\s]+\)|^\|.*\|\s*$",
    re.M,
)
_SPECIAL: Final = re.compile(r"([\\`*_\[\]<>#|~])")


def markdown_shaped(text: str) -> bool:
    """Whether ``text`` reads as Markdown (then it is rendered as such)."""
    return bool(_SHAPED.search(text))


def escape_markdown(text: str) -> str:
    """``text`` with every character Markdown would act on escaped: it shows as written."""
    return _SPECIAL.sub(r"\\\1", text)


def for_markdown(text: str, shaped: bool) -> str:
    """What to hand the Markdown widget for ``text``: itself if ``shaped``, else escaped."""
    return text if shaped else escape_markdown(text)
