"""docs/configuration.md, generated from the settings model (superllmd.config.Settings).

Each section of config.toml is one pydantic model; its fields give the keys, types,
defaults and bounds, and their docstrings the descriptions. A new setting therefore appears
in the reference as soon as it is added to the model.
"""

from __future__ import annotations

import json
import types
import typing
from typing import Any

__all__ = ["configuration_page"]

_INTRO = """\
# Configuration reference

<!-- Generated from superllmd/config.py by `python -m superllm_cli.docgen`; do not edit. -->

`superllm config path` prints where `config.toml` lives (under `$SUPERLLM_HOME/config/`
when that is set). The daemon re-reads it when it changes; a bad file is reported with the
key, the file and the line, and is never applied half-way. `superllm config set KEY VALUE`
writes one key and refuses a result that would not load.

Every key can also come from the environment, for one command only, as
`SUPERLLM_<SECTION>__<KEY>` (upper case, sections joined by two underscores):
`SUPERLLM_DEFAULT_MODEL=openai/gpt-4.1-mini`, `SUPERLLM_PROVIDERS__OPENAI__BASE_URL=...`,
`SUPERLLM_BUDGETS__DAILY_USD=2`. The environment wins over the file.
"""


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        names = [_type_name(a) for a in args if a is not type(None)]
        optional = " (optional)" if type(None) in args else ""
        return " or ".join(names) + optional
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin in (list, tuple):
        return f"list of {_type_name(args[0])}" if args else "list"
    if origin is dict:
        return f"table of {_type_name(args[1])}" if args else "table"
    if isinstance(annotation, type):
        return {
            "str": "string",
            "int": "integer",
            "float": "number",
            "bool": "boolean",
        }.get(annotation.__name__, annotation.__name__)
    return str(annotation)


def _bounds(field: Any) -> str:
    parts = []
    for item in field.metadata:
        for attr, sign in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
            value = getattr(item, attr, None)
            if value is not None:
                parts.append(f"{sign} {value}")
    return ", ".join(parts)


def _default(field: Any) -> str:
    from pydantic_core import PydanticUndefined

    if field.default_factory is not None:
        value = field.default_factory()
        return "empty" if not value else f"`{json.dumps(value)}`"
    if field.default is PydanticUndefined:
        return "required"
    if field.default is None:
        return "unset"
    return f"`{json.dumps(field.default)}`"


def _model_of(annotation: Any) -> tuple[type[Any] | None, bool]:
    """The settings model a field holds (directly, or as the values of a table)."""
    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    if typing.get_origin(annotation) is dict:
        value = typing.get_args(annotation)[1]
        if isinstance(value, type) and issubclass(value, BaseModel):
            return value, True
    return None, False


def _section(
    title: str, model: type[Any], doc: str | None, out: list[str], nested: list[Any]
) -> None:
    out += ["", f"## `{title}`" if title else "## Top level", ""]
    if doc:
        out += [" ".join(doc.split()), ""]
    rows = []
    for name, field in model.model_fields.items():
        sub, keyed = _model_of(field.annotation)
        if sub is not None:
            child = f"{title}.{name}" if title else name
            nested.append((f"{child}.ID" if keyed else child, sub))
            rows.append((name, "table", "", f"See [`{child}{'.ID' if keyed else ''}`](#).", ""))
            continue
        rows.append(
            (
                name,
                _type_name(field.annotation),
                _default(field),
                " ".join((field.description or "").split()),
                _bounds(field),
            )
        )
    out += ["| key | type | default | bounds | what |", "|---|---|---|---|---|"]
    for name, kind, default, what, bounds in rows:
        out.append(f"| `{name}` | {kind} | {default} | {bounds} | {what} |")


def configuration_page() -> str:
    """The Markdown text of docs/configuration.md."""
    from superllmd.config import Settings

    out = [_INTRO.rstrip("\n")]
    queue: list[Any] = [("", Settings)]
    while queue:
        title, model = queue.pop(0)
        doc = model.__doc__ if title else None
        nested: list[Any] = []
        _section(title, model, doc, out, nested)
        queue.extend(nested)
    text = "\n".join(out) + "\n"
    # Sections refer to each other by anchor; MkDocs lower-cases and strips the title text.
    return _anchors(text)


def _anchors(text: str) -> str:
    import re

    def anchor(match: re.Match[str]) -> str:
        key = match.group(1)
        slug = re.sub(r"[^a-z0-9_-]", "", key.lower())
        return f"See [`{key}`](#{slug})."

    return re.sub(r"See \[`([^`]+)`\]\(#\)\.", anchor, text)
