"""Conversations, fragments, attachments and the response cache, end to end."""

from __future__ import annotations

import base64
import json
import sqlite3
from pathlib import Path
from typing import Any

from superllm_cli.client import Client
from tests.e2e.conftest import Cli, kill_daemons
from tests.fakes.openai import FakeOpenAI

# A 1x1 PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


def _json(result: Any) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def _last_messages(fake: FakeOpenAI) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in fake.chat_requests()[-1]["messages"]]


def _rows(home: Path, sql: str) -> list[Any]:
    conn = sqlite3.connect(home / "data" / "ledger.sqlite3")
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_continue_the_last_or_a_named_conversation(
    cli: Cli, env: dict[str, str], fake_openai: FakeOpenAI
) -> None:
    first = _json(cli("ask", "--json", "-m", "fake/echo", "my name is Ada"))
    cid = first["conversation_id"]
    assert cid
    second = _json(cli("ask", "--json", "-m", "fake/echo", "-c", "what is my name?"))
    assert second["conversation_id"] == cid
    assert _last_messages(fake_openai) == [
        ("user", "my name is Ada"),
        ("assistant", "echo: my name is Ada"),
        ("user", "what is my name?"),
    ]
    other = _json(cli("ask", "--json", "-m", "fake/echo", "a new topic"))
    assert other["conversation_id"] != cid
    assert _last_messages(fake_openai) == [("user", "a new topic")]
    # --cid goes back to the first conversation, whatever came since.
    assert (
        _json(cli("ask", "--json", "-m", "fake/echo", "--cid", cid, "and then?"))["conversation_id"]
        == cid
    )
    assert [m[1] for m in _last_messages(fake_openai)] == [
        "my name is Ada",
        "echo: my name is Ada",
        "what is my name?",
        "echo: what is my name?",
        "and then?",
    ]
    # The history API shows the same conversation, and the latest first in the list.
    client = Client(environ=env)
    stored = client.call("GET", f"/v1/conversations/{cid}")["messages"]
    assert [m["role"] for m in stored] == ["user", "assistant"] * 3
    listed = client.call("GET", "/v1/conversations")["conversations"]
    assert [c["conversation_id"] for c in listed[:2]] == [cid, other["conversation_id"]]


def test_conversations_survive_a_killed_daemon(
    cli: Cli, home: Path, fake_openai: FakeOpenAI
) -> None:
    cid = _json(cli("ask", "--json", "-m", "fake/echo", "remember 42"))["conversation_id"]
    kill_daemons(home)  # kill -9: nothing hot in memory survives
    assert cli("ask", "-m", "fake/echo", "--cid", cid, "what number?").returncode == 0
    assert _last_messages(fake_openai) == [
        ("user", "remember 42"),
        ("assistant", "echo: remember 42"),
        ("user", "what number?"),
    ]
    kill_daemons(home)
    assert cli("ask", "-m", "fake/echo", "-c", "and again?").returncode == 0  # -c, from disk
    assert len(_last_messages(fake_openai)) == 5
    unknown = cli("ask", "-m", "fake/echo", "--cid", "c-nope", "hello")
    assert unknown.returncode == 2 and "no conversation" in unknown.stderr


def test_every_mode_continues_conversations(cli: Cli, fake_openai: FakeOpenAI) -> None:
    cid = _json(cli("ask", "--json", "-m", "fake/echo", "the topic is owls"))["conversation_id"]
    result = _json(
        cli("consensus", "--json", "-m", "fake/echo", "-m", "fake/echo", "--cid", cid, "Yes?")
    )
    assert result["conversation_id"] == cid
    for body in fake_openai.chat_requests()[-2:]:
        assert body["messages"][0] == {"role": "user", "content": "the topic is owls"}
        assert body["messages"][1] == {"role": "assistant", "content": "echo: the topic is owls"}


def test_fragments_go_first_and_are_stored_once(
    cli: Cli, home: Path, tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("the launch is on Tuesday")
    assert cli("ask", "-m", "fake/echo", "-f", str(notes), "when?").returncode == 0
    assert _last_messages(fake_openai) == [("user", "the launch is on Tuesday\n\nwhen?")]
    assert cli("ask", "-m", "fake/echo", "-f", str(notes), "again?").returncode == 0
    assert cli("ask", "-m", "fake/echo", "-f", "-", "piped?", input="from stdin").returncode == 0
    assert _last_messages(fake_openai) == [("user", "from stdin\n\npiped?")]
    assert _rows(home, "SELECT COUNT(*) FROM fragments") == [(2,)]
    assert _rows(home, "SELECT COUNT(*) FROM run_fragments") == [(3,)]
    # The run keeps the prompt as typed; the fragment is kept apart.
    assert ("when?",) in _rows(home, "SELECT prompt FROM runs")
    missing = cli("ask", "-m", "fake/echo", "-f", str(tmp_path / "nope.txt"), "x")
    assert missing.returncode == 2 and "nope.txt" in missing.stderr


def test_images_are_refused_by_a_text_only_model(
    cli: Cli, tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    image = tmp_path / "dot.png"
    image.write_bytes(PNG)
    before = len(fake_openai.chat_requests())
    refused = cli("ask", "-m", "fake/echo", "-a", str(image), "what is this?")
    assert refused.returncode == 2
    assert "fake/echo cannot take images" in refused.stderr
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    wrong = cli("ask", "-m", "fake/echo", "-a", str(text), "what is this?")
    assert wrong.returncode == 2 and "takes images" in wrong.stderr
    assert len(fake_openai.chat_requests()) == before  # nothing was sent


def test_the_response_cache(cli: Cli, home: Path, fake_openai: FakeOpenAI) -> None:
    start = len(fake_openai.chat_requests())
    ask = ("ask", "--json", "-m", "fake/echo", "--temperature", "0", "cache this")
    first = _json(cli(*ask))
    second = _json(cli(*ask))
    assert len(fake_openai.chat_requests()) == start + 1
    assert second["answer"] == first["answer"] and second["cost_usd"] == 0.0
    assert _json(cli(*ask, "--no-cache"))["answer"] == first["answer"]
    assert _json(cli(*ask, "--cache-ttl", "0s"))["answer"] == first["answer"]
    assert len(fake_openai.chat_requests()) == start + 3
    statuses = [s for (s,) in _rows(home, "SELECT status FROM calls ORDER BY time")]
    assert statuses == ["ok", "cached", "ok", "ok"]
    assert cli("ask", "-m", "fake/echo", "--cache-ttl", "soon", "x").returncode == 2

    # A consensus and then a debate on the same prompt and panel share their first answers.
    panel = ("-m", "fake/echo", "-m", "fake/gpt-fake", "--temperature", "0", "Is 5 odd?")
    assert cli("consensus", *panel).returncode == 0
    before_debate = len(fake_openai.chat_requests())
    # One round: the echo model gives no extractable answer, so later rounds would run anew.
    debate = _json(cli("debate", "--json", "--rounds", "1", *panel))
    assert len(fake_openai.chat_requests()) == before_debate  # round 0 came from the cache
    assert debate["cost_usd"] == 0.0
    assert _json(cli("usage", "--json", "--mode", "debate"))["totals"]["cache_hits"] == 2


def test_continue_keeps_the_conversations_model_unless_m_is_given(
    cli: Cli, env: dict[str, str], home: Path, fake_openai: FakeOpenAI
) -> None:
    # The default model is another one, so a forgotten model would show.
    (home / "config" / "config.toml").write_text(
        f'default_model = "fake/default"\n[providers.fake]\nkind = "openai-compatible"\n'
        f'base_url = "{fake_openai.base_url}"\n'
    )
    first = _json(cli("ask", "--json", "-m", "fake/ada-model", "My name is Ada"))
    second = _json(cli("ask", "--json", "-c", "What is my name?"))
    assert second["conversation_id"] == first["conversation_id"]
    assert second["model"] == "fake/ada-model"
    assert fake_openai.chat_requests()[-1]["model"] == "ada-model"
    assert _last_messages(fake_openai)[0] == ("user", "My name is Ada")
    # -m switches the conversation's model, and the next -c keeps the new one...
    switched = _json(cli("ask", "--json", "-c", "-m", "fake/other", "and now?"))
    assert switched["model"] == "fake/other"
    assert _json(cli("ask", "--json", "-c", "still there?"))["model"] == "fake/other"
    # ...also after a daemon restart, read back from the ledger.
    cli("daemon", "stop")
    kill_daemons(home)
    assert _json(cli("ask", "--json", "-c", "after a restart?"))["model"] == "fake/other"
    # A new conversation uses the default model again.
    assert _json(cli("ask", "--json", "fresh start"))["model"] == "fake/default"
