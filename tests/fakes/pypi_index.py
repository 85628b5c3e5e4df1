"""A fake package index on 127.0.0.1: PyPI's simple API and its JSON API, for wheels built here.

``/simple/`` (PEP 691 JSON when asked with ``application/vnd.pypi.simple.v1+json``, else the
PEP 503 HTML page), ``/simple/NAME/`` (files with sha256 hashes, and ``versions``, API 1.1),
``/files/FILE`` (the wheel) and ``/pypi/NAME/json`` (``info.version``, ``info.summary``). pip
installs from it with ``--index-url URL/simple/``. :func:`build_wheel` makes a pure-Python
wheel from a package folder with the stdlib (no build backend to run).
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from superllmd.testing.server import FakeRequest, FakeServer, Writer

__all__ = ["FakeIndex", "Release", "build_wheel"]

_JSON = "application/vnd.pypi.simple.v1+json"


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class Release:
    name: str
    version: str
    summary: str
    wheel: bytes | None = None  # None: listed, with no file to install

    @property
    def filename(self) -> str:
        return f"{re.sub(r'[-.]+', '_', self.name)}-{self.version}-py3-none-any.whl"


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def build_wheel(
    name: str,
    version: str,
    packages: list[Path],
    *,
    summary: str = "",
    entry_points: dict[str, dict[str, str]] | None = None,
    requires: tuple[str, ...] = (),
) -> bytes:
    """A ``py3-none-any`` wheel of the Python packages (folders) given, as bytes."""
    dist = f"{re.sub(r'[-.]+', '_', name)}-{version}.dist-info"
    files: dict[str, bytes] = {}
    for package in packages:
        for path in sorted(package.rglob("*.py")):
            files[f"{package.name}/{path.relative_to(package).as_posix()}"] = path.read_bytes()
    metadata = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    metadata += [f"Summary: {summary}", *(f"Requires-Dist: {r}" for r in requires)]
    files[f"{dist}/METADATA"] = ("\n".join(metadata) + "\n").encode()
    files[f"{dist}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: superllm-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    points = "".join(
        f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in entries.items()) + "\n"
        for group, entries in (entry_points or {}).items()
    )
    files[f"{dist}/entry_points.txt"] = points.encode()
    record = "".join(f"{p},{_record_hash(d)},{len(d)}\n" for p, d in files.items())
    files[f"{dist}/RECORD"] = (record + f"{dist}/RECORD,,\n").encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, data in files.items():
            archive.writestr(member, data)
    return buffer.getvalue()


@dataclass
class FakeIndex:
    releases: list[Release] = field(default_factory=list)
    #: Other projects on the index, which a search must leave out.
    others: list[str] = field(default_factory=lambda: ["requests", "superllm-cli", "llm"])

    def __post_init__(self) -> None:
        self.server = FakeServer(self.handle)

    def start(self) -> FakeIndex:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    @property
    def url(self) -> str:
        """The index URL, as ``[plugins] index_url`` takes it."""
        return f"{self.server.url}/simple/"

    @property
    def requests(self) -> list[FakeRequest]:
        return self.server.requests

    def _project(self, name: str) -> list[Release]:
        return [r for r in self.releases if _normalize(r.name) == _normalize(name)]

    async def handle(self, request: FakeRequest, w: Writer) -> None:
        wants_json = _JSON in request.headers.get("accept", "")
        path = request.path
        if path == "/simple/":
            names = sorted({*(r.name for r in self.releases), *self.others})
            if wants_json:
                projects = [{"name": n} for n in names]
                w.respond(200, {"meta": {"api-version": "1.1"}, "projects": projects}, None, _JSON)
            else:
                links = "".join(
                    f'<a href="/simple/{_normalize(n)}/">{html.escape(n)}</a>\n' for n in names
                )
                w.respond(
                    200, f"<!DOCTYPE html><html><body>\n{links}</body></html>", None, "text/html"
                )
        elif (found := re.fullmatch(r"/simple/([^/]+)/", path)) and self._project(found[1]):
            self._page(w, self._project(found[1]), wants_json)
        elif (found := re.fullmatch(r"/files/([^/]+)", path)) and (
            wheel := next((r.wheel for r in self.releases if r.filename == found[1]), None)
        ):
            w.respond(200, wheel, None, "application/octet-stream")
        elif (found := re.fullmatch(r"/pypi/([^/]+)/json", path)) and self._project(found[1]):
            latest = self._project(found[1])[-1]
            info = {"name": latest.name, "version": latest.version, "summary": latest.summary}
            w.respond(200, {"info": info, "releases": {}})
        else:
            w.respond(404, "Not Found", None, "text/plain")

    def _page(self, w: Writer, releases: list[Release], wants_json: bool) -> None:
        files: list[dict[str, Any]] = [
            {
                "filename": r.filename,
                "url": f"{self.server.url}/files/{r.filename}",
                "hashes": {"sha256": hashlib.sha256(r.wheel).hexdigest()},
                "requires-python": ">=3.11",
            }
            for r in releases
            if r.wheel is not None
        ]
        if wants_json:
            body = {
                "meta": {"api-version": "1.1"},
                "name": _normalize(releases[0].name),
                "files": files,
                "versions": [r.version for r in releases],
            }
            w.respond(200, body, None, _JSON)
            return
        links = "".join(
            f'<a href="{f["url"]}#sha256={f["hashes"]["sha256"]}" '
            f'data-requires-python="&gt;=3.11">{f["filename"]}</a>\n'
            for f in files
        )
        w.respond(200, f"<!DOCTYPE html><html><body>\n{links}</body></html>", None, "text/html")
