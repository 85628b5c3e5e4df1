"""What a run leaves on the screen, against a real daemon and fake providers: the winner of
a vote, the models the user named, and model names in full in the picker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from superllm_cli.tui.app import SuperllmApp
from superllm_cli.tui.backend import DaemonBackend
from superllm_cli.tui.widgets.judge_pane import JudgePane
from superllm_cli.tui.widgets.model_picker import ModelPicker
from tests.fakes.agents import Fleet, installed
from tests.fakes.items import arithmetic_items
from tests.fakes.openai import FakeOpenAI
from tests.tui.helpers import region_text, run_prompt, screen_text, view, wait_for

pytestmark = pytest.mark.anyio

ITEM = arithmetic_items(1, seed=31)[0]
SIZE = (160, 48)
_CHROME = str.maketrans("", "", "│╭╮╰╯─▐▌▁▂▃▄▅▆▇█ ")


def _run_together(shown: str) -> str:
    """The picker's lines joined with its border, check boxes and scroll bar taken out: a
    name wrapped onto two lines reads whole again."""
    return "".join(line.replace("▐X▌", "").translate(_CHROME) for line in shown.splitlines())


@pytest.fixture
def fleet(fake_openai: FakeOpenAI) -> Iterator[Fleet]:
    with installed(fake_openai, Fleet(seed=9)) as fleet:
        yield fleet


async def test_a_vote_shows_the_winning_answer(backend: DaemonBackend, fleet: Fleet) -> None:
    panel = ["fake/oracle@1", "fake/oracle@2", "fake/noisy-0-spread@1"]
    body = {"prompt": ITEM.prompt, "models": panel, "strategy": "vote", "options": {},
            "env": backend.request_env()}  # fmt: skip
    app = SuperllmApp(backend=backend, start=("/v1/consensus", body))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: view(app).state.finished and not app.main.running)
        await pilot.pause()
        pane = app.main.query_one(JudgePane)
        assert view(app).state.result is not None
        assert view(app).state.result["answer"] == ITEM.gold_key
        assert pane.display and pane.role == "answer"
        await pane.settled()
        assert pane.rendered_text.startswith(ITEM.gold_key)
        assert "2 of 3 agree: fake/oracle@1, fake/oracle@2" in pane.rendered_text
        text = screen_text(app)
        assert "answer: vote" in text and "2 of 3 agree" in text


async def test_tui_keeps_models_the_user_named_outside_the_catalog(
    backend: DaemonBackend, fleet: Fleet
) -> None:
    named = ["fake/not-in-the-list", "fake/oracle@1"]
    app = SuperllmApp(backend=backend, mode="consensus", models=named)
    async with app.run_test(size=SIZE) as pilot:
        picker = app.main.query_one(ModelPicker)
        await wait_for(pilot, lambda: picker.option_count, what="models")
        assert picker.picked == named
        values = [picker.get_option_at_index(i).value for i in range(picker.option_count)]
        assert "fake/not-in-the-list" in values and "fake/oracle@2" in values
        run = await run_prompt(pilot, "consensus", ITEM.prompt)
        assert list(run.columns) == named
        assert all(c.status == "done" for c in run.columns.values())


async def test_the_picker_shows_long_names_in_full_and_prices_on_demand(
    backend: DaemonBackend,
) -> None:
    app = SuperllmApp(backend=backend, mode="consensus")
    async with app.run_test(size=(80, 24)) as pilot:
        picker = app.main.query_one(ModelPicker)
        await wait_for(pilot, lambda: picker.option_count, what="models")
        await pilot.pause()
        long = "fake/noisy-0-shared+corrective-1-0@1"
        picker.focus()
        picker.highlighted = next(
            i for i in range(picker.option_count) if picker.get_option_at_index(i).value == long
        )
        await pilot.pause()
        shown = region_text(app, picker)
        assert long in _run_together(shown)  # wrapped, maybe, but every character there
        assert "unpriced" not in shown  # names only, until asked
        await pilot.press("f8")
        await pilot.pause()
        shown = region_text(app, picker)
        assert long in _run_together(shown)
        assert "fake · unpriced · ctx ?" in shown  # the price under the name
        await pilot.press("f8")
        await pilot.pause()
        assert "unpriced" not in region_text(app, picker)
