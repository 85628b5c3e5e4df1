"""``POST /v1/providers/plugins``, ``DELETE /v1/providers/plugins/{name}``: file plugins.

``superllm providers add PATH.py`` sends the file's absolute path; the daemon imports it in
isolation, registers the ``ProviderKind`` classes it defines in the live registry, and keeps a
copy as ``<config dir>/plugins/<kind name>.py``, which it loads again at every start. The
daemon does this rather than the CLI because it owns the registry and the config dir, and
because only an import in the process that will run the plugin proves that it loads.

A file plugin is the user's own code, run by the user's own daemon over the user's own socket:
the same trust as an installed entry-point plugin. Both routes therefore refuse any request
that did not come through the Unix socket: a token for the TCP gateway must never be a way to
run code. A plugin must be self-contained (one file, the ``superllmd.providers`` API and
installed packages); sibling modules are not importable.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, TypeAdapter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from superllmd.api._common import read_body, state_of
from superllmd.errors import UsageError
from superllmd.providers.base import ProviderKind
from superllmd.providers.registry import PLUGIN_MODULE_PREFIX, Registry, load_kind_file
from superllmd.state import DaemonState

__all__ = ["AddPluginRequest", "add_plugin", "remove_plugin"]


class AddPluginRequest(BaseModel):
    """``POST /v1/providers/plugins``: the absolute path of a plugin file on this machine."""

    model_config = ConfigDict(extra="forbid")

    path: str


_ADD = TypeAdapter(AddPluginRequest)


def _local_only(request: Request) -> None:
    # uvicorn gives a Unix-socket connection no client address; a TCP one always has one.
    if request.scope.get("client") is not None:
        raise UsageError("provider plugins can be managed only through the local socket")


async def _retire(kinds: list[ProviderKind]) -> None:
    """Close kinds that left the registry, and forget their plugin modules."""
    for kind in kinds:
        await kind.aclose()
        module = type(kind).__module__
        if module.startswith(PLUGIN_MODULE_PREFIX):
            sys.modules.pop(module, None)


def _plugin_dir(registry: Registry) -> Path:
    if registry.plugin_dir is None:
        raise UsageError("this daemon was started without a plugin folder")
    return registry.plugin_dir


def _source(raw: str) -> Path:
    path = Path(raw)
    if not path.is_absolute():
        raise UsageError(f"{raw}: give the plugin file's absolute path")
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    if path.suffix != ".py":
        raise UsageError(f"{path}: a provider plugin is a Python file ending in .py")
    return path


async def add_plugin(request: Request) -> Response:
    _local_only(request)
    state = state_of(request)
    body = await read_body(request, _ADD)
    source = _source(body.path)
    folder = _plugin_dir(state.registry)
    classes = load_kind_file(source)
    name = str(getattr(classes[0], "name", ""))  # add_kinds validates every name
    folder.mkdir(parents=True, exist_ok=True)
    # Copy first, register next, publish last: a refused plugin leaves no file behind, and a
    # registered one is never missing from the next start.
    staged = folder / f".adding-{secrets.token_hex(4)}.tmp"
    staged.write_bytes(source.read_bytes())
    try:
        replaced = state.registry.add_kinds(classes, plugin=name)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    target = folder / f"{name}.py"
    os.replace(staged, target)
    await _retire(replaced)
    kinds = state.registry.file_plugins[name]
    providers = sorted(
        pid for kind_name in kinds for pid in state.registry.kinds[kind_name].builtin_providers()
    )
    return JSONResponse(
        {
            "name": name,
            "kinds": list(kinds),
            "providers": providers,
            "path": str(target),
            "replaced": bool(replaced),
        }
    )


def _find_plugin(state: DaemonState, wanted: str) -> str | None:
    """The file plugin that ``wanted`` names: by file name, kind name or provider id."""
    registry = state.registry
    for plugin, kinds in registry.file_plugins.items():
        offered = {pid for k in kinds for pid in registry.kinds[k].builtin_providers()}
        if wanted == plugin or wanted in kinds or wanted in offered:
            return plugin
    folder = registry.plugin_dir
    if folder is not None and (folder / f"{wanted}.py").is_file():
        return wanted  # a file that failed to load: removing it is how to fix that
    return None


def _refuse_if_configured(state: DaemonState, kinds: tuple[str, ...]) -> None:
    """Removing a kind that config.toml still names would break every request."""
    settings = state.settings(None)
    users = [pid for pid, p in sorted(settings.providers.items()) if p.kind in kinds]
    if users:
        sections = ", ".join(f"[providers.{pid}]" for pid in users)
        raise UsageError(
            f"config.toml still uses kind {', '.join(kinds)} in {sections}; remove "
            f"{'that section' if len(users) == 1 else 'those sections'} first "
            "(`superllm config edit`)"
        )


async def remove_plugin(request: Request) -> Response:
    _local_only(request)
    state = state_of(request)
    wanted = request.path_params["name"]
    plugin = _find_plugin(state, wanted)
    if plugin is None:
        known = ", ".join(sorted(state.registry.file_plugins)) or "none"
        hint = (
            f"; {wanted} is configured in config.toml, so remove its section there"
            if wanted in state.settings(None).providers
            else ""
        )
        raise UsageError(f"no file plugin {wanted!r} (file plugins: {known}){hint}")
    kinds = state.registry.file_plugins.get(plugin, ())
    _refuse_if_configured(state, kinds)
    path = _plugin_dir(state.registry) / f"{plugin}.py"
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    await _retire(state.registry.remove_plugin(plugin))
    body: dict[str, Any] = {"name": plugin, "kinds": list(kinds), "path": str(path)}
    return JSONResponse(body)
