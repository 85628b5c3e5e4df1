"""`superllm providers search` and `providers install`, end to end, against a fake index.

Two plugins are made with `superllm providers new` and built into wheels here: ``sample``
as generated, and ``broken``, whose conformance description expects a wrong retry delay. A
fake index serves them (tests/fakes/pypi_index.py). The install runs in a throwaway venv
that sees this environment's packages (so superllm is the one under test) but installs into
its own folder, so the developer's environment is never touched; its daemon has its own
SUPERLLM_HOME.
"""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from superllm_cli.scaffold import write_provider_package
from tests.e2e.conftest import base_env, kill_daemons
from tests.fakes.pypi_index import FakeIndex, Release, build_wheel


def _wheel(root: Path, name: str, *, break_it: bool = False) -> Release:
    write_provider_package(name, root)
    package = root / f"superllm-{name}"
    module = package / f"superllm_{name}"
    if break_it:  # the fake answers Retry-After: 1; the suite will find 99 wrong
        conformance = module / "conformance.py"
        text = conformance.read_text()
        assert "retry_after=1.0" in text
        conformance.write_text(text.replace("retry_after=1.0", "retry_after=99.0"))
    project = tomllib.loads((package / "pyproject.toml").read_text())["project"]
    wheel = build_wheel(
        project["name"],
        project["version"],
        [module],
        summary=project["description"],
        entry_points=project["entry-points"],
        requires=tuple(project["dependencies"]),
    )
    return Release(project["name"], project["version"], project["description"], wheel)


@dataclass
class Venv:
    python: Path
    site: Path
    env: dict[str, str]

    def superllm(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.python), "-m", "superllm_cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def has(self, dist: str) -> bool:
        probe = f"import importlib.metadata as m; m.distribution({dist!r})"
        return subprocess.run([str(self.python), "-c", probe], env=self.env).returncode == 0


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeIndex]:
    root = tmp_path_factory.mktemp("plugins")
    fake = FakeIndex([_wheel(root, "sample"), _wheel(root, "broken", break_it=True)]).start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def venv(short_home: Path, index: FakeIndex) -> Iterator[Venv]:
    folder = short_home / "venv"
    # No pip of its own: the system one (as for this venv) installs into sys.prefix.
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(folder)],
        check=True,
        timeout=120,
    )
    site = Path(
        subprocess.run(
            [
                str(folder / "bin" / "python"),
                "-c",
                "import sysconfig; print(sysconfig.get_path('purelib'))",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    # This environment's packages (superllm, editable, and its dependencies) after its own.
    dev_site = sysconfig.get_path("purelib")
    (site / "superllm-under-test.pth").write_text(f"import site; site.addsitedir({dev_site!r})\n")
    env = base_env(short_home)
    env |= {"SUPERLLM_PLUGINS__INDEX_URL": index.url, "PIP_NO_INPUT": "1"}
    env.pop("VIRTUAL_ENV", None)
    env.pop("PYTHONPATH", None)
    made = Venv(folder / "bin" / "python", site, env)
    try:
        yield made
    finally:
        made.superllm("daemon", "stop", timeout=30)
        kill_daemons(short_home)


def test_search_finds_the_plugins_on_the_configured_index(venv: Venv, index: FakeIndex) -> None:
    done = venv.superllm("providers", "search", "sam")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["PACKAGE", "VERSION", "SUMMARY"]
    assert [line.split()[:2] for line in lines[1:]] == [["superllm-provider-sample", "0.1.0"]]
    assert "The sample provider for superllm." in lines[1]
    every = json.loads(venv.superllm("providers", "search", "--json").stdout)
    assert [p["name"] for p in every] == ["superllm-provider-broken", "superllm-provider-sample"]
    assert all(r.path.startswith(("/simple/", "/pypi/")) for r in index.requests)
    none = venv.superllm("providers", "search", "nothing-like-it")
    assert none.returncode == 0 and none.stdout == "" and "no superllm-provider-*" in none.stderr


def test_install_checks_the_plugin_and_restarts_the_daemon(venv: Venv) -> None:
    before = venv.superllm("daemon", "start")
    assert before.returncode == 0, before.stderr
    pid = json.loads(venv.superllm("daemon", "status", "--json").stdout)["pid"]
    assert "sample" not in venv.superllm("providers", "list").stdout

    done = venv.superllm("-v", "providers", "install", "superllm-provider-sample")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("installed superllm-provider-sample: ")
    assert "checks passed" in done.stdout
    assert "-m pip install --disable-pip-version-check" in done.stderr, "says how it installs"
    assert (venv.site / "superllm_sample" / "__init__.py").exists(), "into the venv's own site"
    assert venv.has("superllm-provider-sample")

    assert json.loads(venv.superllm("daemon", "status", "--json").stdout)["pid"] != pid
    rows = json.loads(venv.superllm("providers", "list", "--json").stdout)
    sample = next(r for r in rows if r["id"] == "sample")
    assert sample["kind"] == "sample"
    models = venv.superllm("models", "--provider", "sample")
    assert "sample/sample-small" in models.stdout, models.stderr


def test_a_plugin_that_fails_its_checks_is_taken_out_again(venv: Venv) -> None:
    done = venv.superllm("providers", "install", "superllm-provider-broken")
    assert done.returncode == 4, done.stdout + done.stderr
    assert "FAIL conformance broken: rate_limited" in done.stderr
    assert "uninstalled it again" in done.stderr
    assert "Traceback" not in done.stderr
    assert not venv.has("superllm-provider-broken")
    assert not (venv.site / "superllm_broken").exists()


def test_install_refuses_what_is_not_a_provider_plugin(venv: Venv) -> None:
    done = venv.superllm("providers", "install", "requests")
    assert done.returncode == 2
    assert "not a superllm provider package" in done.stderr
    missing = venv.superllm("providers", "install", "superllm-provider-nowhere")
    assert missing.returncode == 1, missing.stderr
    assert "pip install" in missing.stderr and "failed" in missing.stderr
    assert not venv.has("superllm-provider-nowhere")
