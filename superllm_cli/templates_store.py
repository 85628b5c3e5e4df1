"""Prompt templates: a system prompt, a prompt with ``$input`` and named ``$params``, a model.

Stored as TOML in the config folder (``templates/NAME.toml``); a few built-ins ship with
superllm and a file of the same name replaces one. Used with ``-t NAME`` on ``ask`` and on
the modes (``consensus``, ``debate``, ...), where ``models`` names the default participants::

    # templates/review.toml
    description = "Review code for bugs"
    system = "You are a careful reviewer."
    prompt = "Review this $lang code and list real bugs only:\\n\\n$input"
    model = "openai/gpt-4.1-mini"        # optional: the default model
    models = ["openai/gpt-4.1", "anthropic/claude-sonnet-4-5"]   # optional: for the modes
    options = { temperature = 0.2 }      # optional: model options

    $ git diff | superllm ask -t review -p lang python
    $ git diff | superllm consensus -t review -p lang python

Stdlib only: the CLI renders templates itself, before the request goes to the daemon.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["BUILTINS", "Template", "load", "names", "render", "template_dir", "to_toml"]

BUILTINS: dict[str, dict[str, Any]] = {
    "summarize": {
        "description": "Summarise the input in a few bullet points",
        "system": "You summarise faithfully and briefly. Never add facts.",
        "prompt": "Summarise the following in at most five bullet points:\n\n$input",
    },
    "review": {
        "description": "Review code for real bugs ($lang, default: the code's own language)",
        "system": "You are a careful senior engineer reviewing code.",
        "prompt": "Review this $lang code. List real bugs only, most serious first:\n\n$input",
        "defaults": {"lang": ""},
    },
    "explain": {
        "description": "Explain the input to a newcomer",
        "system": "You explain clearly, with one small example.",
        "prompt": "Explain this to someone new to the subject:\n\n$input",
    },
    "commit": {
        "description": "Write a commit message for a diff",
        "system": "You write concise, conventional git commit messages.",
        "prompt": (
            "Write a commit message for this diff: a summary line under 72 characters, a "
            "blank line, then why the change was made. Output only the message.\n\n$input"
        ),
        "options": {"temperature": 0.2},
    },
    "proofread": {
        "description": "Fix spelling and grammar, keeping the meaning and the voice",
        "system": "You are a meticulous copy editor. You change as little as possible.",
        "prompt": "Correct the spelling and grammar of this text; output only the text:\n\n$input",
        "options": {"temperature": 0},
    },
    "translate": {
        "description": "Translate the input into $to (default: English)",
        "system": "You translate faithfully, keeping formatting.",
        "prompt": "Translate into $to:\n\n$input",
        "defaults": {"to": "English"},
    },
}


@dataclass(frozen=True)
class Template:
    """One template, from a built-in or a TOML file."""

    name: str
    prompt: str = "$input"
    system: str | None = None
    model: str | None = None
    models: list[str] = field(default_factory=list)  # the modes' default participants
    description: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)
    path: Path | None = None


def template_dir(config_dir: Path) -> Path:
    return config_dir / "templates"


def _from(name: str, data: dict[str, Any], path: Path | None) -> Template:
    from superllmd.errors import ConfigError

    known = {"prompt", "system", "model", "models", "description", "options", "defaults"}
    if unknown := sorted(set(data) - known):
        where = path or f"built-in {name}"
        raise ConfigError(f"template {where}: unknown key {unknown[0]!r}; use {sorted(known)}")
    return Template(
        name=name,
        prompt=str(data.get("prompt", "$input")),
        system=data.get("system"),
        model=data.get("model"),
        models=[str(m) for m in data.get("models", [])],
        description=str(data.get("description", "")),
        options=dict(data.get("options", {})),
        defaults={str(k): str(v) for k, v in dict(data.get("defaults", {})).items()},
        path=path,
    )


def load(name: str, config_dir: Path) -> Template:
    """The template called ``name``: the user's file if there is one, else a built-in."""
    import tomllib

    from superllmd.errors import ConfigError, UsageError

    if not name or "/" in name or name.startswith("."):
        raise UsageError(f"template name {name!r}: use letters, digits, - and _")
    path = template_dir(config_dir) / f"{name}.toml"
    if path.exists():
        try:
            return _from(name, tomllib.loads(path.read_text(encoding="utf-8")), path)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    if name in BUILTINS:
        return _from(name, BUILTINS[name], None)
    raise UsageError(f"no template {name!r}; `superllm templates list` shows them")


def names(config_dir: Path) -> list[tuple[str, str]]:
    """(name, where) of every template: user files and built-ins, sorted."""
    found = dict.fromkeys(BUILTINS, "built-in")
    folder = template_dir(config_dir)
    if folder.is_dir():
        for path in folder.glob("*.toml"):
            found[path.stem] = str(path)
    return sorted(found.items())


def render(template: Template, text: str, params: dict[str, str]) -> str:
    """The prompt with ``$input`` and ``$params`` filled in; a missing one is a usage error."""
    from superllmd.errors import UsageError

    values = {**template.defaults, **params, "input": text}
    try:
        prompt = string.Template(template.prompt).substitute(values)
    except KeyError as exc:
        raise UsageError(
            f"template {template.name} needs ${exc.args[0]}: add -p {exc.args[0]}=VALUE"
        ) from None
    except ValueError as exc:
        raise UsageError(f"template {template.name}: {exc}") from None
    if "$input" not in template.prompt and "${input}" not in template.prompt and text:
        prompt = f"{prompt}\n\n{text}"  # input given but not placed: it goes last
    return prompt


def _toml_value(value: Any) -> str:
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


def to_toml(template: Template) -> str:
    """The TOML text of ``template``, as ``templates save`` writes it."""
    lines = []
    for key in ("description", "system", "prompt", "model", "models"):
        value = getattr(template, key)
        if value:
            lines.append(f"{key} = {_toml_value(value)}")
    if template.options:
        lines.append(f"options = {_toml_value(template.options)}")
    if template.defaults:
        lines.append(f"defaults = {_toml_value(template.defaults)}")
    return "\n".join(lines) + "\n"
