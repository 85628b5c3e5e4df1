"""Shell completion in a real shell: the committed scripts call superllm back for values."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import BIN, Cli, base_env, daemon_pids, write_config

ROOT = Path(__file__).resolve().parents[2]
BASH_SCRIPT = ROOT / "completions" / "superllm.bash"


def bash_complete(words: list[str], env: dict[str, str]) -> list[str]:
    """What bash's completion function offers for ``words`` (the last one being completed)."""
    array = " ".join("'" + w.replace("'", "'\\''") + "'" for w in words)
    program = (
        f"source {BASH_SCRIPT}\n"
        f"COMP_WORDS=({array}); COMP_CWORD={len(words) - 1}\n"
        '_superllm_completion superllm "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"\n'
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    done = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", program],
        capture_output=True,
        text=True,
        env={**env, "PATH": f"{BIN}:{env.get('PATH', '/usr/bin:/bin')}"},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return [line for line in done.stdout.splitlines() if line]


def test_model_ids_complete_without_a_daemon_and_none_is_started(short_home: Path) -> None:
    env = base_env(short_home)
    offered = bash_complete(["superllm", "ask", "-m", "op"], env)
    assert "openai/gpt-4.1-mini" in offered
    assert offered and all(o.startswith("op") for o in offered)
    # A Tab press never starts the daemon.
    assert daemon_pids(short_home) == []
    assert not (short_home / "run" / "superllmd.sock").exists()


def test_commands_options_and_providers_complete(short_home: Path) -> None:
    env = base_env(short_home)
    assert "consensus" in bash_complete(["superllm", "con"], env)
    assert "--max-cost" in bash_complete(["superllm", "ask", "--max-c"], env)
    assert bash_complete(["superllm", "keys", "set", "anth"], env) == ["anthropic"]
    assert "groq" in bash_complete(["superllm", "models", "--provider", "gr"], env)
    listed = bash_complete(["superllm", "consensus", "--models", "openai/gpt-4.1,anth"], env)
    assert listed and all(o.startswith("openai/gpt-4.1,anthropic/") for o in listed)


def test_aliases_from_the_config_file_complete(short_home: Path) -> None:
    write_config(short_home, '[aliases]\nfastest-friend = "openai/gpt-4.1-mini"\n')
    assert bash_complete(["superllm", "ask", "-m", "fastest-f"], base_env(short_home)) == [
        "fastest-friend"
    ]


def test_a_running_daemon_supplies_models_and_run_ids(
    cli: Cli, env: dict[str, str], home: Path
) -> None:
    done = cli("ask", "-m", "fake/gpt-fake-1", "--json", "hello")
    assert done.returncode == 0, done.stderr
    run_id = json.loads(done.stdout)["run_id"]
    # Run ids come only from the daemon's ledger.
    assert run_id in bash_complete(["superllm", "log", run_id[:3]], env)
    assert cli("models").returncode == 0  # the daemon's first model table is slow to build
    # Models the daemon serves for this shell's settings, which no shipped file lists.
    shell = {**env, "SUPERLLM_PROVIDERS__FAKE__MODELS": '["only-from-env"]'}
    assert bash_complete(["superllm", "ask", "-m", "fake/"], shell) == ["fake/only-from-env"]
    assert bash_complete(["superllm", "ask", "-m", "fake/"], env) == []


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_scripts_load(shell: str, tmp_path: Path) -> None:
    if shutil.which(shell) is None:
        pytest.fail(f"{shell} is not installed (apt-get install zsh fish; .ci/run does it)")
    script = ROOT / "completions" / ("_superllm" if shell == "zsh" else "superllm.fish")
    program = (
        f"autoload -Uz compinit && compinit -u -d {tmp_path}/.zcd && source {script}"
        if shell == "zsh"
        else f"source {script}"
    )
    done = subprocess.run(
        [shell, "-c", program],
        capture_output=True,
        text=True,
        env={**os.environ, "HOME": str(tmp_path)},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


def test_the_completions_command_prints_each_script(cli: Cli) -> None:
    for shell, name in (("bash", "superllm.bash"), ("zsh", "_superllm"), ("fish", "superllm.fish")):
        done = cli("completions", shell)
        assert done.returncode == 0
        assert done.stdout == (ROOT / "completions" / name).read_text()
    bad = cli("completions", "tcsh")
    assert bad.returncode == 2
    assert "bash, zsh or fish" in bad.stderr


def test_fish_offers_model_ids_and_commands(short_home: Path) -> None:
    if shutil.which("fish") is None:
        pytest.fail("fish is not installed (apt-get install fish; .ci/run does it)")
    script = ROOT / "completions" / "superllm.fish"
    env = base_env(short_home)

    def fish(line: str) -> list[str]:
        done = subprocess.run(
            ["fish", "--no-config", "-c", f"source {script}; complete -C '{line}'"],
            capture_output=True,
            text=True,
            env={**env, "PATH": f"{BIN}:{env.get('PATH', '/usr/bin:/bin')}"},
            timeout=60,
        )
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
        return [row.split("\t")[0] for row in done.stdout.splitlines()]

    offered = fish("superllm ask -m op")
    assert "openai/gpt-4.1-mini" in offered and all(o.startswith("op") for o in offered)
    assert "consensus" in fish("superllm con")
    assert daemon_pids(short_home) == []  # a Tab press never starts the daemon
