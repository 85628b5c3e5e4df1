"""What of the client's environment a request carries: decided here, and nowhere else.

A request to the daemon applies the client's environment to itself only (so
``OPENAI_API_KEY=... superllm ask`` and a cron job's own variables work), but it must not
carry every secret of the user's shell across the socket. It carries:

- the ``SUPERLLM_*`` variables (settings, as ``SUPERLLM_SECTION__KEY``), and
- the provider variables the daemon's registry names (``OPENAI_API_KEY``,
  ``AZURE_OPENAI_ENDPOINT``, ``OLLAMA_HOST``, a configured ``api_key_env``...), plus any
  variable a ``SUPERLLM_..._API_KEY_ENV`` setting names.

The daemon publishes its list in ``/v1/health`` (``env_names``, ``env_tag``). The client keeps
it in the runtime folder, so the fast path reads a small file instead of asking; every request
sends the list's tag, and a daemon whose list has changed (a provider added to config.toml)
answers ``env_names`` with the new one, which the client stores before sending again.
Stdlib only: the CLI imports this on every call.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

__all__ = ["CACHE_NAME", "PREFIX", "EnvNames", "forwarded", "query", "settings_only"]

PREFIX = "SUPERLLM_"
CACHE_NAME = "env-names.json"
_KEY_ENV_SUFFIX = "API_KEY_ENV"


def settings_only(environ: Mapping[str, str]) -> dict[str, str]:
    """The ``SUPERLLM_*`` variables: what a request that calls no provider needs."""
    return {k: v for k, v in environ.items() if k.startswith(PREFIX)}


def forwarded(environ: Mapping[str, str], names: list[str] | tuple[str, ...]) -> dict[str, str]:
    """The part of ``environ`` a request carries: ``SUPERLLM_*`` and the provider variables
    in ``names`` (and those a ``SUPERLLM_..._API_KEY_ENV`` setting names), nothing else."""
    wanted = set(names)
    for key, value in environ.items():
        if key.startswith(PREFIX) and key.endswith(_KEY_ENV_SUFFIX) and value.strip():
            wanted.add(value.strip())
    return {k: v for k, v in environ.items() if k.startswith(PREFIX) or k in wanted}


def query(
    path: str,
    environ: Mapping[str, str],
    names: list[str] | None,
    params: Mapping[str, Any] | None = None,
    *,
    present: bool = False,
) -> str:
    """``path`` with ``params`` and the ``SUPERLLM_*`` settings of ``environ`` (a GET has no
    body); with ``present``, also the *names*, never the values, of its set provider
    variables (of every set variable while the daemon's list is unknown), enough for the
    daemon to say where a key would come from."""
    out = {k: v for k, v in (params or {}).items() if v is not None}
    out.update(settings_only(environ))
    if present:
        env = environ if names is None else forwarded(environ, names)
        out["present"] = ",".join(
            sorted(k for k, v in env.items() if v and not k.startswith(PREFIX))
        )
    return f"{path}?{urlencode(out, doseq=True)}" if out else path


class EnvNames:
    """The daemon's list of provider variables, as last heard, kept in the runtime folder."""

    def __init__(self, runtime_dir: Path) -> None:
        self.path = runtime_dir / CACHE_NAME
        self.tag = ""
        self.names: list[str] = []
        self.loaded = False

    def load(self) -> bool:
        """Read the stored list; False if there is none (or it is unreadable)."""
        try:
            data: Any = json.loads(self.path.read_bytes())
            names, tag = data["names"], data["tag"]
        except (OSError, ValueError, KeyError, TypeError):
            return False
        if not isinstance(names, list) or not isinstance(tag, str):
            return False
        self.names, self.tag, self.loaded = [str(n) for n in names], tag, True
        return True

    def update(self, names: list[str], tag: str) -> None:
        """Take the daemon's list and store it for the next client (best effort)."""
        self.names, self.tag, self.loaded = list(names), tag, True
        temp = self.path.with_name(f".{CACHE_NAME}.{os.getpid()}")
        with contextlib.suppress(OSError):
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                json.dump({"tag": tag, "names": self.names}, handle)
            os.replace(temp, self.path)

    def update_from(self, health: Mapping[str, Any]) -> None:
        names, tag = health.get("env_names"), health.get("env_tag")
        if isinstance(names, list) and isinstance(tag, str) and tag:
            self.update([str(n) for n in names], tag)
