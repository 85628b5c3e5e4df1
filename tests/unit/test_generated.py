"""The committed completions/, man/ and generated docs pages match the code, and render."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from superllm_cli.docgen import generated_files
from superllm_cli.docgen.manpage import EXIT_CODES, commands

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def files() -> dict[str, str]:
    return generated_files()


def test_committed_files_are_what_the_code_generates(files: dict[str, str]) -> None:
    assert {"completions/superllm.bash", "completions/_superllm", "man/superllm.1"} <= set(files)
    stale = [
        rel
        for rel, text in files.items()
        if not (ROOT / rel).exists() or (ROOT / rel).read_text(encoding="utf-8") != text
    ]
    assert not stale, f"out of date: {stale}; run `python -m superllm_cli.docgen` and commit"


def test_the_man_page_documents_every_command_option_and_exit_code(files: dict[str, str]) -> None:
    page = files["man/superllm.1"]
    for path, cmd, ctx in commands():
        if path != "superllm":
            assert f'.SS "{path.replace("-", chr(92) + "-")} ' in page, path
        for param in cmd.get_params(ctx):
            for opt in param.opts:
                if opt.startswith("-"):
                    assert opt.replace("-", "\\-") in page, f"{path} {opt}"
    for code, _ in EXIT_CODES:
        assert f".B {code}\n" in page
    for section in ("EXIT STATUS", "ENVIRONMENT", "FILES", "EXAMPLES"):
        assert f".SH {section}" in page
    assert "SUPERLLM_HOME" in page and "OPENAI_API_KEY" in page


@pytest.mark.parametrize("page", ["man/superllm.1", "man/superllmd.8"])
def test_man_renders_without_warnings(page: str) -> None:
    if shutil.which("man") is None:
        pytest.fail("man is not installed (apt-get install man-db groff; .ci/run does it)")
    done = subprocess.run(
        ["man", "--warnings", "-l", str(ROOT / page)],
        capture_output=True,
        text=True,
        env={"MANWIDTH": "80", "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "superllm" in done.stdout


def test_the_daemon_page_explains_socket_activation(files: dict[str, str]) -> None:
    page = files["man/superllmd.8"]
    assert "LISTEN_FDS" in page and ".SH SOCKET ACTIVATION" in page


def test_the_configuration_reference_covers_every_setting(files: dict[str, str]) -> None:
    from superllmd.config import DaemonSettings, ProviderSettings, Settings

    page = files["docs/configuration.md"]
    for model in (Settings, ProviderSettings, DaemonSettings):
        for name in model.model_fields:
            assert f"| `{name}` |" in page, name
    assert "## `providers.ID`" in page and "## `daemon`" in page


# Variables the code reads that a user does not set for superllm (or that a pattern covers).
_NOT_DOCUMENTED = {
    "PIPX_HOME": "read only to find where pipx installed superllm",
    "UV_TOOL_DIR": "read only to find where uv installed superllm",
    "TZ": "the system's time zone, read by the PostgreSQL ledger as any program would",
    "SUPERLLM_DAEMON__LISTEN": "set by superllmd --listen; SUPERLLM_<SECTION>__<KEY> covers it",
    "SUPERLLM_DAEMON__ALLOW_REMOTE": "set by superllmd --allow-remote; the same pattern",
}


def test_every_variable_the_code_reads_is_in_a_man_page(files: dict[str, str]) -> None:
    import re

    pages = files["man/superllm.1"] + files["man/superllmd.8"]
    read = set()
    for path in [*(ROOT / "superllm_cli").rglob("*.py"), *(ROOT / "superllmd").rglob("*.py")]:
        text = path.read_text(encoding="utf-8")
        read |= set(re.findall(r"(?:environ|env|getenv)\b[.\w]*\(?\[?\"([A-Z][A-Z0-9_]+)\"", text))
    missing = sorted(v for v in read - set(_NOT_DOCUMENTED) if v not in pages)
    assert missing == [], f"not in man/: {missing}"
    assert "XDG_CONFIG_HOME" in read and "SUPERLLM_HOME" in read  # the scan finds them
