"""Model output is shown as written unless it is Markdown: "3+4*5-2" and "<number>" survive."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult

from superllm_cli.tui.markup import escape_markdown, markdown_shaped
from superllm_cli.tui.widgets.participant_column import ParticipantColumn

PLAIN = "Compute 3+4*5-2 step by step. FINAL ANSWER: <number>"
pytestmark = pytest.mark.anyio

MARKDOWN = "# Steps\n\n- first **multiply**: 4*5 = 20\n- then `3+20-2`"


class _One(App[None]):
    def compose(self) -> ComposeResult:
        yield ParticipantColumn("fake/model", id="col")


def _screen_text(app: App[None]) -> str:
    import html
    import re

    svg = app.export_screenshot()
    return html.unescape(re.sub(r"<[^>]+>", "", svg)).replace("\xa0", " ")


async def test_plain_answers_keep_their_stars_and_angle_brackets() -> None:
    app = _One()
    async with app.run_test(size=(80, 12)) as pilot:
        column = app.query_one(ParticipantColumn)
        await column.show(PLAIN)
        await pilot.pause()
        shown = _screen_text(app)
        assert "3+4*5-2" in shown and "<number>" in shown


async def test_streamed_plain_answers_too() -> None:
    app = _One()
    async with app.run_test(size=(80, 12)) as pilot:
        column = app.query_one(ParticipantColumn)
        for piece in ("Compute 3+4*", "5-2 step by step. ", "FINAL ANSWER: <num", "ber>"):
            column.append(piece)
        await column.settled()
        await pilot.pause()
        shown = _screen_text(app)
        assert "3+4*5-2" in shown and "<number>" in shown
        assert column.rendered_text == PLAIN


async def test_markdown_answers_are_still_rendered() -> None:
    app = _One()
    async with app.run_test(size=(80, 12)) as pilot:
        await app.query_one(ParticipantColumn).show(MARKDOWN)
        await pilot.pause()
        shown = _screen_text(app)
        assert "# Steps" not in shown and "Steps" in shown  # a heading, not its marker
        assert "**multiply**" not in shown and "multiply" in shown


def test_shape_and_escape() -> None:
    assert not markdown_shaped(PLAIN) and markdown_shaped(MARKDOWN)
    assert escape_markdown("a*b <c>") == "a\\*b \\<c\\>"
