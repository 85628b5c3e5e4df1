"""``superllm_cli/fastspec.json``: the fast path's view of the command line, read off Typer.

Typer stays the one definition of the command line; the fast path (``superllm_cli._fast``)
parses the common forms of a few hot commands from this table instead of importing Typer.
Every parameter is written down with what the fast parser needs (its names, kind, default,
bounds, environment variable); a parameter it could not reproduce is of kind ``other`` (the
fast path hands the command line to Typer when one is used), and a command it cannot run at
all (a callback, a required option, a default it cannot write) is marked ``fast = False``.
"""

from __future__ import annotations

import enum
import json
from typing import Any, get_args, get_origin

__all__ = ["FAST_COMMANDS", "SPEC_FILE", "fastspec_json", "spec"]

#: Where the table is committed, relative to the repository root.
SPEC_FILE = "superllm_cli/fastspec.json"

#: The commands the fast path runs (the root's options are always read).
FAST_COMMANDS = ("ask", "usage")
#: Callbacks known to do nothing unless their option is given (the fast path refuses
#: ``--version`` among other arguments and prints it alone itself).
_INERT_CALLBACKS = {("", "version")}
_SCALARS = {str: "str", int: "int", float: "float"}
_LITERALS = (type(None), bool, int, float, str)


def _kind(param: Any) -> tuple[str, bool, tuple[str, ...]]:
    """(kind, multiple, choices) of a Typer parameter."""
    desc = param.type_descriptor
    annotation = desc.annotation
    if getattr(param, "is_flag", False):
        return ("flag" if param.is_bool_flag and annotation is bool else "other"), False, ()
    multiple = bool(getattr(param, "multiple", False))
    if multiple and get_origin(annotation) is list and len(get_args(annotation)) == 1:
        annotation = get_args(annotation)[0]
    if param.nargs != 1 or getattr(param, "count", False):
        return "other", multiple, ()
    if desc.is_choice and desc.case_sensitive:
        choices = tuple(c.value if isinstance(c, enum.Enum) else c for c in desc.choices)
        if all(isinstance(c, str) for c in choices):
            return "choice", multiple, choices
        return "other", multiple, ()
    if desc.is_file or desc.is_path:
        return "other", multiple, ()
    info = desc.parameter_info
    if any(getattr(info, name, False) for name in ("clamp", "min_open", "max_open")):
        return "other", multiple, ()  # bounds the fast parser checks inclusively only
    return _SCALARS.get(annotation, "other"), multiple, ()


def _default(value: Any) -> tuple[bool, Any]:
    """(writable, value): a default the table can hold as a literal."""
    if isinstance(value, enum.Enum) and isinstance(value.value, str):
        return True, value.value
    if isinstance(value, _LITERALS):
        return True, value
    return False, None


def _command(path: str, cmd: Any, ctx: Any) -> dict[str, Any]:
    options: dict[str, tuple[str, bool]] = {}
    params: dict[str, tuple[Any, ...]] = {}
    arguments: list[str] = []
    fast = not (cmd.context_settings or getattr(cmd, "no_args_is_help", False))
    for param in cmd.get_params(ctx):
        if param.name == "help" and not param.expose_value:
            continue  # --help is never fast: Typer prints it
        kind, multiple, choices = _kind(param)
        writable, default = _default(param.default)
        if not writable or param.required or getattr(param, "prompt", None):
            fast = False
        if param.callback is not None and (path, param.name) not in _INERT_CALLBACKS:
            fast = False
        if getattr(param, "deprecated", False) or not param.expose_value:
            kind = "other"
        envvar = param.envvar if isinstance(param.envvar, str) else None
        if param.envvar and envvar is None:
            kind = "other"  # several variables: rare, left to Typer
        if param.param_type_name == "argument":
            arguments.append(param.name)
        else:
            for name in param.opts:
                options[name] = (param.name, True)
            for name in param.secondary_opts:
                options[name] = (param.name, False)
        bounds = (getattr(param, "min", None), getattr(param, "max", None))
        params[param.name] = (kind, multiple, default, envvar, *bounds, choices)
    return {
        "fast": fast,
        "interspersed": bool(cmd.allow_interspersed_args),
        "options": options,
        "params": params,
        "arguments": arguments,
    }


def spec() -> dict[str, Any]:
    """The table: ``""`` for the root's options, then each of :data:`FAST_COMMANDS`."""
    import typer
    from typer import _click as click

    from superllm_cli.app import app

    root = typer.main.get_command(app)
    ctx = click.core.Context(root, info_name="superllm")
    table = {"": _command("", root, ctx)}
    for name in FAST_COMMANDS:
        cmd = root.get_command(ctx, name)  # type: ignore[attr-defined]
        table[name] = _command(name, cmd, click.core.Context(cmd, info_name=name, parent=ctx))
    return table


def fastspec_json() -> str:
    """The text of ``superllm_cli/fastspec.json`` (read by ``superllm_cli._fast``)."""
    note = (
        "Generated from the Typer app by `python -m superllm_cli.docgen` "
        "(superllm_cli/docgen/fastspec.py): do not edit; a test fails when it and the app "
        "disagree. Per command: options maps an option name to [parameter, value as a flag]; "
        "params maps a parameter to [kind, multiple, default, envvar, min, max, choices]; "
        "arguments lists the positional ones in order."
    )
    lines = ["{", f'"_": {json.dumps(note)},']
    table = spec()
    for i, (name, command) in enumerate(table.items()):
        lines.append(f"{json.dumps(name)}: {{")
        for j, (key, value) in enumerate(command.items()):
            end = "," if j < len(command) - 1 else ""
            if isinstance(value, dict):  # one entry a line, so a diff shows what changed
                entries = [f" {json.dumps(k)}: {json.dumps(v)}" for k, v in value.items()]
                lines.append(f" {json.dumps(key)}: {{")
                lines.append(",\n".join(f" {e}" for e in entries))
                lines.append(f" }}{end}")
            else:
                lines.append(f" {json.dumps(key)}: {json.dumps(value)}{end}")
        lines.append("}," if i < len(table) - 1 else "}")
    lines.append("}")
    return "\n".join(lines) + "\n"
