"""``--schema`` and ``-x/--extract``: structured answers and code blocks (stdlib only).

``--schema`` takes a JSON Schema (a file, or the JSON itself) or the concise form of
``llm``: fields separated by commas (or newlines), each ``name [type][: description]``
with type ``str`` (the default), ``int``, ``float`` or ``bool``::

    >>> concise_schema("name, age int, bio: a short biography")["properties"]["age"]
    {'type': 'integer'}

``-x/--extract`` keeps the first fenced code block of an answer, ``--extract-last`` the last;
an answer without one is kept whole (as ``llm`` does).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Final

__all__ = ["concise_schema", "extract_block", "load_schema"]

_TYPES: Final = {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}
_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_FENCE: Final = re.compile(r"^(```+|~~~+)[^\n`]*\n(.*?)^\1[ \t]*$", re.MULTILINE | re.DOTALL)
# Annotations a schema file often carries, which say nothing about the answer.
_ANNOTATIONS: Final = ("$schema", "$id", "$comment")


def _usage(message: str) -> Exception:
    from superllmd.errors import UsageError

    return UsageError(message)


def concise_schema(text: str) -> dict[str, Any]:
    """The JSON Schema of the concise form (every field required)."""
    parts = text.splitlines() if "\n" in text.strip() else text.split(",")
    properties: dict[str, Any] = {}
    for part in (p.strip() for p in parts):
        if not part:
            continue
        head, _, description = part.partition(":")
        words = head.split()
        if not words or len(words) > 2 or not _NAME.match(words[0]):
            raise _usage(
                f"--schema: cannot read {part!r}; write fields as 'name str, age int: years'"
            )
        kind = words[1] if len(words) == 2 else "str"
        if kind not in _TYPES:
            raise _usage(
                f"--schema: unknown type {kind!r} for {words[0]}; use str, int, float or bool"
            )
        field: dict[str, Any] = {"type": _TYPES[kind]}
        if description.strip():
            field["description"] = description.strip()
        properties[words[0]] = field
    if not properties:
        raise _usage("--schema: no fields; e.g. --schema 'name str, age int'")
    return {"type": "object", "properties": properties, "required": list(properties)}


def load_schema(value: str) -> dict[str, Any]:
    """``--schema``'s value as a JSON Schema: a file, inline JSON, or the concise form."""
    text = value
    path = Path(value).expanduser()
    if value.strip().startswith("{"):
        source = "--schema"
    elif value.endswith(".json") or (len(value) < 4096 and path.is_file()):
        source = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise _usage(f"--schema {value}: cannot read it ({exc.strerror})") from None
    else:
        return concise_schema(value)
    try:
        schema = json.loads(text)
    except ValueError as exc:
        raise _usage(f"{source}: not valid JSON ({exc})") from None
    if not isinstance(schema, dict):
        raise _usage(f'{source}: a JSON Schema is an object, e.g. {{"type": "object"}}')
    return {k: v for k, v in schema.items() if k not in _ANNOTATIONS}


def extract_block(text: str, *, last: bool = False) -> str:
    """The first (or ``last``) fenced code block's content; ``text`` when there is none."""
    blocks = [m.group(2) for m in _FENCE.finditer(text)]
    if not blocks:
        return text
    return blocks[-1] if last else blocks[0]
