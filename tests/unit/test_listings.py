"""The cache of providers' model lists: private files, whole or absent, per base URL."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime
from pathlib import Path

from superllmd.listings import ListingCache, ServedModel


def test_a_saved_list_is_private_and_read_back_with_its_fetch_time(tmp_path: Path) -> None:
    cache = ListingCache(tmp_path / "cache" / "models")
    when = datetime(2026, 12, 4, 23, 30, tzinfo=UTC)
    served = [ServedModel("a:latest"), ServedModel("b", 4096, 512)]
    old = os.umask(0o022)  # a loose umask must not make the file readable by others
    try:
        cache.save("ollama", "http://h:1", served, when)
    finally:
        os.umask(old)
    file = tmp_path / "cache" / "models" / "ollama.json"
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert stat.S_IMODE(file.parent.stat().st_mode) == 0o700
    listing = cache.load("ollama", "http://h:1")
    assert listing is not None and listing.fetched_at == when
    assert listing.models == (ServedModel("a:latest"), ServedModel("b", 4096, 512))
    assert [p.name for p in file.parent.iterdir()] == ["ollama.json"], "no temporary left"


def test_a_list_from_another_base_url_or_a_broken_file_is_not_used(tmp_path: Path) -> None:
    cache = ListingCache(tmp_path)
    cache.save("fake", "http://one/v1", [ServedModel("m")])
    assert cache.load("fake", "http://two/v1") is None
    assert cache.load("fake") is not None, "without a base URL: any (completion's fallback)"
    (tmp_path / "fake.json").write_text('{"provider": "fake", "models": [')
    assert cache.load("fake") is None
    assert cache.all() == {}


def test_an_id_that_is_no_file_name_is_never_written(tmp_path: Path) -> None:
    cache = ListingCache(tmp_path / "models")
    listing = cache.save("../escape", "x", [ServedModel("m")])
    assert listing.models == (ServedModel("m"),)
    assert not (tmp_path / "escape.json").exists() and not (tmp_path / "models").exists()
    assert cache.load("../escape") is None
