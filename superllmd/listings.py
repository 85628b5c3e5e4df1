"""The model lists providers serve, as ``superllm models --refresh`` last fetched them.

One JSON file per provider in the cache folder (``cache/models/PROVIDER.json``, 0600 in a 0700
folder), written whole and renamed into place, so a reader never sees half a file::

    {"provider": "ollama", "base_url": "http://127.0.0.1:11434",
     "fetched_at": "2026-12-04T23:30:00+00:00",
     "models": [{"id": "llama3.2:latest", "context_window": null, "max_output": null}]}

A list is used only while the provider still points where it was fetched from (``base_url``):
a list from another server would offer models this one lacks. Stdlib only: shell completion
reads these files when the daemon is not running.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["Listing", "ListingCache", "ServedModel"]

# Provider ids are config keys; anything else must not reach a file name.
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


@dataclass(frozen=True, slots=True)
class ServedModel:
    """One model an endpoint says it serves (its own models list), with what it tells of it.

    ``Provider.served_models`` returns these; a model the catalog does not know is shown
    with the limits listed here and no price (unpriced, never free).
    """

    id: str
    context_window: int | None = None
    max_output: int | None = None


@dataclass(frozen=True, slots=True)
class Listing:
    provider: str
    base_url: str
    fetched_at: datetime
    models: tuple[ServedModel, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "base_url": self.base_url,
            "fetched_at": self.fetched_at.isoformat(timespec="seconds"),
            "models": [
                {"id": m.id, "context_window": m.context_window, "max_output": m.max_output}
                for m in self.models
            ],
        }


def _optional_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _parse(data: Any) -> Listing | None:
    try:
        models = tuple(
            ServedModel(
                str(m["id"]),
                _optional_int(m.get("context_window")),
                _optional_int(m.get("max_output")),
            )
            for m in data["models"]
            if isinstance(m, dict) and isinstance(m.get("id"), str)
        )
        fetched = datetime.fromisoformat(str(data["fetched_at"]))
        return Listing(str(data["provider"]), str(data.get("base_url") or ""), fetched, models)
    except (KeyError, TypeError, ValueError):
        return None


class ListingCache:
    """Read and write the cached lists under ``folder`` (``Paths.cache_dir / "models"``)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _file(self, provider: str) -> Path | None:
        return self.folder / f"{provider}.json" if _SAFE_ID.match(provider) else None

    def save(
        self, provider: str, base_url: str, models: list[ServedModel], now: datetime | None = None
    ) -> Listing:
        """Store ``provider``'s list as fetched now; the file is private (0600)."""
        listing = Listing(provider, base_url, now or datetime.now(UTC), tuple(models))
        file = self._file(provider)
        if file is None:  # an id no config key can produce; keep it in memory only
            return listing
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        partial = file.with_name(f".{file.name}.{os.getpid()}.tmp")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(listing.as_dict(), out, indent=1)
            out.write("\n")
        os.replace(partial, file)
        return listing

    def load(self, provider: str, base_url: str | None = None) -> Listing | None:
        """The cached list, or None (none, unreadable, or fetched from another ``base_url``)."""
        file = self._file(provider)
        if file is None:
            return None
        try:
            listing = _parse(json.loads(file.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            return None
        if listing is None or (base_url is not None and listing.base_url != base_url):
            return None
        return listing

    def all(self) -> dict[str, Listing]:
        """Every readable cached list, by provider id (for completion, without a daemon)."""
        found: dict[str, Listing] = {}
        try:
            files = sorted(self.folder.glob("*.json"))
        except OSError:
            return found
        for file in files:
            listing = self.load(file.stem)
            if listing is not None:
                found[listing.provider] = listing
        return found
