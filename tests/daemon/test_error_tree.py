"""Every error the daemon can raise keeps its exit code across the socket.

The tree is walked in the daemon (every ``superllmd`` module imported, so errors declared
outside ``superllmd.errors`` count too); each class goes out as the daemon's error body and
is rebuilt by the client's ``error_of`` in a fresh interpreter that imports only what the CLI
imports, which is how ``superllm`` sees it.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys

import superllmd
from superllmd import errors
from superllmd.api._common import error_response
from superllmd.errors import SuperllmError

_CLIENT = """
import json, sys
from superllm_cli._daemon import error_of
out = []
for status, body in json.loads(sys.stdin.read()):
    error = error_of(status, body.encode())
    out.append([type(error).__name__, error.code, error.exit_code])
heavy = [m for m in ("superllmd.ledger", "superllmd.orchestrator", "superllmd.gateway")
         if m in sys.modules]
print(json.dumps({"errors": out, "heavy": heavy}))
"""


def _walk(cls: type[SuperllmError]) -> list[type[SuperllmError]]:
    out = [cls]
    for sub in cls.__subclasses__():
        out += _walk(sub)
    return out


def _daemon_tree() -> list[type[SuperllmError]]:
    for module in pkgutil.walk_packages(superllmd.__path__, "superllmd."):
        if ".testing" in module.name or module.name.endswith("__main__"):
            continue
        try:
            importlib.import_module(module.name)
        except ImportError:  # an optional extra (llama.cpp, PostgreSQL) not installed
            continue
    return list(dict.fromkeys(_walk(SuperllmError)))


def _own(cls: type[SuperllmError]) -> type[SuperllmError]:
    """The class the client should rebuild: the first ancestor (or itself) with its code."""
    for ancestor in reversed(cls.__mro__):
        if issubclass(ancestor, SuperllmError) and ancestor.code == cls.code:
            return ancestor
    return cls


def test_every_error_round_trips_with_its_exit_code() -> None:
    tree = _daemon_tree()
    assert errors.LedgerError in tree and len(tree) > 25
    wire = []
    for cls in tree:
        response = error_response(cls("what failed; what to do", provider="p"))
        assert response.status_code == cls.http_status >= 400, cls
        wire.append([response.status_code, bytes(response.body).decode()])
    done = subprocess.run(
        [sys.executable, "-c", _CLIENT],
        input=json.dumps(wire),
        capture_output=True,
        text=True,
        check=True,
    )
    answer = json.loads(done.stdout)
    assert answer["heavy"] == []  # the client's own view of the tree, not the daemon's
    for cls, (name, code, exit_code) in zip(tree, answer["errors"], strict=True):
        assert (code, exit_code) == (cls.code, cls.exit_code), cls
        assert name == _own(cls).__name__, cls


def test_a_new_code_is_declared_in_the_shared_tree() -> None:
    """A class outside ``superllmd.errors`` with a code of its own would come back to the
    client as a plain error (exit 1), as LedgerError once did."""
    for cls in _daemon_tree():
        if _own(cls) is cls:
            assert cls.__module__ == "superllmd.errors", f"{cls} has its own code {cls.code!r}"


def test_codes_are_unique_in_the_tree() -> None:
    own = [cls for cls in _walk(SuperllmError) if _own(cls) is cls]
    codes = [cls.code for cls in own]
    assert len(codes) == len(set(codes)), codes
    assert errors.from_dict({"code": "ledger", "message": "x"}).exit_code == 3
    assert type(errors.from_dict({"code": "usage", "message": "x"})) is errors.UsageError
