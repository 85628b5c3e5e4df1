"""`superllm providers new NAME`: the generated package is complete, passes its own tests,
declares its entry point, and never replaces a file."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from superllm_cli.app import app
from superllm_cli.scaffold import write_provider_package
from superllmd.errors import UsageError
from superllmd.providers import ProviderKind

NAME = "acme-ai"
EXPECTED = {
    "pyproject.toml",
    "README.md",
    "superllm_acme_ai/__init__.py",
    "superllm_acme_ai/fake.py",
    "superllm_acme_ai/conformance.py",
    "tests/test_conformance.py",
}


@pytest.fixture
def package(tmp_path: Path) -> Path:
    write_provider_package(NAME, tmp_path)
    return tmp_path / f"superllm-{NAME}"


def test_writes_every_file_with_placeholders_filled(package: Path) -> None:
    written = {str(p.relative_to(package)) for p in package.rglob("*") if p.is_file()}
    assert written == EXPECTED
    for rel in EXPECTED:
        text = (package / rel).read_text()
        assert not re.search(r"\{\{\w+\}\}", text), f"{rel} keeps a placeholder"
    source = (package / "superllm_acme_ai/__init__.py").read_text()
    assert "class AcmeAiKind(ProviderKind)" in source and 'name = "acme-ai"' in source
    assert '"ACME_AI_API_KEY"' in source
    assert "superllm-provider-acme-ai" in (package / "README.md").read_text()


def test_the_generated_package_passes_its_own_conformance_tests(package: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(package)}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "tests", "-q", "-p", "no:cacheprovider"],
        cwd=package,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "15 passed" in result.stdout  # 14 conformance checks + the model list


def test_the_generated_package_declares_its_entry_point(
    package: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tomllib.loads((package / "pyproject.toml").read_text())["project"]
    assert project["name"] == f"superllm-provider-{NAME}", "what `providers search` finds"
    assert any(d.startswith("superllm-cli") for d in project["dependencies"])
    entry = project["entry-points"]["superllm.providers"]
    assert entry == {NAME: "superllm_acme_ai:AcmeAiKind"}
    checks = project["entry-points"]["superllm.conformance"]
    assert checks == {NAME: "superllm_acme_ai.conformance:DIALECT"}, "for providers install"

    monkeypatch.syspath_prepend(str(package))
    module_name, _, attr = entry[NAME].partition(":")
    kind = getattr(importlib.import_module(module_name), attr)
    try:
        assert issubclass(kind, ProviderKind) and kind.name == NAME
    finally:
        sys.modules.pop(module_name, None)


def test_the_generated_code_is_lint_clean(package: Path) -> None:
    # The interpreter's own ruff, not whatever PATH finds: an unactivated venv has none.
    found = subprocess.run([sys.executable, "-m", "ruff", "--version"], capture_output=True)
    assert found.returncode == 0, "ruff is a dev dependency: pip install -e '.[dev]'"
    for args in (["check", "."], ["format", "--check", "."]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *args], cwd=package, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_never_overwrites_a_file(package: Path) -> None:
    readme = package / "README.md"
    readme.write_text("mine")
    with pytest.raises(UsageError, match="not overwriting"):
        write_provider_package(NAME, package.parent)
    assert readme.read_text() == "mine"


@pytest.mark.parametrize("name", ["Acme", "1acme", "acme_ai", "acme-", "-acme", "a--b", "x" * 41])
def test_rejects_names_that_cannot_be_a_package(name: str, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a provider name"):
        write_provider_package(name, tmp_path)
    assert not any(tmp_path.iterdir())


def test_rejects_the_name_of_an_installed_kind(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="already an installed provider kind"):
        write_provider_package("openai", tmp_path)


def test_cli_new_writes_the_package_and_exits_2_on_a_bad_name(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["providers", "new", "mini", "--dir", str(tmp_path)])
    assert ok.exit_code == 0, ok.output
    assert (tmp_path / "superllm-mini" / "superllm_mini" / "__init__.py").is_file()
    assert "superllm-mini/pyproject.toml" in ok.output

    again = runner.invoke(app, ["providers", "new", "mini", "--dir", str(tmp_path)])
    assert again.exit_code == 2
    bad = runner.invoke(app, ["providers", "new", "Not_Valid", "--dir", str(tmp_path)])
    assert bad.exit_code == 2 and "not a provider name" in bad.output
