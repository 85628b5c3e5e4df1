"""Every shell example in the README, run as written against the fakes.

The README is parsed: each command line of each ``sh`` block (continuation lines joined,
trailing comments dropped) must have an entry in ``EXAMPLES`` below, with the exit code it
gives against the fake vendors, or in ``ELSEWHERE`` with the reason it cannot run here and
the test that covers it. A new example without an entry fails
``test_every_readme_example_is_covered``; an entry whose example left the README fails too.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import BIN, base_env, kill_daemons, write_config
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.gemini import FakeGemini
from tests.fakes.openai import FakeOpenAI
from tests.fakes.pypi_index import FakeIndex, Release

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
LAB_URL = "http://127.0.0.1:8000/v1"

#: example -> the exit code it gives against the fakes (6: the debate does not agree).
EXAMPLES: dict[str, int] = {
    'superllm ask "Explain CRDTs in two sentences"': 0,
    'git diff | superllm ask -m openai/gpt-4.1-mini "Review this diff"': 0,
    'superllm ask -m cheapest:vision -a chart.png "What does this show?"': 0,
    'superllm ask -c "And in one sentence?"': 0,
    "superllm consensus -m openai/gpt-4.1 -m anthropic/claude-sonnet-4-5 -m "
    'gemini/gemini-2.5-pro "How many r\'s are in strawberry?"': 0,
    'superllm debate --rounds 3 --require-agreement "Is 1001 prime?"': 6,
    'superllm redteam --judge gemini/gemini-2.5-pro "Is this SQL injection-safe? $(cat q.py)"': 0,
    'superllm chain refine "Draft a release note for v2"': 0,
    'superllm mapreduce -q "What changed about pricing?" < contract.txt': 0,
    'superllm ask --json "2+2?" | jq .usage': 0,
    "superllm usage --by model": 0,
    "superllm log": 0,
    'superllm budget set --daily 2 && superllm ask --max-cost 0.05 "..."': 0,
    "superllm keys set openai": 0,
    "superllm providers list": 0,
    "superllm models --capability vision --max-price 3": 0,
    "superllm models --refresh": 0,
    "superllm providers search acme": 0,
    "SUPERLLM_PROVIDERS__MYLAB__KIND=openai-compatible "
    "SUPERLLM_PROVIDERS__MYLAB__BASE_URL=http://127.0.0.1:8000/v1 "
    'superllm ask -m mylab/qwen3-8b "hi"': 0,
    "superllm completions bash > ~/.local/share/bash-completion/completions/superllm": 0,
    "superllm completions zsh > ~/.zfunc/_superllm": 0,
    "superllm completions fish > ~/.config/fish/completions/superllm.fish": 0,
    "superllm mcp --print-config claude-code": 0,
    "superllm mcp --print-config claude-desktop": 0,
    "superllm mcp --print-config codex": 0,
    "superllm mcp --print-config cursor": 0,
    "superllm serve token create ci --budget-daily 1 --rpm 60 --models 'openai/*'": 0,
    "superllm serve token list": 0,
    "superllm usage --by token": 0,
    "superllm serve token revoke ci": 0,
}
#: Examples that succeed in silence (status only with -v; the key is read from stdin).
SILENT = {"superllm serve token revoke ci", "superllm keys set openai"}
#: example -> why it does not run here, and what runs it instead.
ELSEWHERE: dict[str, str] = {
    "superllm tui": "needs a terminal; tests/tui/test_command.py runs it in a pseudo-terminal",
    "curl": "needs the TCP door on port 8765; tests/gateway/ runs these routes on a free port",
    "install": "installs the package (the try and test commands); CI runs them",
}


def _commands(block: str) -> list[str]:
    """A block's commands: continuation lines joined, comments after the command dropped."""
    joined = re.sub(r"\\\n\s*", "", block)
    found = []
    for raw in joined.splitlines():
        line = re.sub(r"\s+#\s.*$", "", raw).strip()
        if line and not line.startswith("#"):
            found.append(re.sub(r"\s+", " ", line))
    return found


def readme_examples() -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", README, re.S)
    return [command for block in blocks for command in _commands(block)]


def _elsewhere(command: str) -> str | None:
    if command.startswith("curl "):
        return ELSEWHERE["curl"]
    if "pip install" in command:
        return ELSEWHERE["install"]
    return ELSEWHERE.get(command)


def test_every_readme_example_is_covered() -> None:
    examples = readme_examples()
    assert len(examples) >= 30
    missing = [c for c in examples if c not in EXAMPLES and _elsewhere(c) is None]
    assert not missing, f"README examples with no test entry: {missing}"
    stale = [c for c in EXAMPLES if c not in examples]
    assert not stale, f"entries for examples no longer in the README: {stale}"


def _png() -> bytes:
    """A 1x1 PNG (the vision example's chart.png)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    header = (1).to_bytes(4, "big") * 2 + bytes([8, 2, 0, 0, 0])
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def readme_env(fake_openai: FakeOpenAI) -> Iterator[tuple[dict[str, str], Path]]:
    """A user with OpenAI, Anthropic and Gemini pointed at the fakes, a keyring in a file,
    and a working folder holding what the examples read (a git change, chart.png, q.py,
    contract.txt)."""
    anthropic, gemini = FakeAnthropic().start(), FakeGemini().start()
    index = FakeIndex([Release("superllm-provider-acme", "1.2.0", "Acme's models")]).start()
    home = Path(tempfile.mkdtemp(prefix="sr", dir="/tmp"))
    write_config(
        home,
        'default_model = "openai/gpt-4.1-mini"\n'
        f'[providers.openai]\nbase_url = "{fake_openai.base_url}"\napi_key_cmd = "echo sk-t"\n'
        f'[providers.anthropic]\nbase_url = "{anthropic.base_url}"\napi_key_cmd = "echo sk-a"\n'
        f'[providers.gemini]\nbase_url = "{gemini.base_url}"\napi_key_cmd = "echo g-key"\n',
    )
    env = base_env(home)
    env["SUPERLLM_PLUGINS__INDEX_URL"] = index.url
    env["HOME"] = str(home / "user")
    env["PATH"] = f"{BIN}:/usr/bin:/bin"
    env["PYTHON_KEYRING_BACKEND"] = "keyrings.alt.file.PlaintextKeyring"
    env["XDG_DATA_HOME"] = str(home / "user" / "data")
    for folder in (
        ".local/share/bash-completion/completions",
        ".zfunc",
        ".config/fish/completions",
    ):
        (home / "user" / folder).mkdir(parents=True)
    work = home / "work"
    work.mkdir()
    (work / "chart.png").write_bytes(_png())
    (work / "q.py").write_text('cursor.execute("SELECT * FROM t WHERE id = %s", (uid,))\n')
    (work / "contract.txt").write_text("Pricing: the fee rises from $10 to $12 a month.\n" * 40)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], cwd=work, check=True)
    subprocess.run([*git, "add", "q.py"], cwd=work, check=True)
    subprocess.run([*git, "commit", "-qm", "q"], cwd=work, check=True)
    (work / "q.py").write_text('cursor.execute(f"SELECT * FROM t WHERE id = {uid}")\n')
    try:
        yield env, work
    finally:
        subprocess.run([str(BIN / "superllm"), "daemon", "stop"], env=env, capture_output=True)
        kill_daemons(home)
        anthropic.stop()
        gemini.stop()
        index.stop()
        shutil.rmtree(home, ignore_errors=True)


@pytest.mark.parametrize("command", list(EXAMPLES), ids=range(len(EXAMPLES)))
def test_the_readme_example_runs(
    command: str, readme_env: tuple[dict[str, str], Path], fake_openai: FakeOpenAI
) -> None:
    env, work = readme_env
    done = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", command.replace(LAB_URL, fake_openai.base_url)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        # `keys set` reads the key from stdin, never from argv.
        input="sk-readme-test\n",
    )
    assert done.returncode == EXAMPLES[command], f"{command}\n---\n{done.stderr}"
    assert "Traceback" not in done.stderr
    if EXAMPLES[command] != 0 or command in SILENT:
        return
    if " > " in command:  # a completion script, written where the shell looks for it
        target = Path(command.rsplit(" > ", 1)[1].replace("~", env["HOME"], 1))
        assert target.read_text().strip(), f"{command} wrote nothing"
    else:
        assert done.stdout.strip(), f"{command} printed nothing"
