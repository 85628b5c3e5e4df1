"""Logs under the user's control: log on|off|status, log rm, conversations list|show|rm."""

from __future__ import annotations

import json

from tests.e2e.conftest import Cli


def _ask(cli: Cli, prompt: str) -> dict[str, str]:
    done = cli("ask", "-m", "fake/echo", "--json", prompt)
    assert done.returncode == 0, done.stderr
    result: dict[str, str] = json.loads(done.stdout)
    return result


def test_log_off_stops_storing_text_and_on_resumes(cli: Cli) -> None:
    assert cli("log", "status").stdout.startswith("on:")
    off = cli("log", "off")
    assert off.returncode == 0, off.stderr
    assert off.stdout.startswith("off:")
    assert json.loads(cli("log", "status", "--json").stdout) == {"log_prompts": False}
    secret = _ask(cli, "a private question")
    shown = json.loads(cli("log", secret["run_id"], "--json").stdout)
    assert shown["prompt"] is None and "private" not in json.dumps(shown)
    assert shown["input_tokens"] > 0  # costs and tokens are kept
    assert cli("log", "on").stdout.startswith("on:")
    kept = _ask(cli, "a public question")
    assert json.loads(cli("log", kept["run_id"], "--json").stdout)["prompt"] == "a public question"


def test_log_rm_removes_a_run_but_not_its_cost(cli: Cli) -> None:
    first, second = _ask(cli, "first question"), _ask(cli, "second question")
    usage = cli("usage", "--json", "--since", "0").stdout
    done = cli("log", "rm", first["run_id"][:12])
    assert done.returncode == 0, done.stderr
    assert "removed 1 run" in done.stdout
    # `log` prints short id prefixes, which two runs of one second can share: compare full ids.
    listed = [run["run_id"] for run in json.loads(cli("log", "--json").stdout)]
    assert first["run_id"] not in listed and second["run_id"] in listed
    assert "first question" not in cli("log", "--search", "first", "--json").stdout
    assert cli("usage", "--json", "--since", "0").stdout == usage
    gone = cli("log", "rm", first["run_id"])
    assert gone.returncode == 2 and "no run" in gone.stderr


def test_log_rm_before_a_date_and_bad_forms(cli: Cli) -> None:
    _ask(cli, "old one")
    _ask(cli, "old two")
    done = cli("log", "rm", "--before", "2099-01-01")
    assert done.returncode == 0, done.stderr
    assert "removed 2 runs" in done.stdout
    assert json.loads(cli("log", "--json").stdout) == []
    assert cli("log", "rm").returncode == 2
    both = cli("log", "rm", "r1", "--before", "1d")
    assert both.returncode == 2 and "--before" in both.stderr
    assert cli("log", "off", "extra").returncode == 2


def test_conversations_list_show_rm(cli: Cli) -> None:
    first = _ask(cli, "hello there")
    cid = first["conversation_id"]
    again = cli("ask", "-m", "fake/echo", "--cid", cid, "--json", "and again")
    assert again.returncode == 0, again.stderr
    listed = cli("conversations", "list")
    assert listed.returncode == 0 and cid in listed.stdout
    shown = cli("conversations", "show", cid)
    assert "## user\nhello there" in shown.stdout
    assert "echo: and again" in shown.stdout
    assert len(json.loads(cli("conversations", "show", cid, "--json").stdout)["messages"]) == 4
    removed = cli("conversations", "rm", cid)
    assert removed.returncode == 0, removed.stderr
    assert cid not in cli("conversations", "list").stdout
    missing = cli("conversations", "show", cid)
    assert missing.returncode == 2 and cid in missing.stderr
    assert cli("conversations", "rm", cid).returncode == 2
    # -c cannot continue what was removed: the next turn starts a new conversation.
    fresh = json.loads(cli("ask", "-m", "fake/echo", "-c", "--json", "new start").stdout)
    assert fresh["conversation_id"] != cid
