"""The fast path: the common forms of ``superllm --version``, ``ask`` and ``usage`` without
importing Typer (and, through it, pydantic), which costs more than the rest of the call.

Typer stays the one definition of the command line. This module reads ``fastspec.json``,
a table generated from the Typer app (``superllm_cli/docgen/fastspec.py``; a test fails
when the two disagree), and parses argv the way Typer's parser does for what the table
describes: long options with ``=`` or a separate value, short options with attached values
and clusters, ``--``, repeated options, environment variables, bounds. Anything else (an
unknown option, ``--help``, a value it would have to coerce loosely, a bad value, a Tab
press, ``--debug``) returns None and the caller hands the same argv to Typer, which
answers or explains. Once parsed, the command runs the very body Typer would call
(``_ask.ask_body``, ``_usage.usage_body``, under ``_runner.guarded``), so requests,
output, autostart, the version check, error messages and exit codes are the same code
whichever parser read the line.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import re
import sys
from typing import Any

from superllmd.records import fields

__all__ = ["parse", "run"]

_INT = re.compile(r"[+-]?[0-9]+\Z")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")


#: The commands the fast path runs: (module, its arguments' record, its body), the same
#: body the Typer command calls. Each is in the table (docgen/fastspec.py FAST_COMMANDS).
_BODIES = {
    "ask": ("superllm_cli._ask", "AskArgs", "ask_body"),
    "usage": ("superllm_cli._usage", "UsageArgs", "usage_body"),
}


class _Typer(Exception):
    """This command line is for Typer to read."""


@functools.cache
def _spec() -> dict[str, Any]:
    """The table, or an empty one (everything to Typer) if an install lost or broke it."""
    try:
        with open(os.path.join(os.path.dirname(__file__), "fastspec.json"), "rb") as handle:
            spec: dict[str, Any] = json.loads(handle.read())
    except (OSError, ValueError):
        return {}
    return spec


class _Reader:
    """Reads one command's options as the parser Typer uses does (``typer._click.parser``)."""

    def __init__(self, command: dict[str, Any], tokens: list[str]) -> None:
        self.names: dict[str, list[Any]] = command["options"]
        self.params: dict[str, list[Any]] = command["params"]
        self.interspersed: bool = command["interspersed"]
        self.tokens = tokens
        self.i = 0
        self.got: dict[str, Any] = {}
        self.positional: list[str] = []

    def store(self, opt: str, value: Any) -> None:
        name = self.names[opt][0]
        if self.params[name][1]:
            self.got.setdefault(name, []).append(value)
        else:
            self.got[name] = value  # given twice: the last one counts

    def takes_value(self, opt: str) -> bool:
        return bool(self.params[self.names[opt][0]][0] != "flag")

    def next_value(self) -> str:
        if self.i >= len(self.tokens):
            raise _Typer  # a value is missing: Typer says so
        self.i += 1
        return self.tokens[self.i - 1]

    def read(self) -> tuple[dict[str, Any], list[str], list[str]]:
        """(raw option values, positional arguments, the rest for a subcommand)."""
        while self.i < len(self.tokens):
            arg = self.tokens[self.i]
            self.i += 1
            if arg == "--":
                if not self.interspersed:
                    raise _Typer
                self.positional.extend(self.tokens[self.i :])
                break
            if arg[:1] != "-" or len(arg) == 1:
                if not self.interspersed:
                    return self.got, self.positional, self.tokens[self.i - 1 :]
                self.positional.append(arg)
            elif not self.long(arg):
                self.short(arg)
        return self.got, self.positional, []

    def long(self, arg: str) -> bool:
        opt, eq, attached = arg.partition("=")
        if opt not in self.names or _is_short(opt):
            if arg[:2] == "--":
                raise _Typer  # an unknown long option (or --help)
            return False
        if not self.takes_value(opt):
            if eq:
                raise _Typer  # a flag given a value
            self.store(opt, self.names[opt][1])
        else:
            self.store(opt, attached if eq else self.next_value())
        return True

    def short(self, arg: str) -> None:
        """``-v``, ``-mMODEL``, ``-m MODEL``, ``-cm MODEL``: a cluster of short options."""
        for j, ch in enumerate(arg[1:], start=2):
            opt = "-" + ch
            if opt not in self.names or not _is_short(opt):
                raise _Typer
            if not self.takes_value(opt):
                self.store(opt, self.names[opt][1])
            else:
                self.store(opt, arg[j:] if j < len(arg) else self.next_value())
                return


def _is_short(opt: str) -> bool:
    return len(opt) == 2 and opt[1] != "-"


def _convert(value: str, kind: str, low: Any, high: Any, choices: list[str]) -> Any:
    if kind == "str":
        return value
    if kind == "choice":
        if value not in choices:
            raise _Typer
        return value
    if kind == "int" and _INT.match(value):
        number: float = int(value)
    elif kind == "float" and _FLOAT.match(value):
        number = float(value)
    else:
        raise _Typer  # another kind, or a form Typer may read differently: let it
    if (low is not None and number < low) or (high is not None and number > high):
        raise _Typer
    return number


def _values(command: dict[str, Any], tokens: list[str]) -> tuple[dict[str, Any], list[str]]:
    """Every parameter's value, as Typer would pass it to the command function."""
    if not command["fast"]:
        raise _Typer
    got, positional, rest = _Reader(command, tokens).read()
    arguments: list[str] = command["arguments"]
    if len(positional) > len(arguments):
        raise _Typer  # an unexpected extra argument: Typer says so
    got.update(zip(arguments, positional, strict=False))
    values: dict[str, Any] = {}
    for name, (kind, multiple, default, envvar, low, high, choices) in command["params"].items():
        raw = got.get(name)
        if raw is None and envvar and os.environ.get(envvar):
            if kind == "other" or multiple:
                raise _Typer
            raw = os.environ[envvar]
        if raw is None:
            values[name] = default
        elif kind == "other":
            raise _Typer
        elif kind == "flag":
            values[name] = raw
        elif multiple:
            values[name] = [_convert(v, kind, low, high, choices) for v in raw]
        else:
            values[name] = _convert(raw, kind, low, high, choices)
    return values, rest


def parse(argv: list[str]) -> tuple[str, dict[str, Any], dict[str, Any]] | None:
    """(command, root option values, command parameter values) when the fast path can run
    ``argv``; None when it is for Typer."""
    spec = _spec()
    if "" not in spec:
        return None
    try:
        root, rest = _values(spec[""], argv)
        if not rest or rest[0] not in _BODIES or rest[0] not in spec or root.get("version"):
            return None
        command, tokens = rest[0], rest[1:]
        if command == "ask":  # -p KEY VALUE, as Typer's ParamCommand reads it
            from superllm_cli.flags import join_params

            tokens = join_params(tokens)
        values, _ = _values(spec[command], tokens)
    except _Typer:
        return None
    return command, root, values


def run(argv: list[str]) -> int | None:
    """Run ``argv`` on the fast path and return its exit code, or None: use Typer."""
    from superllm_cli.completion import COMPLETE_VAR

    if COMPLETE_VAR in os.environ:
        return None
    if argv == ["--version"]:
        from superllmd import __version__

        sys.stdout.write(f"superllm {__version__}\n")
        return 0
    parsed = parse(argv)
    if parsed is None:
        return None
    command, root, values = parsed
    from superllm_cli._runner import COLOR_MODES, ExitCode, Globals, guarded

    if root["color"] not in COLOR_MODES or root["debug"]:
        return None  # Typer explains a bad --color; --debug shows Typer's traceback
    g = Globals(color=root["color"], verbose=root["verbose"], debug=False)
    where, kind, body = _BODIES[command]
    module = importlib.import_module(where)
    if not set(values) <= set(fields(getattr(module, kind))):
        return None  # a parameter the body does not know (the table is newer): Typer's
    args = getattr(module, kind)(**values)
    if args.bad_value() is not None:
        return None  # Typer explains the value
    try:
        code: int = guarded(g, lambda out: getattr(module, body)(out, args))
    except ExitCode as exc:
        return exc.code
    return code
