"""Editing config.toml in place: ``superllm config set`` and ``superllm budget clear``.

The file is the user's: it is parsed and written back with tomlkit, which keeps comments,
blank lines, key order, quoting and inline tables as they were, and only the edited value
changes. A key is dotted as TOML writes it, so a part with dots or slashes is quoted::

    set_key(path, 'prices."openai/gpt-4.1".input', "2.0", {})   # [prices."openai/gpt-4.1"]
    set_key(path, "aliases.smart", '["a/b", "c/d"]', {})         # a TOML value stays one

The result is validated as settings before it replaces the file (atomically), so an edit
never leaves a config the daemon would refuse.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import Item, Table

from superllmd.config import read_config_text, validate_text
from superllmd.errors import ConfigError

__all__ = ["key_parts", "set_key", "unset_keys"]


def key_parts(key: str) -> list[str]:
    """The parts of a dotted TOML key (``a."b/c".d`` -> a, b/c, d), read by TOML's own rules."""
    try:
        data: Any = tomllib.loads(f"{key} = 0") if "\n" not in key else None
    except tomllib.TOMLDecodeError:
        data = None
    parts: list[str] = []
    while isinstance(data, dict) and len(data) == 1:
        ((part, data),) = data.items()
        parts.append(part)
    if data != 0 or not parts:
        raise ConfigError(
            f"{key!r} is not a config key; write it like providers.openai.base_url "
            '(quote a part with dots or slashes: prices."openai/gpt-4.1".input)'
        )
    return parts


def _value(raw: str) -> Item:
    """A command-line value as TOML: numbers, booleans, arrays and inline tables as written,
    anything else as a string."""
    try:
        tomllib.loads(f"v = {raw}")
        return tomlkit.parse(f"v = {raw}")["v"]  # type: ignore[no-any-return]
    except (tomllib.TOMLDecodeError, TOMLKitError):
        return tomlkit.item(raw)


def _document(path: Path) -> tomlkit.TOMLDocument:
    text = read_config_text(path)
    try:
        return tomlkit.parse(text)
    except TOMLKitError as exc:
        raise ConfigError(f"{path} is not valid TOML ({exc}); fix it first") from None


def _write(path: Path, doc: tomlkit.TOMLDocument, what: str, environ: Mapping[str, str]) -> None:
    text = tomlkit.dumps(doc)
    validate_text(text, path, environ, what)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def set_key(path: Path, key: str, raw_value: str, environ: Mapping[str, str]) -> None:
    """Set dotted ``key`` in config.toml, keeping everything else as it was."""
    parts = key_parts(key)
    doc = _document(path)
    container: MutableMapping[str, Any] = doc
    for depth, part in enumerate(parts[:-1]):
        child = container.get(part)
        if child is None:
            # A table that only holds tables is written as its children's headers alone.
            child = tomlkit.table(is_super_table=depth < len(parts) - 2)
            container[part] = child
        elif not isinstance(child, MutableMapping):
            where = ".".join(parts[: depth + 1])
            raise ConfigError(f"{where} is a value in {path}, not a table; set {where} itself")
        container = child
    container[parts[-1]] = _value(raw_value)
    _write(path, doc, f"setting {key}", environ)


def unset_keys(path: Path, keys: list[str]) -> list[str]:
    """Remove dotted ``keys`` from config.toml, keeping everything else (comments too); a
    table left empty by it goes as well. Returns the keys that were there."""
    if not read_config_text(path):
        return []
    doc = _document(path)
    order = {tuple(k): i for i, k in enumerate(_paths(doc))}
    removed: list[str] = []
    for key in keys:
        parts = key_parts(key)
        trail: list[MutableMapping[str, Any]] = [doc]
        for part in parts[:-1]:
            child = trail[-1].get(part)
            if not isinstance(child, MutableMapping):
                break
            trail.append(child)
        else:
            if parts[-1] in trail[-1]:
                del trail[-1][parts[-1]]
                removed.append(key)
                _drop_emptied(trail, parts)
    removed.sort(key=lambda k: order.get(tuple(key_parts(k)), 0))  # as the file has them
    if removed:
        _write(path, doc, f"removing {', '.join(removed)}", {})
    return removed


def _paths(table: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every value's key path, in the file's order."""
    out: list[tuple[str, ...]] = []
    for name, value in table.items():
        if isinstance(value, Mapping):
            out += _paths(value, (*prefix, name))
        else:
            out.append((*prefix, name))
    return out


def _drop_emptied(trail: list[MutableMapping[str, Any]], parts: list[str]) -> None:
    """Remove the tables on ``trail`` (innermost first) that the removal left empty."""
    for depth in range(len(trail) - 1, 0, -1):
        table = trail[depth]
        if len(table) or not isinstance(table, Table | dict):
            return
        del trail[depth - 1][parts[depth - 1]]
