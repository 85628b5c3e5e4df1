"""The app against a real daemon and fake providers: a prompt in each mode, rounds, a failing
participant, cancelling."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from superllm_cli.tui.app import SuperllmApp
from superllm_cli.tui.backend import DaemonBackend
from superllm_cli.tui.widgets.agreement_meter import AgreementMeter
from superllm_cli.tui.widgets.judge_pane import JudgePane
from superllm_cli.tui.widgets.model_picker import ModelPicker
from superllm_cli.tui.widgets.redteam_view import RedteamView
from superllm_cli.tui.widgets.round_tabs import RoundTabs
from superllm_cli.tui.widgets.run_totals import RunTotals
from tests.fakes.agents import Fleet, installed
from tests.fakes.items import arithmetic_items
from tests.fakes.openai import FakeOpenAI
from tests.fakes.roles import Roles, openai_reply
from tests.tui.helpers import column, run_prompt, screen_text, send, view, wait_for

pytestmark = pytest.mark.anyio

ITEM = arithmetic_items(1, seed=31)[0]
SIZE = (160, 48)


@pytest.fixture
def fleet(fake_openai: FakeOpenAI) -> Iterator[Fleet]:
    with installed(fake_openai, Fleet(seed=9)) as fleet:
        yield fleet


def app_for(backend: DaemonBackend, *models: str, mode: str = "consensus") -> SuperllmApp:
    return SuperllmApp(backend=backend, mode=mode, models=[f"fake/{m}" for m in models])


async def test_the_picker_lists_the_configured_models_with_their_details(
    backend: DaemonBackend,
) -> None:
    app = SuperllmApp(backend=backend)
    async with app.run_test(size=SIZE) as pilot:
        picker = app.main.query_one(ModelPicker)
        await wait_for(pilot, lambda: picker.option_count, what="models")
        values = [picker.get_option_at_index(i).value for i in range(picker.option_count)]
        assert "fake/oracle@1" in values and "fake/error-401" in values
        # Keyless presets for local servers that may not run are not offered.
        assert not any(v.startswith(("lmstudio/", "vllm/")) for v in values)
        picker.focus()
        picker.highlighted = values.index("fake/oracle@2")
        await pilot.press("space")
        picker.highlighted = values.index("fake/oracle@1")
        await pilot.press("space")
        assert picker.picked == ["fake/oracle@2", "fake/oracle@1"]  # in the order picked
        assert "fake · unpriced · ctx ?" not in screen_text(app)  # names only, until asked
        await pilot.press("f8")
        await pilot.pause()
        assert "fake · unpriced · ctx ?" in screen_text(app)  # under each name


async def test_ask_streams_one_answer(backend: DaemonBackend) -> None:
    app = app_for(backend, "oracle@1", mode="ask")
    async with app.run_test(size=SIZE) as pilot:
        run = await run_prompt(pilot, "ask", "hello there")
        assert run.state.mode == "ask"
        (name,) = run.columns
        assert name == "fake/oracle@1"
        assert column(app, name).status == "done"
        assert column(app, name).rendered_text == run.state.lanes[name].text_at(0)
        assert run.state.lanes[name].text_at(0)
        assert app.main.query_one(RunTotals).calls == 1


async def test_consensus_streams_a_column_per_participant(
    backend: DaemonBackend, fleet: Fleet
) -> None:
    app = app_for(backend, "oracle@1", "oracle@2", "oracle@3")
    async with app.run_test(size=SIZE) as pilot:
        run = await run_prompt(pilot, "consensus", ITEM.prompt)
        assert list(run.columns) == ["fake/oracle@1", "fake/oracle@2", "fake/oracle@3"]
        for name, col in run.columns.items():
            assert col.status == "done"
            # Everything streamed reached the widget, in order, nothing lost.
            assert col.rendered_text == run.state.lanes[name].text_at(0)
            assert ITEM.gold_key in col.rendered_text.replace(",", "")
        assert run.state.result is not None and run.state.result["answer"] == ITEM.gold_key
        assert app.main.query_one(AgreementMeter).agreement == 1.0
        totals = app.main.query_one(RunTotals)
        assert totals.calls == 3 and totals.output_tokens > 0 and totals.unpriced
        text = screen_text(app)
        assert "● fake/oracle@1" in text and "done" in text and "unpriced" in text


async def test_a_failing_participant_shows_its_error_in_place(
    backend: DaemonBackend, fleet: Fleet
) -> None:
    app = app_for(backend, "oracle@1", "error-401", "oracle@2")
    async with app.run_test(size=SIZE) as pilot:
        run = await run_prompt(pilot, "consensus", ITEM.prompt)
        failed = column(app, "fake/error-401")
        assert failed.status == "failed"
        assert failed.error is not None and "auth" in failed.error
        assert failed.has_class("-failed")
        for name in ("fake/oracle@1", "fake/oracle@2"):
            assert column(app, name).status == "done"
        assert run.state.result is not None and run.state.result["answer"] == ITEM.gold_key
        assert "✖ fake/error-401" in screen_text(app)
        assert "auth: fake said (401)" in screen_text(app)


async def test_debate_rounds_can_be_switched(backend: DaemonBackend, fleet: Fleet) -> None:
    panel = ("noisy-0-shared+corrective-1-0@1", "noisy-0-shared+corrective-1-0@2", "oracle@3")
    app = app_for(backend, *panel, mode="debate")
    async with app.run_test(size=SIZE) as pilot:
        run = await run_prompt(pilot, "debate", ITEM.prompt)
        tabs = app.main.query_one(RoundTabs)
        assert tabs.display and len(tabs.choices) == 2
        assert tabs.agreements[0] == pytest.approx(2 / 3) and tabs.agreements[1] == 1.0
        assert run.round == 1 and tabs.index == 1  # it followed the newest round
        changer = "fake/noisy-0-shared+corrective-1-0@1"
        lane = run.state.lanes[changer]
        assert lane.turns[0].text != lane.turns[1].text
        assert column(app, changer).rendered_text == lane.turns[1].text

        await pilot.press("f4")  # next round wraps to round 0
        await column(app, changer).settled()
        assert run.round == 0 and tabs.index == 0 and not run.follow
        assert column(app, changer).rendered_text == lane.turns[0].text

        await pilot.click(RoundTabs, offset=(len(" round 0 · 0.33 ") + 3, 0))
        await column(app, changer).settled()
        assert run.round == 1 and run.follow
        assert column(app, changer).rendered_text == lane.turns[1].text
        assert "round 1 · 1.00" in screen_text(app)


async def test_redteam_shows_objections_responses_and_rulings(
    backend: DaemonBackend, fake_openai: FakeOpenAI
) -> None:
    roles = Roles(blue_accuracy=0.0)  # blue errs, red catches it, the judge upholds
    saved, fake_openai.reply = fake_openai.reply, openai_reply(roles)
    try:
        app = app_for(backend, "blue", "red", "judge", mode="redteam")
        async with app.run_test(size=SIZE) as pilot:
            run = await run_prompt(pilot, "redteam", "Item 1: compute 2 + 3 * 4.")
            assert list(run.columns)[:2] == ["fake/blue", "fake/red"]
            assert column(app, "fake/blue").role == "blue"
            assert column(app, "fake/red").role == "red"
            table = app.main.query_one(RedteamView)
            assert table.display and table.row_count >= 1
            first = table.objections[0]
            assert first["id"] == "O1" and first["valid"] is True
            assert first["response"]["action"] in ("accept", "rebut")
            judge = app.main.query_one(JudgePane)
            assert judge.display and judge.participant == "fake/judge"
            text = screen_text(app)
            assert "upheld" in text and "blue: fake/blue" in text
    finally:
        fake_openai.reply = saved


async def test_cancel_stops_the_run_and_the_daemon_stops_calling(
    backend: DaemonBackend, fake_openai: FakeOpenAI
) -> None:
    saved = fake_openai.reply
    fake_openai.reply = lambda body: " ".join(["word"] * 60)  # three seconds at 20 a second
    try:
        app = app_for(backend, "slow", "slow", mode="debate")
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.main.query_one(ModelPicker).option_count)
            await send(pilot, "take your time")
            await wait_for(pilot, lambda: any(c.rendered_text for c in view(app).columns.values()))
            assert app.main.running
            await pilot.press("escape")
            await wait_for(pilot, lambda: not app.main.running, 5, what="the cancel")
            calls = len(fake_openai.chat_requests())
            assert all(c.status == "failed" for c in view(app).columns.values())
            assert all(c.error == "cancelled" for c in view(app).columns.values())
            assert app.main.query_one(RunTotals).note == "cancelled"
            assert "cancelled" in app.main.sub_title
            # The daemon dropped the run: no second round is asked for.
            await asyncio.sleep(4)
            assert len(fake_openai.chat_requests()) == calls
    finally:
        fake_openai.reply = saved


async def test_a_retried_participant_says_so_and_goes_on(
    backend: DaemonBackend, fleet: Fleet
) -> None:
    app = app_for(backend, "flaky-0.6@1", "flaky-0.6@2")
    async with app.run_test(size=SIZE) as pilot:
        run = await run_prompt(pilot, "consensus", ITEM.prompt)
        first, second = (run.columns[f"fake/flaky-0.6@{i}"] for i in (1, 2))
        # Seeded: @1 gets through on its third attempt, @2 runs out of attempts.
        assert (first.status, first.retries, first.error) == ("done", 2, None)
        assert (second.status, second.retries) == ("failed", 2)
        assert second.error is not None and second.error.startswith("rate_limited")
        text = screen_text(app)
        assert "done ↻2" in text and "failed ↻2" in text
