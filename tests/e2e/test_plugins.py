"""`superllm providers add|remove`: single-file provider plugins, end to end and in the registry.

The plugin under test is a tiny kind subclassing the OpenAI dialect, pointed at the session's
fake OpenAI server, so an `ask` through it proves the daemon really runs it.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from superllmd.errors import UsageError
from superllmd.providers import HttpClients, KindContext
from superllmd.providers.keys import KeyResolver
from superllmd.providers.openai import OpenAICompatibleKind
from superllmd.providers.registry import Registry, load_kind_file
from tests.e2e.conftest import Cli
from tests.fakes.openai import FakeOpenAI

KIND = "e2e-echo"
PROVIDER = "echo-plugin"


def plugin_source(base_url: str, kind: str = KIND, provider: str = PROVIDER) -> str:
    return textwrap.dedent(
        f'''
        """A file plugin for the tests: the OpenAI dialect with a provider of its own."""

        from typing import Any

        from superllmd.providers.openai import OpenAICompatibleKind


        class EchoKind(OpenAICompatibleKind):
            name = "{kind}"

            def builtin_providers(self) -> dict[str, dict[str, Any]]:
                return {{"{provider}": {{"base_url": "{base_url}", "models": ["echo"]}}}}
        '''
    )


def rows(cli: Cli) -> dict[str, dict[str, object]]:
    result = cli("providers", "list", "--json")
    assert result.returncode == 0, result.stderr
    return {row["id"]: row for row in json.loads(result.stdout)}


def test_add_ask_restart_remove(
    cli: Cli, home: Path, tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    source = tmp_path / "echo_plugin.py"
    source.write_text(plugin_source(fake_openai.base_url))

    added = cli("providers", "add", str(source))
    assert added.returncode == 0, added.stderr
    assert KIND in added.stdout and PROVIDER in added.stdout
    stored = home / "config" / "plugins" / f"{KIND}.py"
    assert stored.read_text() == source.read_text()
    source.unlink()  # the daemon keeps its own copy

    assert rows(cli)[PROVIDER]["kind"] == KIND
    answer = cli("ask", "-m", f"{PROVIDER}/echo", "hello through a plugin")
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.strip() == "echo: hello through a plugin"

    # The kind is usable from config too, like any built-in.
    config = home / "config" / "config.toml"
    config.write_text(
        config.read_text()
        + f'\n[providers.mine]\nkind = "{KIND}"\nbase_url = "{fake_openai.base_url}"\n'
    )
    assert rows(cli)["mine"]["kind"] == KIND

    restarted = cli("daemon", "restart")
    assert restarted.returncode == 0, restarted.stderr
    after = rows(cli)
    assert after[PROVIDER]["kind"] == KIND and after["mine"]["kind"] == KIND

    # Removing a kind that config.toml still uses would break every request: refused.
    refused = cli("providers", "remove", KIND)
    assert refused.returncode == 2
    assert "[providers.mine]" in refused.stderr
    assert stored.exists()

    config.write_text(config.read_text().split("\n[providers.mine]")[0] + "\n")
    removed = cli("providers", "remove", PROVIDER)  # a provider id names its plugin too
    assert removed.returncode == 0, removed.stderr
    assert KIND in removed.stdout
    assert not stored.exists()
    assert PROVIDER not in rows(cli)
    gone = cli("providers", "remove", KIND)
    assert gone.returncode == 2 and "no file plugin" in gone.stderr


BROKEN = {
    "syntax": ("x = (\n", "SyntaxError"),
    "raises": ('raise RuntimeError("boom at import")\n', "RuntimeError: boom at import"),
    "no kind": ("VALUE = 1\n", "defines no ProviderKind subclass"),
    "built-in name": (
        "from superllmd.providers.openai import OpenAICompatibleKind\n"
        "class Clash(OpenAICompatibleKind):\n    name = 'openai'\n",
        "clashes with a built-in",
    ),
    "bad name": (
        "from superllmd.providers.openai import OpenAICompatibleKind\n"
        "class Bad(OpenAICompatibleKind):\n    name = '../escape'\n",
        "must be a kind name",
    ),
}


def test_broken_plugins_are_refused_with_the_reason(cli: Cli, home: Path, tmp_path: Path) -> None:
    for label, (code, reason) in BROKEN.items():
        path = tmp_path / f"{label.replace(' ', '_')}.py"
        path.write_text(code)
        result = cli("providers", "add", str(path))
        assert result.returncode == 2, (label, result.stderr)
        assert reason in result.stderr, (label, result.stderr)
        assert "Traceback" not in result.stderr
    plugins = home / "config" / "plugins"
    assert not list(plugins.iterdir()), "a refused plugin must leave no file behind"
    missing = cli("providers", "add", str(tmp_path / "nope.py"))
    assert missing.returncode == 2 and "no such file" in missing.stderr
    assert "openai" in rows(cli)  # the daemon is unharmed


def test_a_broken_file_in_the_plugin_folder_is_logged_not_fatal(
    cli: Cli, home: Path, fake_openai: FakeOpenAI
) -> None:
    plugins = home / "config" / "plugins"
    plugins.mkdir(parents=True)
    (plugins / "broken.py").write_text("import no_such_module_anywhere\n")
    (plugins / f"{KIND}.py").write_text(plugin_source(fake_openai.base_url))

    assert rows(cli)[PROVIDER]["kind"] == KIND
    log = (home / "state" / "superllmd.log").read_text()
    assert "broken.py" in log and "no_such_module_anywhere" in log

    # The way to fix it: remove the broken file by name.
    result = cli("providers", "remove", "broken")
    assert result.returncode == 0, result.stderr
    assert not (plugins / "broken.py").exists()


# -- the registry, without a daemon ------------------------------------------------------


@pytest.fixture
def context(tmp_path: Path) -> KindContext:
    return KindContext(http=HttpClients(), keys=KeyResolver(use_keyring=False), models_dir=tmp_path)


def test_registry_loads_the_plugin_folder_and_reports_broken_files(
    context: KindContext, tmp_path: Path
) -> None:
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "good.py").write_text(plugin_source("http://127.0.0.1:9/v1", kind="good"))
    (folder / "bad.py").write_text("x = (\n")
    registry = Registry(
        context, load_entry_points=False, kinds=[OpenAICompatibleKind], plugin_dir=folder
    )
    assert "good" in registry.kinds and registry.file_plugins == {"good": ("good",)}
    assert "SyntaxError" in registry.load_errors["plugins/bad.py"]
    assert Registry(context, load_entry_points=False).file_plugins == {}


def test_registry_add_kinds_replaces_its_own_and_refuses_clashes(
    context: KindContext, tmp_path: Path
) -> None:
    registry = Registry(context, load_entry_points=False, kinds=[OpenAICompatibleKind])
    first = tmp_path / "one.py"
    first.write_text(plugin_source("http://127.0.0.1:9/v1"))
    assert registry.add_kinds(load_kind_file(first), plugin=KIND) == []
    old = registry.kinds[KIND]

    # The same plugin again (an edited file) replaces its kind.
    replaced = registry.add_kinds(load_kind_file(first), plugin=KIND)
    assert replaced == [old] and registry.kinds[KIND] is not old

    # Another file may not take its kind name, nor its provider id.
    with pytest.raises(UsageError, match=f"clashes with the plugin file {KIND}.py"):
        registry.add_kinds(load_kind_file(first), plugin="other")
    second = tmp_path / "two.py"
    second.write_text(plugin_source("http://127.0.0.1:9/v1", kind="another"))
    with pytest.raises(UsageError, match=f"offers provider '{PROVIDER}'"):
        registry.add_kinds(load_kind_file(second), plugin="another")
    assert "another" not in registry.kinds  # all or nothing

    current = registry.kinds[KIND]
    assert registry.remove_plugin(KIND) == [current]
    assert KIND not in registry.kinds and registry.file_plugins == {}


def test_each_load_is_isolated(tmp_path: Path) -> None:
    path = tmp_path / "plugin.py"
    path.write_text(plugin_source("http://127.0.0.1:9/v1"))
    (first,) = load_kind_file(path)
    (second,) = load_kind_file(path)
    assert first is not second and first.__module__ != second.__module__


def test_plugins_are_managed_only_through_the_unix_socket(short_home: Path, tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from superllmd.api import create_app
    from superllmd.paths import get_paths
    from superllmd.state import DaemonState

    source = tmp_path / "plugin.py"
    source.write_text(plugin_source("http://127.0.0.1:9/v1"))
    paths = get_paths({"SUPERLLM_HOME": str(short_home)})
    state = DaemonState.create(paths, load_entry_points=False, use_keyring=False)
    with TestClient(create_app(state)) as client:  # a TCP peer: it has a client address
        added = client.post("/v1/providers/plugins", json={"path": str(source)})
        removed = client.delete(f"/v1/providers/plugins/{KIND}")
    for answer in (added, removed):
        assert answer.status_code == 400
        assert "local socket" in answer.json()["error"]["message"]
    assert KIND not in state.registry.kinds
    assert not (paths.config_dir / "plugins").exists()
