"""Check an installed provider plugin: ``python -m superllmd.testing.plugin_check DIST``.

``superllm providers install`` runs this in a fresh interpreter right after installing, so the
new package's entry points are seen as the daemon will see them. For the distribution
``DIST`` it checks that:

- it declares entry points in ``superllm.providers``, each loading a ``ProviderKind`` subclass
  with a ``name`` that is not a built-in kind's;
- each kind can be made with a ``KindContext``, its built-in providers' settings validate, and
  each makes a ``Provider`` that reports ``Capabilities`` for its models;
- where the package ships its conformance description, an entry point in
  ``superllm.conformance`` naming a :class:`~superllmd.testing.conformance.Dialect` (packages
  made by ``superllm providers new`` do), every check of the conformance suite passes against
  the package's own fake server.

Prints one line per check (``ok NAME`` or ``FAIL NAME: why``) and exits 0 when all pass, 1
otherwise; ``--json`` prints ``[{"check", "ok", "detail"}]`` instead.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from superllmd.providers import (
    Capabilities,
    HttpClients,
    KindContext,
    Provider,
    ProviderKind,
    ProviderSettings,
)
from superllmd.providers.keys import KeyResolver
from superllmd.providers.registry import ENTRY_POINT_GROUP
from superllmd.testing.conformance import CHECKS, Dialect, check_id, run_check

__all__ = ["CONFORMANCE_GROUP", "check_distribution", "main"]

CONFORMANCE_GROUP = "superllm.conformance"
_BUILTIN_KINDS = {"openai", "openai-compatible", "anthropic", "gemini", "cohere", "mistral"}
_BUILTIN_KINDS |= {"ollama", "local"}

Result = dict[str, Any]


def _result(check: str, error: BaseException | str | None = None) -> Result:
    if isinstance(error, BaseException):
        error = f"{type(error).__name__}: {error}".strip().removesuffix(":")
    return {"check": check, "ok": error is None, "detail": error}


def _kinds(dist: importlib.metadata.Distribution) -> Iterator[Result | type[ProviderKind]]:
    points = [ep for ep in dist.entry_points if ep.group == ENTRY_POINT_GROUP]
    if not points:
        yield _result("entry points", f"declares no entry point in {ENTRY_POINT_GROUP}")
        return
    for ep in points:
        where = f"entry point {ep.name}"
        try:
            cls = ep.load()
        except Exception as exc:
            yield _result(where, exc)
            continue
        if not (isinstance(cls, type) and issubclass(cls, ProviderKind)):
            yield _result(where, f"{ep.value} is not a ProviderKind subclass")
        elif not isinstance(getattr(cls, "name", None), str) or not cls.name:
            yield _result(where, f"{ep.value} has no kind name (class attribute `name`)")
        elif cls.name in _BUILTIN_KINDS:
            yield _result(where, f"{cls.name!r} is a built-in kind's name")
        else:
            yield _result(where)
            yield cls


async def _providers(cls: type[ProviderKind], folder: Path) -> list[Result]:
    """Make the kind and each of its built-in providers, as the daemon does."""
    http = HttpClients()
    results: list[Result] = []
    try:
        kind = cls(KindContext(http=http, keys=KeyResolver(use_keyring=False), models_dir=folder))
        offered = kind.builtin_providers()
        for pid, values in offered.items():
            where = f"{cls.name}: provider {pid}"
            try:
                settings = ProviderSettings(**values)
                provider = kind.create(pid, settings, {})
                if not isinstance(provider, Provider):
                    raise TypeError(f"create() returned a {type(provider).__name__}")
                for model in settings.models:
                    if not isinstance(provider.capabilities(model), Capabilities):
                        raise TypeError(f"capabilities({model!r}) is not a Capabilities")
                results.append(_result(where))
            except Exception as exc:
                results.append(_result(where, exc))
        if not offered:
            results.append(_result(f"{cls.name}: made", None))
        await kind.aclose()
    except Exception as exc:
        results.append(_result(f"{cls.name}: made", exc))
    finally:
        await http.aclose()
    return results


def _conformance(dist: importlib.metadata.Distribution, folder: Path) -> list[Result]:
    results: list[Result] = []
    for ep in (ep for ep in dist.entry_points if ep.group == CONFORMANCE_GROUP):
        try:
            dialect = ep.load()
            if not isinstance(dialect, Dialect):
                raise TypeError(f"{ep.value} is not a superllmd.testing.conformance.Dialect")
        except Exception as exc:
            results.append(_result(f"conformance {ep.name}", exc))
            continue
        for check in CHECKS:
            where = f"conformance {ep.name}: {check_id(check)}"
            try:
                run_check(dialect, check, folder)
                results.append(_result(where))
            except BaseException as exc:  # an AssertionError is the usual failure
                if isinstance(exc, KeyboardInterrupt):
                    raise
                results.append(_result(where, exc))
    return results


def check_distribution(name: str) -> list[Result]:
    """Every check above for the installed distribution ``name``."""
    try:
        dist = importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return [_result("installed", f"no distribution named {name} is installed")]
    results = [_result("installed")]
    with tempfile.TemporaryDirectory(prefix="slcheck") as tmp:
        for item in _kinds(dist):
            if isinstance(item, dict):
                results.append(item)
            else:
                results += asyncio.run(_providers(item, Path(tmp)))
        if all(r["ok"] for r in results):
            results += _conformance(dist, Path(tmp))
    return results


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    as_json = "--json" in args
    names = [a for a in args if a != "--json"]
    if len(names) != 1:
        sys.stderr.write("usage: python -m superllmd.testing.plugin_check DIST [--json]\n")
        return 2
    results = check_distribution(names[0])
    if as_json:
        sys.stdout.write(json.dumps(results) + "\n")
    else:
        for r in results:
            line = f"ok   {r['check']}" if r["ok"] else f"FAIL {r['check']}: {r['detail']}"
            sys.stdout.write(line + "\n")
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
