"""``superllm providers new NAME``: write a provider package from the shipped template.

The template (``superllm_cli/templates/provider/``) is a complete, installable package: a
``ProviderKind`` and ``Provider`` speaking a small JSON-over-HTTP dialect written out in full
(rather than a subclass of the OpenAI dialect, which would hide every step a new vendor needs),
a fake server for it on ``superllmd.testing.server``, and a test that runs superllm's
conformance suite against the fake. Files are ``*.tmpl`` so that no tool mistakes them for
the CLI's own code; ``{{name}}``-style placeholders are filled by plain replacement, so the
templates read as the code they become.

Example::

    from superllm_cli.scaffold import write_provider_package
    write_provider_package("acme-ai", Path("."))   # ./superllm-acme-ai/...

Stdlib only: the CLI must start fast.
"""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import re
from pathlib import Path

from superllmd import __version__
from superllmd.errors import UsageError

__all__ = ["NAME_PATTERN", "package_files", "placeholders", "write_provider_package"]

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
_MAX_NAME = 40

# template file -> where it goes, relative to the package root (superllm-NAME/)
_LAYOUT = {
    "pyproject.toml.tmpl": "pyproject.toml",
    "README.md.tmpl": "README.md",
    "package/__init__.py.tmpl": "{{module}}/__init__.py",
    "package/fake.py.tmpl": "{{module}}/fake.py",
    "package/conformance.py.tmpl": "{{module}}/conformance.py",
    "tests/test_conformance.py.tmpl": "tests/test_conformance.py",
}


def placeholders(name: str) -> dict[str, str]:
    """The values a template may use, after checking that ``name`` can be all of them."""
    if not NAME_PATTERN.match(name) or len(name) > _MAX_NAME:
        raise UsageError(
            f"{name!r} is not a provider name: use lowercase letters, digits and hyphens, "
            f"starting with a letter, at most {_MAX_NAME} characters (for example acme-ai)"
        )
    taken = {ep.name for ep in importlib.metadata.entry_points(group="superllm.providers")}
    if name in taken:
        raise UsageError(f"{name!r} is already an installed provider kind; pick another name")
    snake = name.replace("-", "_")
    return {
        "name": name,
        "snake": snake,
        "module": f"superllm_{snake}",
        "Class": "".join(part.capitalize() for part in name.split("-")),
        "key_env": f"{snake.upper()}_API_KEY",
        "version": __version__,
    }


def _fill(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    return text


def package_files(name: str) -> dict[str, str]:
    """Relative path -> contents of every file of the package for ``name``."""
    values = placeholders(name)
    root = importlib.resources.files("superllm_cli").joinpath("templates", "provider")
    return {
        _fill(target, values): _fill(root.joinpath(source).read_text(encoding="utf-8"), values)
        for source, target in _LAYOUT.items()
    }


def write_provider_package(name: str, directory: Path) -> list[Path]:
    """Write ``directory/superllm-NAME/``; refuse (UsageError) if any file would be replaced."""
    root = directory / f"superllm-{name}"
    files = {root / rel: text for rel, text in package_files(name).items()}
    existing = [str(path) for path in files if path.exists()]
    if existing:
        raise UsageError(
            f"not overwriting {', '.join(existing)}; move it away or choose another --dir"
        )
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8") as handle:  # "x": never replace a file
            handle.write(text)
    return list(files)
