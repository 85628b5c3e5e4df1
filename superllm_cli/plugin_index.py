"""Finding provider plugins on a package index: ``superllm providers search WORD``.

A provider plugin is published as ``superllm-provider-NAME``. The index is read through its
simple API (PEP 691 JSON, with the PEP 503 HTML pages as the fallback a plain mirror
serves): the project list, filtered by name, then each match's page for its versions. Where
the index also offers PyPI's JSON API (``/pypi/NAME/json`` beside ``/simple/``), the summary
comes from there. Stdlib only (urllib), like the rest of the CLI's fast path.

Example::

    >>> [p.name for p in search("acme", "http://127.0.0.1:8080/simple/")]
    ['superllm-provider-acme']
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin

from superllmd.errors import ProviderConnectionError, UsageError

__all__ = ["PREFIX", "IndexPackage", "normalize", "search"]

PREFIX = "superllm-provider-"
_JSON = "application/vnd.pypi.simple.v1+json"
_ACCEPT = f"{_JSON}, text/html;q=0.1"
_MAX_DETAILS = 30  # a search naming more packages than this lists the rest without versions
_VERSION = re.compile(r"^[A-Za-z0-9_.]+?-(\d[^-]*?)(?:-py\d|\.tar\.gz$|\.zip$|-cp\d|-\d)")


@dataclass(frozen=True, slots=True)
class IndexPackage:
    name: str
    version: str | None = None
    summary: str | None = None


def normalize(name: str) -> str:
    """PEP 503's normalized project name (``Superllm_Provider.X`` -> ``superllm-provider-x``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self._inside = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._inside = tag == "a"

    def handle_endtag(self, tag: str) -> None:
        self._inside = False

    def handle_data(self, data: str) -> None:
        if self._inside and data.strip():
            self.texts.append(data.strip())


def _get(url: str, timeout: float, accept: str = _ACCEPT) -> tuple[str, str]:
    """The body and content type of ``url``; errors as one line naming the index."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, headers={"Accept": accept, "User-Agent": "superllm"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            kind = response.headers.get("Content-Type", "")
            return response.read().decode("utf-8", "replace"), kind
    except urllib.error.HTTPError as exc:
        raise ProviderConnectionError(
            f"the package index answered {exc.code} for {url}; check [plugins] index_url"
        ) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ProviderConnectionError(
            f"cannot reach the package index {url} ({reason}); check [plugins] index_url "
            "or your network"
        ) from None


def _projects(root: str, timeout: float) -> list[str]:
    body, kind = _get(root, timeout)
    if _JSON in kind or body.lstrip().startswith("{"):
        try:
            data = json.loads(body)
            return [str(p["name"]) for p in data["projects"] if isinstance(p, dict)]
        except (ValueError, KeyError, TypeError):
            raise ProviderConnectionError(f"{root} is not a package index (bad JSON)") from None
    parser = _Anchors()
    parser.feed(body)
    return parser.texts


def _latest(versions: list[str]) -> str | None:
    def key(version: str) -> tuple[tuple[int, str], ...]:
        return tuple((int(p), "") if p.isdigit() else (-1, p) for p in re.split(r"[.+-]", version))

    return max(versions, key=key) if versions else None


def _details(root: str, name: str, timeout: float) -> IndexPackage:
    """The newest version from the project's simple page, the summary from the JSON API."""
    version = summary = None
    try:
        body, kind = _get(urljoin(root, f"{normalize(name)}/"), timeout)
        if _JSON in kind or body.lstrip().startswith("{"):
            data = json.loads(body)
            versions = [str(v) for v in data.get("versions") or ()]
            files = [str(f.get("filename", "")) for f in data.get("files") or ()]
        else:
            parser = _Anchors()
            parser.feed(body)
            versions, files = [], parser.texts
        versions = versions or [m.group(1) for f in files if (m := _VERSION.match(f))]
        version = _latest(versions)
    except (ProviderConnectionError, ValueError, AttributeError):
        pass
    if root.endswith("/simple/"):  # PyPI and its mirrors: the JSON API has the summary
        try:
            body, _ = _get(f"{root[: -len('simple/')]}pypi/{normalize(name)}/json", timeout)
            info = json.loads(body).get("info") or {}
            summary = str(info.get("summary") or "") or None
            version = str(info.get("version") or "") or version
        except (ProviderConnectionError, ValueError, AttributeError):
            pass
    return IndexPackage(name, version, summary)


def search(word: str, index_url: str, *, timeout: float = 30.0) -> list[IndexPackage]:
    """Packages named ``superllm-provider-*`` on the index whose name contains ``word``."""
    if not index_url.startswith(("http://", "https://")):
        raise UsageError(f"[plugins] index_url {index_url!r} is not an http(s) URL")
    root = index_url.rstrip("/") + "/"
    needle = normalize(word.strip())
    names = sorted(
        {
            normalize(n): n
            for n in _projects(root, timeout)
            if normalize(n).startswith(PREFIX) and needle in normalize(n).removeprefix(PREFIX)
        }.values(),
        key=normalize,
    )
    return [
        _details(root, n, timeout) if i < _MAX_DETAILS else IndexPackage(n)
        for i, n in enumerate(names)
    ]
