"""Installing a provider plugin into superllm's own environment: ``superllm providers install``.

superllm must import the plugin, so it goes where superllm itself is installed, found from
the running interpreter (``sys.prefix``):

- a pipx venv (``pipx_metadata.json`` in it, or a folder under ``$PIPX_HOME/venvs``):
  ``pipx inject VENV NAME``;
- a uv tool (``uv-receipt.toml`` in it, or a folder under ``$UV_TOOL_DIR``):
  ``uv tool install TOOL --with NAME`` (with the tool's other ``--with`` packages kept);
- anything else (a venv, a user install): ``python -m pip install NAME`` with this very
  interpreter, so the package cannot land in some other Python.

When the tool that owns the environment is not on PATH (or pip is missing), the user is told
the exact command instead. Stdlib only.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from superllmd.errors import UsageError

__all__ = [
    "DEFAULT_INDEX",
    "Plan",
    "check_requirement",
    "plan",
    "run_checks",
    "run_install",
    "uninstall_plan",
]

DEFAULT_INDEX = "https://pypi.org/simple/"
_REQUIREMENT = re.compile(
    r"^(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)"
    r"(?P<spec>(?:==|>=|<=|~=|!=|<|>)[A-Za-z0-9.*+!_-]+)?$"
)


@dataclass(frozen=True, slots=True)
class Plan:
    """How to install into this environment: ``argv`` to run, or None with only ``command``
    to show (the owning tool is not at hand)."""

    manager: Literal["pip", "pipx", "uv"]
    argv: list[str] | None
    command: str
    missing: str | None = None  # why argv is None


def check_requirement(requirement: str) -> str:
    """The distribution name of ``superllm-provider-NAME[==VERSION]``, or a UsageError."""
    from superllm_cli.plugin_index import PREFIX, normalize

    found = _REQUIREMENT.match(requirement.strip())
    if found is None:
        raise UsageError(
            f"{requirement!r} is not a package name; give one such as superllm-provider-acme "
            "(find them with `superllm providers search WORD`)"
        )
    name = found.group("name")
    if not normalize(name).startswith(PREFIX):
        raise UsageError(
            f"{name} is not a superllm provider package (they are named {PREFIX}NAME); "
            "find them with `superllm providers search WORD`"
        )
    return name


def _index_args(index_url: str) -> list[str]:
    return [] if index_url == DEFAULT_INDEX else ["--index-url", index_url]


def _quote(argv: list[str]) -> str:
    import shlex

    return " ".join(shlex.quote(a) for a in argv)


def _under(path: Path, folder: str | None) -> bool:
    if not folder:
        return False
    try:
        return path.resolve().is_relative_to(Path(folder).expanduser().resolve())
    except OSError:
        return False


def _uv_withs(prefix: Path, tool: str) -> list[str]:
    """The extra packages a uv tool was installed with (its receipt), to keep them."""
    import tomllib

    try:
        receipt = tomllib.loads((prefix / "uv-receipt.toml").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    requirements = receipt.get("tool", {}).get("requirements", [])
    names = [str(r.get("name")) for r in requirements if isinstance(r, dict) and r.get("name")]
    return [n for n in names if n != tool]


def _manager(prefix: Path, environ: Mapping[str, str]) -> Literal["pip", "pipx", "uv"]:
    home = Path(environ.get("HOME", "~")).expanduser()
    pipx_homes = [
        environ.get("PIPX_HOME"),
        str(home / ".local/share/pipx"),
        str(home / ".local/pipx"),
    ]
    if (prefix / "pipx_metadata.json").exists() or any(
        _under(prefix, f"{h}/venvs") for h in pipx_homes if h
    ):
        return "pipx"
    uv_dirs = [environ.get("UV_TOOL_DIR"), str(home / ".local/share/uv/tools")]
    if (prefix / "uv-receipt.toml").exists() or any(_under(prefix, d) for d in uv_dirs if d):
        return "uv"
    return "pip"


def plan(
    requirement: str,
    index_url: str,
    *,
    prefix: Path | None = None,
    executable: str | None = None,
    environ: Mapping[str, str] | None = None,
    which: Callable[[str], str | None] = shutil.which,
    has_pip: bool | None = None,
) -> Plan:
    """How to install ``requirement`` where this superllm runs (see the module docstring)."""
    prefix = Path(sys.prefix if prefix is None else prefix)
    executable = executable or sys.executable
    environ = os.environ if environ is None else environ
    manager = _manager(prefix, environ)
    if manager == "pipx":
        argv = ["pipx", "inject", *_index_args(index_url), prefix.name, requirement]
    elif manager == "uv":
        withs = [a for w in _uv_withs(prefix, prefix.name) for a in ("--with", w)]
        argv = ["uv", "tool", "install", *_index_args(index_url), prefix.name, *withs]
        argv += ["--with", requirement]
    else:
        # No version self-check: it would reach pypi.org whatever the index.
        argv = [executable, "-m", "pip", "install", "--disable-pip-version-check"]
        argv += [*_index_args(index_url), requirement]
        if has_pip is None:
            import importlib.util

            has_pip = importlib.util.find_spec("pip") is not None
        if not has_pip:
            return Plan("pip", None, _quote(argv), f"pip is not installed in {prefix}")
    if manager != "pip" and which(argv[0]) is None:
        return Plan(manager, None, _quote(argv), f"{argv[0]} is not on PATH")
    return Plan(manager, argv, _quote(argv))


def uninstall_plan(name: str, installed: Plan) -> list[str] | None:
    """The command that takes ``name`` out again after a failed check (None: not offered)."""
    if installed.argv is None:
        return None
    if installed.manager == "pip":
        return [installed.argv[0], "-m", "pip", "uninstall", "-y", name]
    if installed.manager == "pipx":
        return ["pipx", "uninject", installed.argv[-2], name]
    return None  # uv: reinstalling the tool without --with is the user's call


def run_install(installer: Plan) -> None:
    """Run the plan; a failure raises with the tool's last lines (its own words say why)."""
    import subprocess

    from superllmd.errors import SuperllmError

    if installer.argv is None:
        raise UsageError(f"{installer.missing}; install the plugin with: {installer.command}")
    done = subprocess.run(
        installer.argv, check=False, capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    if done.returncode != 0:
        tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        raise SuperllmError(f"{installer.command} failed (exit {done.returncode}): {tail}")


def run_checks(name: str) -> list[dict[str, object]]:
    """The installed plugin's checks (superllmd.testing.plugin_check), in a fresh interpreter
    so its entry points are seen as the restarted daemon will see them."""
    import json
    import subprocess

    from superllmd.errors import SuperllmError

    done = subprocess.run(
        [sys.executable, "-m", "superllmd.testing.plugin_check", name, "--json"],
        check=False,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=600,
    )
    try:
        results: list[dict[str, object]] = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        tail = " | ".join(done.stderr.strip().splitlines()[-3:])
        raise SuperllmError(f"checking {name} failed to run: {tail or 'no output'}") from None
    return results
