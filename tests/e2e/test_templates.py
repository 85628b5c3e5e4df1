"""Templates: built-ins, save/show/edit, and ``ask -t NAME -p key value``."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from tests.e2e.conftest import Cli
from tests.fakes.openai import FakeOpenAI


def test_builtins_are_listed_and_shown(cli: Cli) -> None:
    listed = cli("templates", "list")
    assert listed.returncode == 0, listed.stderr
    for name in ("summarize", "review", "explain", "translate"):
        assert name in listed.stdout
    shown = cli("templates", "show", "translate")
    assert 'prompt = "Translate into $to:\\n\\n$input"' in shown.stdout
    missing = cli("templates", "show", "nope")
    assert missing.returncode == 2 and "templates list" in missing.stderr


def test_ask_with_a_template_and_params(cli: Cli) -> None:
    done = cli("ask", "-m", "fake/echo", "-t", "translate", "-p", "to=French", "good night")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "echo: Translate into French:\n\ngood night"
    default = cli("ask", "-m", "fake/echo", "-t", "translate", "hi")
    assert "Translate into English:" in default.stdout


def test_a_saved_template_brings_its_model_and_system(cli: Cli, home: Path) -> None:
    saved = cli(
        "templates",
        "save",
        "greet",
        "--prompt",
        "Greet $who warmly: $input",
        "-m",
        "fake/greeter",
        "-s",
        "Be kind.",
        "--description",
        "A greeting",
    )
    assert saved.returncode == 0, saved.stderr
    path = home / "config" / "templates" / "greet.toml"
    assert path.exists()
    assert "greet" in cli("templates", "list").stdout
    done = cli("ask", "--json", "-t", "greet", "-p", "who=Ada", "now")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["model"] == "fake/greeter"
    assert result["answer"] == "echo: Greet Ada warmly: now"
    missing = cli("ask", "-t", "greet", "now")
    assert missing.returncode == 2 and "-p who=" in missing.stderr


def test_edit_opens_the_editor_on_a_copy_of_a_builtin(cli: Cli, home: Path, tmp_path: Path) -> None:
    editor = tmp_path / "ed.sh"
    editor.write_text('#!/bin/sh\nsed -i "s/five/three/" "$1"\n')
    editor.chmod(editor.stat().st_mode | stat.S_IEXEC)
    done = cli("templates", "edit", "summarize", extra_env={"EDITOR": str(editor)})
    assert done.returncode == 0, done.stderr
    text = (home / "config" / "templates" / "summarize.toml").read_text()
    assert "at most three bullet points" in text
    asked = cli("ask", "-m", "fake/echo", "-t", "summarize", "long text")
    assert "at most three bullet points" in asked.stdout
    broken = tmp_path / "broken.sh"
    broken.write_text('#!/bin/sh\necho "nonsense = = =" >> "$1"\n')
    broken.chmod(broken.stat().st_mode | stat.S_IEXEC)
    bad = cli("templates", "edit", "summarize", extra_env={"EDITOR": str(broken)})
    assert bad.returncode == 2 and "invalid TOML" in bad.stderr


def test_p_takes_key_and_value_as_two_words(cli: Cli) -> None:
    done = cli("ask", "-m", "fake/echo", "-t", "translate", "-p", "to", "French", "good night")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "echo: Translate into French:\n\ngood night"
    stray = cli("ask", "-m", "fake/echo", "-p", "to", "French", "hi")
    assert stray.returncode == 2 and "add -t TEMPLATE" in stray.stderr


def _answers(done: object) -> list[str]:
    result = json.loads(done.stdout)  # type: ignore[attr-defined]
    return [p["answer"] for p in result["participants"]]


def test_the_modes_take_a_template(cli: Cli) -> None:
    for mode in ("consensus", "debate", "redteam", "mapreduce"):
        args = [mode, "--json", "-m", "fake/echo", "-m", "fake/echo-2"]
        done = cli(*args, "-t", "translate", "-p", "to", "French", "good night")
        assert done.returncode == 0, f"{mode}: {done.stderr}"
        answers = json.dumps(json.loads(done.stdout))
        assert "Translate into French" in answers and "good night" in answers, mode


def test_a_chain_takes_a_template(cli: Cli, tmp_path: Path) -> None:
    flow = tmp_path / "flow.toml"
    flow.write_text('[[steps]]\nname = "one"\nprompt = "{input}"\n')
    done = cli("chain", str(flow), "--json", "-m", "fake/echo", "-t", "translate", "hi")
    assert done.returncode == 0, done.stderr
    assert "Translate into English:" in json.loads(done.stdout)["answer"]


def test_a_templates_models_and_options_apply_to_the_modes(
    cli: Cli, home: Path, fake_openai: FakeOpenAI
) -> None:
    saved = cli(
        "templates",
        "save",
        "panel",
        "--models",
        "fake/tpl-a, fake/tpl-b",
        "-o",
        "top_p=0.25",
        "-s",
        "Be exact.",
        "--prompt",
        "Q: $input",
    )
    assert saved.returncode == 0, saved.stderr
    text = (home / "config" / "templates" / "panel.toml").read_text()
    assert 'models = ["fake/tpl-a", "fake/tpl-b"]' in text and "top_p = 0.25" in text
    done = cli("consensus", "--json", "-t", "panel", "2+2?")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert [p["model"] for p in result["participants"]] == ["fake/tpl-a", "fake/tpl-b"]
    sent = [r for r in fake_openai.chat_requests() if r["model"] == "tpl-a"][-1]
    assert sent["top_p"] == 0.25
    assert sent["messages"][0] == {"role": "system", "content": "Be exact."}
    assert "Q: 2+2?" in sent["messages"][-1]["content"]
    # Flags given on the command line win over the template's.
    mine = cli("consensus", "--json", "-t", "panel", "-m", "fake/tpl-c", "-o", "top_p=0.5", "x")
    assert mine.returncode == 0, mine.stderr
    assert [p["model"] for p in json.loads(mine.stdout)["participants"]] == ["fake/tpl-c"]
    assert [r for r in fake_openai.chat_requests() if r["model"] == "tpl-c"][-1]["top_p"] == 0.5
    # ask takes the template's first participant when it names no single model.
    asked = cli("ask", "--json", "-t", "panel", "hi")
    assert json.loads(asked.stdout)["model"] == "fake/tpl-a"


def test_the_new_builtins_are_shipped(cli: Cli) -> None:
    listed = cli("templates", "list").stdout
    assert "commit" in listed and "proofread" in listed
    done = cli("ask", "-m", "fake/echo", "-t", "commit", input="diff --git a/x b/x\n")
    assert done.returncode == 0, done.stderr
    assert "commit message" in done.stdout and "diff --git a/x b/x" in done.stdout
