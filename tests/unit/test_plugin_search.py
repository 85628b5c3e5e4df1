"""`providers search` against a fake index, and how `providers install` picks its installer."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from superllm_cli.plugin_index import IndexPackage, normalize, search
from superllm_cli.plugin_install import check_requirement, plan, uninstall_plan
from superllmd.errors import ProviderConnectionError, UsageError
from superllmd.testing.server import FakeRequest, FakeServer, Writer
from tests.fakes.pypi_index import FakeIndex, Release


@pytest.fixture
def index() -> Iterator[FakeIndex]:
    fake = FakeIndex(
        [
            Release("superllm-provider-acme", "0.9.0", "Acme's models", b"old"),
            Release("superllm-provider-acme", "0.10.0", "Acme's models", b"new"),
            Release("Superllm_Provider.Zeta", "1.0", "Zeta for superllm", b"z"),
            Release("superllm-acme-tools", "1.0", "not a provider plugin", b"t"),
        ]
    ).start()
    try:
        yield fake
    finally:
        fake.stop()


def test_search_lists_only_provider_plugins_matching_the_word(index: FakeIndex) -> None:
    assert search("acme", index.url) == [
        IndexPackage("superllm-provider-acme", "0.10.0", "Acme's models")
    ]
    assert [p.name for p in search("", index.url)] == [
        "superllm-provider-acme",
        "Superllm_Provider.Zeta",
    ]
    assert search("ZETA", index.url)[0].version == "1.0", "names compare normalized"
    assert search("requests", index.url) == []
    first = index.requests[0]
    assert first.path == "/simple/" and "vnd.pypi.simple.v1+json" in first.headers["accept"]


def test_search_reads_a_plain_html_index_too(index: FakeIndex) -> None:
    class HtmlOnly(FakeIndex):
        async def handle(self, request: FakeRequest, w: Writer) -> None:
            request.headers["accept"] = "text/html"  # ignore what the client asked for
            await super().handle(request, w)

    plain = HtmlOnly(index.releases).start()
    try:
        found = search("acme", plain.url.replace("/simple/", "/simple"))
    finally:
        plain.stop()
    # The JSON API still answers on this fake, so the summary is there; versions from files.
    assert found == [IndexPackage("superllm-provider-acme", "0.10.0", "Acme's models")]


def test_an_unreachable_index_is_one_line_naming_it() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ProviderConnectionError, match=rf"127.0.0.1:{port}.*index_url"):
        search("x", f"http://127.0.0.1:{port}/simple/", timeout=2)
    with pytest.raises(UsageError, match="not an http"):
        search("x", "ftp://example.org/simple/")


def test_a_server_that_is_no_index_is_reported() -> None:
    async def handle(request: FakeRequest, w: Writer) -> None:
        w.respond(500, "boom", None, "text/plain")

    with FakeServer(handle) as server, pytest.raises(ProviderConnectionError, match="500"):
        search("x", f"{server.url}/simple/")


def test_install_takes_only_provider_packages() -> None:
    assert check_requirement("superllm-provider-acme==0.10.0") == "superllm-provider-acme"
    assert normalize(check_requirement("Superllm_Provider.Zeta")) == "superllm-provider-zeta"
    for bad in ("requests", "--index-url=http://evil", "superllm-provider-x; rm -rf /", ""):
        with pytest.raises(UsageError):
            check_requirement(bad)


def test_pip_in_this_very_interpreter(tmp_path: Path) -> None:
    found = plan(
        "superllm-provider-acme",
        "http://127.0.0.1:9/simple/",
        prefix=tmp_path / "venv",
        executable="/opt/venv/bin/python",
        environ={"HOME": str(tmp_path)},
        has_pip=True,
    )
    assert found.manager == "pip"
    assert found.argv == [
        "/opt/venv/bin/python",
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--index-url",
        "http://127.0.0.1:9/simple/",
        "superllm-provider-acme",
    ]
    assert uninstall_plan("superllm-provider-acme", found) == [
        "/opt/venv/bin/python",
        "-m",
        "pip",
        "uninstall",
        "-y",
        "superllm-provider-acme",
    ]
    default = plan(
        "superllm-provider-acme",
        "https://pypi.org/simple/",
        prefix=tmp_path,
        executable="py",
        environ={},
        has_pip=True,
    )
    assert default.argv == [
        "py",
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "superllm-provider-acme",
    ]
    missing = plan(
        "superllm-provider-acme",
        "https://pypi.org/simple/",
        prefix=tmp_path,
        executable="py",
        environ={},
        has_pip=False,
    )
    assert missing.argv is None and missing.command.endswith(
        "pip install --disable-pip-version-check superllm-provider-acme"
    )


def test_a_pipx_install_is_injected(tmp_path: Path) -> None:
    venv = tmp_path / "pipx" / "venvs" / "superllm-cli"
    venv.mkdir(parents=True)
    environ = {"PIPX_HOME": str(tmp_path / "pipx"), "HOME": str(tmp_path)}
    found = plan(
        "superllm-provider-acme",
        "https://pypi.org/simple/",
        prefix=venv,
        environ=environ,
        which=lambda name: f"/usr/bin/{name}",
    )
    assert found.argv == ["pipx", "inject", "superllm-cli", "superllm-provider-acme"]
    assert uninstall_plan("superllm-provider-acme", found) == [
        "pipx",
        "uninject",
        "superllm-cli",
        "superllm-provider-acme",
    ]
    # pipx_metadata.json alone says so too; without pipx on PATH the command is shown.
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "pipx_metadata.json").write_text("{}")
    shown = plan(
        "superllm-provider-acme",
        "http://127.0.0.1:9/simple/",
        prefix=other,
        environ={"HOME": str(tmp_path)},
        which=lambda name: None,
    )
    assert shown.argv is None and shown.missing == "pipx is not on PATH"
    assert shown.command == (
        "pipx inject --index-url http://127.0.0.1:9/simple/ elsewhere superllm-provider-acme"
    )


def test_a_uv_tool_is_reinstalled_with_the_plugin_and_keeps_its_others(tmp_path: Path) -> None:
    tool = tmp_path / "uv" / "tools" / "superllm-cli"
    tool.mkdir(parents=True)
    (tool / "uv-receipt.toml").write_text(
        '[tool]\nrequirements = [{ name = "superllm-cli" }, { name = "superllm-provider-old" }]\n'
    )
    found = plan(
        "superllm-provider-acme",
        "https://pypi.org/simple/",
        prefix=tool,
        environ={"HOME": str(tmp_path)},
        which=lambda name: "/usr/bin/uv",
    )
    assert found.manager == "uv"
    assert found.argv == [
        "uv",
        "tool",
        "install",
        "superllm-cli",
        "--with",
        "superllm-provider-old",
        "--with",
        "superllm-provider-acme",
    ]
    assert uninstall_plan("superllm-provider-acme", found) is None
    under_dir = tmp_path / "tools2" / "superllm-cli"
    under_dir.mkdir(parents=True)
    environ = {"UV_TOOL_DIR": str(tmp_path / "tools2"), "HOME": str(tmp_path)}
    assert (
        plan(
            "superllm-provider-acme",
            "https://pypi.org/simple/",
            prefix=under_dir,
            environ=environ,
            which=lambda n: None,
        ).manager
        == "uv"
    )
