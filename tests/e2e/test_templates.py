"""Templates: built-ins, save/show/edit, and ``ask -t NAME -p key value``."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from tests.e2e.conftest import Cli


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
