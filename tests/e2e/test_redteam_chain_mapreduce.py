"""The real ``superllm redteam|chain|mapreduce`` against a real daemon: fake roles over HTTP,
and the real tiny local model (which rarely writes valid JSON, so the modes must degrade)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from superllm_cli.runstate import RunState
from tests.e2e.conftest import Cli
from tests.fakes.openai import FakeOpenAI
from tests.fakes.roles import Roles, arithmetic_item, make_document, openai_reply

TEAM = ("-m", "fake/blue", "-m", "fake/red", "--judge", "fake/judge")


@pytest.fixture
def roles(fake_openai: FakeOpenAI) -> Iterator[Roles]:
    """Fake roles answering every request to the session's fake OpenAI server."""
    roles = Roles()
    saved = fake_openai.reply
    fake_openai.reply = openai_reply(roles)
    try:
        yield roles
    finally:
        fake_openai.reply = saved


def events_of(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


# --------------------------------------------------------------------------- redteam


def test_redteam_json(cli: Cli, roles: Roles) -> None:
    roles.blue_accuracy = 0.0  # blue gets it wrong; red must catch it
    question, gold, wrong = arithmetic_item(1)
    result = cli("redteam", *TEAM, "--json", question)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["mode"] == "redteam" and data["strategy"] == "critique"
    assert data["answer"].endswith(f"FINAL ANSWER: {gold}")
    report = data["report"]
    assert report["roles"] == {"blue": "fake/blue", "red": "fake/red", "judge": "fake/judge"}
    assert report["verdict"] == "revise" and report["upheld"] == ["O1"]
    assert str(wrong) in report["objections"][0]["claim"]
    assert report["residual_risks"] == ["checked by hand only"]
    assert data["judge"]["model"] == "fake/judge"
    assert [p["model"] for p in data["participants"]] == ["fake/blue", "fake/red", "fake/blue"]
    assert data["calls"] == 4 and data["usage"]["output_tokens"] > 0


def test_redteam_stream_json_has_judge_events(cli: Cli, roles: Roles) -> None:
    result = cli("redteam", *TEAM, "--stream-json", "--rounds", "1", "Is the sky green?")
    assert result.returncode == 0, result.stderr
    events = events_of(result.stdout)
    kinds = [e["type"] for e in events]
    assert kinds[0] == "run.started" and kinds[-1] == "run.finished"
    judged = [e for e in events if e["type"] == "judge.message"]
    assert len(judged) == 1 and judged[0]["participant"] == "fake/judge"
    assert json.loads(judged[0]["text"])["preference"] == "revise"
    assert "judge.delta" in kinds and "round.finished" in kinds
    assert (
        events[-1]["result"]["report"]["stop_reason"] == "the judge found no valid open objection"
    )


def test_redteam_one_model_on_both_sides_has_two_lanes(cli: Cli, roles: Roles) -> None:
    result = cli("redteam", "-m", "fake/blue", "--judge", "fake/judge", "--stream-json", "q?")
    assert result.returncode == 0, result.stderr
    events = events_of(result.stdout)
    sides = ["fake/blue (blue)", "fake/blue (red)"]
    assert events[0]["labels"] == sides
    assert {e["participant"] for e in events if e["type"] == "message"} == set(sides)
    state = RunState()  # the fold the live view and the TUI draw from
    for event in events:
        state.apply(event)
    assert list(state.lanes) == sides
    assert all(lane.turns and lane.status == "done" for lane in state.lanes.values())


def test_redteam_dispute_reports_a_tie(cli: Cli, roles: Roles) -> None:
    result = cli("redteam", *TEAM, "--submode", "dispute", "--json", "Should we ship?")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    report = data["report"]
    assert report["verdict"] == "tie" and report["uncertain"] is True
    assert len(report["judgements"]) == 2 and data["agreement"] == 0.5
    assert data["answer"] == report["positions"]["blue"]


def test_redteam_plain_output_is_the_answer(cli: Cli, roles: Roles) -> None:
    question, gold, _ = arithmetic_item(2)
    result = cli("redteam", *TEAM, question)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(f"FINAL ANSWER: {gold}")


# --------------------------------------------------------------------------- chain

WORKFLOW = """
name = "two-steps"

[[steps]]
name = "draft"
prompt = "Draft about: {input}"
check = { regex = "Draft" }

[[steps]]
name = "polish"
model = "fake/polisher"
prompt = "Polish {steps.draft}"
"""


def test_chain_file_json(cli: Cli, roles: Roles, tmp_path: Path) -> None:
    path = tmp_path / "flow.toml"
    path.write_text(WORKFLOW)
    result = cli("chain", str(path), "-m", "fake/writer", "--json", input="tides\n")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["mode"] == "chain" and data["report"]["workflow"] == "two-steps"
    draft, polish = data["report"]["steps"]
    assert draft == {
        "name": "draft",
        "mode": "ask",
        "models": ["fake/writer"],
        "status": "ok",
        "attempts": 1,
        "output": "writer says: Draft about: tides",
        "check": {"passed": True, "reason": None},
    }
    assert polish["models"] == ["fake/polisher"]
    assert data["answer"] == "polisher says: Polish writer says: Draft about: tides"


def test_chain_failing_check_aborts_naming_the_step(cli: Cli, roles: Roles, tmp_path: Path) -> None:
    path = tmp_path / "flow.toml"
    path.write_text(WORKFLOW.replace('regex = "Draft"', 'regex = "^IMPOSSIBLE"'))
    result = cli("chain", str(path), "-m", "fake/writer", "tides")
    assert result.returncode == 4
    assert "chain step 'draft' failed its check after 2 attempt(s)" in result.stderr
    assert result.stdout == ""  # no half-finished answer in a pipe
    result = cli("chain", str(path), "-m", "fake/writer", "--json", "tides")
    assert result.returncode == 4
    data = json.loads(result.stdout)
    assert data["error"]["code"] == "provider"
    assert data["report"]["steps"][0]["status"] == "failed"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[steps]]\nname = "a"\nprompt = "{steps.b}"\n', "chain step 1 ('a'): {steps.b}"),
        ('[[steps]]\nname = "a"\nprompt = "x"\nmodle = "m"\n', "unknown key(s) modle"),
        ("[[steps]\n", "invalid TOML"),
    ],
)
def test_bad_workflow_exits_2(
    cli: Cli, roles: Roles, tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    result = cli("chain", str(path), "-m", "fake/writer", "input")
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert sum(roles.calls.values()) == 0


def test_chain_refine(cli: Cli, roles: Roles) -> None:
    result = cli(
        "chain", "refine", "-m", "fake/author", "-m", "fake/critic", "--json", "Explain tides."
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    report = data["report"]
    assert data["strategy"] == "refine"
    assert (report["author"], report["critic"]) == ("fake/author", "fake/critic")
    assert [s["name"] for s in report["steps"]] == ["draft", "critique 1", "revise 1", "critique 2"]
    assert report["stop_reason"] == "the critic found no issues"
    assert data["answer"].endswith("Revised with a reason.")


def test_chain_verbose_prints_no_agreement(cli: Cli, roles: Roles) -> None:
    result = cli(
        "-v", "chain", "refine", "-m", "fake/author", "-m", "fake/critic", "Explain tides."
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("Revised with a reason.")
    assert "chain" in result.stderr  # the summary line is there
    assert "agreement" not in result.stderr  # a chain has no agreement: nothing printed


# --------------------------------------------------------------------------- mapreduce


def test_mapreduce_long_document(cli: Cli, roles: Roles) -> None:
    doc = make_document(42, needles=20, paragraphs=80, conflicts=3)
    result = cli(
        "mapreduce",
        "-m",
        "fake/m1",
        "-m",
        "fake/m2",
        "--judge",
        "fake/reducer",
        "-q",
        "List every code.",
        "--chunk-tokens",
        "400",
        "--stream-json",
        input=doc.text,
    )
    assert result.returncode == 0, result.stderr
    events = events_of(result.stdout)
    stages = [e["report"]["stage"] for e in events if e["type"] == "round.finished"]
    assert stages[0] == "map" and stages[-1] == "reduce"
    data = events[-1]["result"]
    report = data["report"]
    assert len(report["chunks"]) >= 10 and report["chunk_tokens"] == 400
    assert {c["model"] for c in report["chunks"]} == {"fake/m1", "fake/m2"}
    got = dict(re.findall(r"([A-Z]-\d+): (\d+) \[chunk", data["answer"]))
    assert got == {k: str(v) for k, v in doc.codes.items()}  # every needle, newest values
    assert report["cited_chunks"] and report["warnings"] == []
    assert any(e["type"] == "judge.message" for e in events)


def test_mapreduce_plain_output(cli: Cli, roles: Roles) -> None:
    doc = make_document(43, needles=3, paragraphs=10)
    key = sorted(doc.codes)[0]
    question = f"What is the code of item {key}?"
    result = cli("-v", "mapreduce", "-m", "fake/m1", "-q", question, input=doc.text)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{key}: {doc.codes[key]} [chunk 1]"
    assert "round 0 (map) done" in result.stderr  # progress by stage, with -v
    assert "agreement" not in result.stderr  # map-reduce has no agreement: nothing printed
    assert "round 1 (reduce)" in result.stderr


# --------------------------------------------------------------------------- local model


@pytest.mark.local_model
def test_redteam_with_the_local_model(cli: Cli) -> None:
    result = cli(
        "redteam",
        "-m",
        "local/smollm2",
        "--max-output",
        "32",
        "--temperature",
        "0",
        "--json",
        "What is 2 + 3?",
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["answer"].strip()
    assert data["report"]["verdict"] in ("blue", "revise", "red", "undecided")


@pytest.mark.local_model
def test_mapreduce_with_the_local_model(cli: Cli) -> None:
    doc = make_document(44, needles=2, paragraphs=3)
    result = cli(
        "mapreduce",
        "-m",
        "local/smollm2",
        "--max-output",
        "32",
        "--temperature",
        "0",
        "--json",
        "-q",
        "What is the code of an item?",
        input=doc.text,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["answer"].strip()
    assert len(data["report"]["chunks"]) >= 1
