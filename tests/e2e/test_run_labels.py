"""``run.started`` names each participant as the run's later events will: a model on the
panel twice is ``model`` and ``model#2``, so no client has to re-derive the numbering."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import Cli
from tests.fakes.agents import Fleet, installed
from tests.fakes.items import arithmetic_items
from tests.fakes.openai import FakeOpenAI

ITEM = arithmetic_items(1, seed=31)[0]


@pytest.fixture(autouse=True)
def agents(fake_openai: FakeOpenAI) -> Iterator[Fleet]:
    with installed(fake_openai, Fleet(seed=9)) as fleet:
        yield fleet


def _events(cli: Cli, *args: str) -> list[dict[str, Any]]:
    result = cli(*args, "--stream-json", ITEM.prompt)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.mark.parametrize("mode", ["consensus", "debate"])
def test_run_started_labels_every_participant_as_its_events_do(cli: Cli, mode: str) -> None:
    panel = ["fake/oracle@1", "fake/oracle@1", "fake/oracle@2", "fake/oracle@1"]
    events = _events(cli, mode, "--no-cache", *(a for m in panel for a in ("-m", m)))
    started = events[0]
    assert started["type"] == "run.started"
    assert started["participants"] == panel
    labels = ["fake/oracle@1", "fake/oracle@1#2", "fake/oracle@2", "fake/oracle@1#3"]
    assert started["labels"] == labels
    speakers = {e["participant"] for e in events if e["type"] in ("delta", "message")}
    assert speakers == set(labels)


def test_ask_announces_its_label(cli: Cli) -> None:
    ask = _events(cli, "ask", "-m", "fake/oracle@1")
    assert ask[0]["labels"] == ["fake/oracle@1"]
    assert {e["participant"] for e in ask if e["type"] == "message"} == {"fake/oracle@1"}
