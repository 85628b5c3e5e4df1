"""Structured output in the fakes: each vendor's native JSON-schema field, checked for the
vendor's shape, and a JSON answer built from the schema.

``native_schema(body, vendor)`` returns ``(schema, problem)``: the schema the request
carries in that vendor's field (None when it asks for none) and what is wrong with the
shape, if anything (the fake then answers 400 as the vendor would). ``structured_text``
answers a schema from the model's name:

``struct-WORD[-N]``  strings are WORD, integers len(WORD), numbers len(WORD)+0.5, booleans true
``struct-bad``       a JSON object without the schema's fields (valid JSON, invalid answer)
``struct-prose``     prose, not JSON
``struct-fenced-WORD`` the struct-WORD answer inside prose and a fenced block
anything else        strings are "echo"
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["native_schema", "structured_text"]

_OPENAI_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")


def _schema_problem(schema: Any) -> str | None:
    if not isinstance(schema, dict) or not isinstance(schema.get("type"), str):
        return "the schema must be an object with a type"
    return None


def native_schema(body: dict[str, Any], vendor: str) -> tuple[dict[str, Any] | None, str | None]:
    """The JSON Schema ``body`` carries in ``vendor``'s structured-output field."""
    if vendor in ("openai", "mistral"):
        fmt = body.get("response_format")
        if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
            return None, None
        spec = fmt.get("json_schema")
        if not isinstance(spec, dict) or not _OPENAI_NAME.match(str(spec.get("name", ""))):
            return None, "response_format.json_schema needs a name of letters, digits, _ and -"
        return spec.get("schema"), _schema_problem(spec.get("schema"))
    if vendor == "anthropic":
        config = body.get("output_config")
        if not isinstance(config, dict) or "format" not in config:
            return None, None
        fmt = config["format"]
        if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
            return None, "output_config.format.type: must be json_schema"
        messages = body.get("messages") or [{}]
        if messages[-1].get("role") == "assistant":
            return None, "structured outputs do not support an assistant prefill"
        return fmt.get("schema"), _schema_problem(fmt.get("schema"))
    if vendor == "gemini":
        config = body.get("generationConfig") or {}
        schema = config.get("responseJsonSchema", config.get("responseSchema"))
        if schema is None:
            return None, None
        if config.get("responseMimeType") != "application/json":
            return None, "a response schema needs responseMimeType application/json"
        if "responseJsonSchema" in config and "responseSchema" in config:
            return None, "responseSchema and responseJsonSchema are exclusive"
        return schema, _schema_problem(schema)
    if vendor == "cohere":
        fmt = body.get("response_format")
        if not isinstance(fmt, dict) or "json_schema" not in fmt:
            return None, None
        if fmt.get("type") != "json_object":
            return None, "response_format.type must be json_object with a json_schema"
        return fmt["json_schema"], _schema_problem(fmt["json_schema"])
    if vendor == "ollama":
        fmt = body.get("format")
        if not isinstance(fmt, dict):
            return None, None
        return fmt, _schema_problem(fmt)
    raise ValueError(vendor)


def _instance(schema: dict[str, Any], word: str) -> Any:
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties") or {}
        return {k: _instance(v, word) for k, v in props.items()}
    if kind == "array":
        return [_instance(schema.get("items") or {"type": "string"}, word)]
    if kind == "integer":
        return len(word)
    if kind == "number":
        return len(word) + 0.5
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return word


def structured_text(schema: dict[str, Any], model: str) -> str:
    """The answer of ``model`` (see the module docstring) to ``schema``."""
    if model.startswith("struct-bad"):
        return json.dumps({"unexpected": True})
    if model.startswith("struct-prose"):
        return "Certainly! Here is what you asked for."
    if model.startswith("struct-fenced-"):
        inner = structured_text(schema, "struct-" + model.removeprefix("struct-fenced-"))
        return f"Here it is:\n```json\n{inner}\n```"
    word = model.split("-")[1] if model.startswith("struct-") else "echo"
    return json.dumps(_instance(schema, word))
