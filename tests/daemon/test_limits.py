"""Limits on what comes in: request size, and repeated log lines."""

from __future__ import annotations

import logging
from pathlib import Path

from starlette.testclient import TestClient

from superllmd.logfilter import RepeatFilter
from tests.daemon.test_api_errors import client  # noqa: F401 - a fixture


def test_a_request_past_max_request_mb_is_refused_naming_the_setting(
    client: TestClient,  # noqa: F811
    short_home: Path,
) -> None:
    config = short_home / "config" / "config.toml"
    config.write_text(config.read_text() + "\n[daemon]\nmax_request_mb = 1\n")
    big = {"prompt": "x" * (2 * 1024 * 1024), "model": "fake/echo"}
    answer = client.post("/v1/ask", json=big)
    assert answer.status_code == 400
    message = answer.json()["error"]["message"]
    assert "more than daemon.max_request_mb (1)" in message and "config set" in message
    # Without a declared length (chunked), counted as it arrives.
    chunks = (b'{"prompt": "' + b"y" * 65536 for _ in range(40))
    streamed = client.post("/v1/ask", content=chunks)
    assert streamed.status_code == 400 and "daemon.max_request_mb" in streamed.text
    small = client.post("/v1/ask", json={"prompt": "hi", "model": "fake/echo"})
    assert small.status_code == 200, small.text


def _record(msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("asyncio", logging.ERROR, __file__, 1, msg, args, None)


def test_repeated_log_lines_are_written_once_per_window() -> None:
    now = [0.0]
    repeats = RepeatFilter(window=10.0, clock=lambda: now[0])
    storm = "socket.accept() out of system resource"
    passed = []
    for i in range(140_000):
        now[0] = i / 14_000  # 140,000 in ten seconds
        record = _record(storm)
        if repeats.filter(record):
            passed.append(record.getMessage())
    assert passed == [storm]
    now[0] = 10.5
    record = _record(storm)
    assert repeats.filter(record)
    assert "139999 more like it in the last 10 s" in record.getMessage()
    assert repeats.filter(_record("another message %s", 1))  # others are not held back


def test_the_daemons_log_holds_a_storm_back(tmp_path: Path) -> None:
    """The filter is on the daemon's own log handlers, not only importable."""
    from superllmd.paths import Paths
    from superllmd.server import _setup_logging

    paths = Paths(tmp_path / "c", tmp_path / "d", tmp_path / "s", tmp_path / "r")
    paths.state_dir.mkdir()
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        _setup_logging(paths, foreground=False)
        for _ in range(5000):
            logging.getLogger("asyncio").error("socket.accept() out of system resource")
        logging.getLogger("superllmd").error("something else")
        for handler in root.handlers:
            handler.flush()
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers[:], root.level = saved[0], saved[1]
    lines = paths.log_file.read_text().splitlines()
    assert sum("out of system resource" in line for line in lines) == 1, lines[:5]
    assert any("something else" in line for line in lines)
