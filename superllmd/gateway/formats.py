"""Structured output asked for in a vendor's words, as a native request's fields.

Chat Completions' ``response_format``, the Responses API's ``text.format`` and Anthropic's
``output_config.format`` each name an output format; all three become the native API's:

``{"type": "text"}``                      nothing (the default)
``{"type": "json_object"}``               ``json_output`` (JSON, unchecked)
``{"type": "json_schema", ...schema}``    ``json_schema``: sent in each provider's native
                                          structured-output form and the answer validated
                                          (orchestrator/structured.py), for a model, an
                                          alias, a chain or a ``consensus:`` virtual model

A schema made by a client library (pydantic through the openai or anthropic SDK) may keep
nested models under ``$defs`` and point at them with ``$ref``: those are inlined here, so
the validator and every provider see one self-contained schema. ``$schema``, ``$id`` and
``$comment`` say nothing about the answer and are dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from superllmd.errors import UsageError
from superllmd.gateway.virtual import Virtual
from superllmd.orchestrator.modes import MODES

__all__ = ["output_fields"]

_ANNOTATIONS = ("$schema", "$id", "$comment")
_DEFS = ("$defs", "definitions")
_VALUES = ("enum", "const", "default", "examples")  # data, not schemas: kept as given
_MAX_DEPTH = 32


def output_fields(kind: Any, schema: Any, virtual: Virtual | None, param: str) -> dict[str, Any]:
    """The native fields for an output format of type ``kind`` with ``schema`` (when the
    format carries one); ``param`` names the format in errors (``response_format``)."""
    if kind in (None, "text"):
        return {}
    if kind == "json_object":
        return {"json_output": True}
    if kind != "json_schema":
        raise UsageError(
            f"{param}.type {kind!r} is not supported: use text, json_object or json_schema",
            param=param,
        )
    if not isinstance(schema, Mapping):
        raise UsageError(f"{param}: a json_schema format needs a schema object", param=param)
    if virtual is not None and not MODES[virtual.mode].structured:
        raise UsageError(
            f"{param}: a json_schema answer comes from a model, an alias, a fallback chain or "
            f"a consensus: virtual model, not {virtual.name.partition(':')[0]}; drop the "
            "schema, or ask one of those",
            param=param,
        )
    return {"json_schema": inlined(schema, param)}


def inlined(schema: Mapping[str, Any], param: str) -> dict[str, Any]:
    """``schema`` with its local ``$ref``s replaced by what they point at.

    >>> inlined({"$defs": {"P": {"type": "string"}}, "items": {"$ref": "#/$defs/P"}}, "f")
    {'items': {'type': 'string'}}
    """
    defs: dict[str, Any] = {}
    for key in _DEFS:
        found = schema.get(key)
        if isinstance(found, Mapping):
            defs.update({f"#/{key}/{name}": value for name, value in found.items()})

    def walk(node: Any, depth: int, seen: tuple[str, ...]) -> Any:
        if depth > _MAX_DEPTH:
            raise UsageError(f"{param}: the schema nests too deeply", param=param)
        if isinstance(node, list):
            return [walk(item, depth + 1, seen) for item in node]
        if not isinstance(node, Mapping):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str):
            if ref not in defs:
                raise UsageError(
                    f"{param}: $ref {ref!r} does not point into the schema's $defs", param=param
                )
            if ref in seen:
                raise UsageError(
                    f"{param}: a recursive schema ($ref {ref!r}) cannot be checked; "
                    "give a schema without recursion",
                    param=param,
                )
            # Keywords beside a $ref (pydantic adds a description) narrow what it points at.
            beside = walk({k: v for k, v in node.items() if k != "$ref"}, depth + 1, seen)
            return {**walk(defs[ref], depth + 1, (*seen, ref)), **beside}
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in _ANNOTATIONS or (key in _DEFS and depth == 0):
                continue
            if key == "properties" and isinstance(value, Mapping):  # names, not keywords
                out[key] = {name: walk(sub, depth + 1, seen) for name, sub in value.items()}
            elif key in _VALUES:
                out[key] = value
            else:
                out[key] = walk(value, depth + 1, seen)
        return out

    result: dict[str, Any] = walk(schema, 0, ())
    return result
