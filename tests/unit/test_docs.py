"""docs/: MkDocs builds it with --strict, and every shell example in it runs against the fakes.

An example that cannot run here (it needs a real terminal, prompts, or changes the user's
crontab) is marked on the line before its fence with ``<!-- not-run: REASON -->``; the
marker is visible in the source and there are only a few.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import BIN, base_env, kill_daemons, write_config
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.openai import FakeOpenAI
from tests.fakes.pypi_index import FakeIndex, Release

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
_BLOCK = re.compile(r"(?:<!-- not-run: (?P<reason>[^>]*) -->\n)?```sh\n(?P<code>.*?)\n```", re.S)


def _blocks() -> list[tuple[str, int, str, str | None]]:
    found = []
    for page in sorted(DOCS.glob("*.md")):
        for n, match in enumerate(_BLOCK.finditer(page.read_text(encoding="utf-8"))):
            found.append((page.name, n, match.group("code"), match.group("reason")))
    return found


BLOCKS = _blocks()
RUNNABLE = [b for b in BLOCKS if b[3] is None]
# Ordered as a reader meets them, page by page (so `ask -c` follows an `ask`).
ORDER = [
    "index.md",
    "terminal.md",
    "pipelines.md",
    "cron.md",
    "gateway.md",
    "mcp.md",
    "sdk.md",
    "providers.md",
    "budgets.md",
    "exit-codes.md",
]
RUNNABLE.sort(key=lambda b: (ORDER.index(b[0]) if b[0] in ORDER else len(ORDER), b[1]))


def test_mkdocs_builds_the_docs_strictly(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "site" / "configuration" / "index.html").exists()


def test_every_page_is_in_the_nav_and_the_readme_links_the_docs() -> None:
    nav = (ROOT / "mkdocs.yml").read_text()
    for page in DOCS.glob("*.md"):
        assert f": {page.name}" in nav, page.name
    assert "](docs/" in (ROOT / "README.md").read_text()


def test_few_examples_are_marked_not_run_and_each_says_why() -> None:
    skipped = [b for b in BLOCKS if b[3] is not None]
    assert len(RUNNABLE) >= 15
    assert len(skipped) <= 4, skipped
    assert all(reason.strip() for *_, reason in skipped if reason is not None)


@pytest.fixture(scope="module")
def docs_env(fake_openai: FakeOpenAI) -> Iterator[dict[str, str]]:
    import shutil
    import tempfile

    anthropic = FakeAnthropic().start()
    # `providers search` in the docs reads this index instead of pypi.org.
    index = FakeIndex([Release("superllm-provider-acme", "1.2.0", "Acme's models")]).start()
    home = Path(tempfile.mkdtemp(prefix="sd", dir="/tmp"))
    write_config(
        home,
        'default_model = "openai/gpt-4.1-mini"\n'
        f'[providers.openai]\nbase_url = "{fake_openai.base_url}"\napi_key_cmd = "echo sk-t"\n'
        f'[providers.anthropic]\nbase_url = "{anthropic.base_url}"\napi_key_cmd = "echo sk-a"\n',
    )
    env = base_env(home)
    env["SUPERLLM_PLUGINS__INDEX_URL"] = index.url
    env["HOME"] = str(home / "user")
    env["PATH"] = f"{BIN}:/usr/bin:/bin"
    (home / "user").mkdir()
    try:
        yield env
    finally:
        subprocess.run([str(BIN / "superllm"), "daemon", "stop"], env=env, capture_output=True)
        kill_daemons(home)
        anthropic.stop()
        index.stop()
        shutil.rmtree(home, ignore_errors=True)


@pytest.mark.parametrize(
    ("page", "index", "code"),
    [(p, i, c) for p, i, c, _ in RUNNABLE],
    ids=[f"{p}-{i}" for p, i, _, _ in RUNNABLE],
)
def test_the_shell_example_runs(
    page: str, index: int, code: str, docs_env: dict[str, str], tmp_path: Path
) -> None:
    done = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", code],
        cwd=tmp_path,
        env=docs_env,
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, f"{page} example {index}:\n{code}\n---\n{done.stderr}"
    assert "Traceback" not in done.stderr


# The engineers' design notes live outside the repository: a user reading the code, the
# README, docs/ or man/ must find the thing said where it is used, never a pointer there.
_OUTSIDE = re.compile(r"\.\./shared|/work/shared|\b(?:DESIGN|ORCHESTRATION|WIRE|STYLE)\.md|§")


def test_nothing_the_user_reads_points_outside_the_repository() -> None:
    found = []
    for top in ("superllm_cli", "superllmd", "docs", "man", "completions"):
        for path in sorted((ROOT / top).rglob("*")):
            if path.is_file() and path.suffix not in (".pyc", ".gguf"):
                text = path.read_text(encoding="utf-8", errors="replace")
                for n, line in enumerate(text.splitlines(), 1):
                    if _OUTSIDE.search(line):
                        found.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    for name in ("README.md", "mkdocs.yml", "pyproject.toml"):
        for n, line in enumerate((ROOT / name).read_text(encoding="utf-8").splitlines(), 1):
            if _OUTSIDE.search(line):
                found.append(f"{name}:{n}: {line.strip()}")
    assert found == [], "\n".join(found)
