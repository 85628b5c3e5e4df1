"""The plugin API is an explicit surface (STYLE.md habit 10), and test tooling stays test-only.

``superllmd.providers.__all__`` is what plugin authors are promised: a name added or dropped
must be a decision, so the expected set is written out here. ``superllmd.testing`` ships in
the wheel for plugin authors, but the daemon and the CLI must never load it.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import superllmd.providers
import superllmd.testing.conformance
import superllmd.testing.server

ROOT = Path(__file__).resolve().parents[2]

PLUGIN_API = {
    # the types a kind and its providers implement and exchange
    "ProviderKind",
    "Provider",
    "KindContext",
    "ChatRequest",
    "Message",
    "Completion",
    "TextDelta",
    "TokenUsage",
    "Capabilities",
    "StreamItem",
    "ServedModel",
    # tool calling (a dialect with ``takes_tools``)
    "Tool",
    "ToolCall",
    "ToolCallDelta",
    "ToolChoice",
    "ProviderSettings",
    "ResolvedKey",
    # the errors provider code raises
    "ProviderError",
    "AuthError",
    "PermissionDenied",
    "ModelNotFound",
    "RateLimited",
    "QuotaExhausted",
    "Overloaded",
    "ServerError",
    "ContextTooLong",
    "BadRequest",
    "ProviderTimeout",
    "ProviderConnectionError",
    "ProtocolError",
    "UsageError",
    # the helpers a dialect needs
    "HttpClients",
    "HttpProvider",
    "SSEEvent",
    "iter_sse",
    "iter_lines",
    "json_object",
    "map_status_error",
    "parse_retry_after",
    "redact",
    "translate_transport_errors",
}


def test_plugin_api_is_exactly_the_documented_set() -> None:
    exported = superllmd.providers.__all__
    assert len(exported) == len(set(exported)), "a name is exported twice"
    assert set(exported) == PLUGIN_API


def test_every_exported_name_exists_and_is_the_real_thing() -> None:
    from superllmd import config, errors
    from superllmd.providers import _http, base, keys

    homes = (base, _http, errors, config, keys)
    for name in superllmd.providers.__all__:
        value = getattr(superllmd.providers, name)
        assert any(getattr(m, name, None) is value for m in homes), f"{name} is a copy"


def test_the_errors_exported_are_the_provider_tree_and_usage() -> None:
    from superllmd.errors import ProviderError, SuperllmError, UsageError

    classes = [getattr(superllmd.providers, n) for n in superllmd.providers.__all__]
    errors = {c for c in classes if isinstance(c, type) and issubclass(c, SuperllmError)}
    assert all(issubclass(c, ProviderError) or c is UsageError for c in errors)
    assert len(errors) == 14


def test_testing_modules_export_what_they_define() -> None:
    for module in (superllmd.testing.conformance, superllmd.testing.server):
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"
    assert {"CHECKS", "Dialect", "Harness", "run_check", "check_id"} <= set(
        superllmd.testing.conformance.__all__
    )
    assert {"FakeServer", "FakeRequest", "Writer"} <= set(superllmd.testing.server.__all__)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_test_tooling_imports_nothing_from_the_tests_folder() -> None:
    files = sorted((ROOT / "superllmd" / "testing").glob("*.py"))
    assert len(files) >= 3
    for path in files:
        leaked = {n for n in _imports(path) if n == "tests" or n.startswith("tests.")}
        assert not leaked, f"{path.name} imports {leaked}"


def test_no_daemon_or_cli_module_imports_the_test_tooling() -> None:
    checked = 0
    for package in ("superllmd", "superllm_cli"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if "testing" in path.relative_to(ROOT).parts:
                continue
            checked += 1
            found = {n for n in _imports(path) if n.startswith("superllmd.testing")}
            assert not found, f"{path.relative_to(ROOT)} imports {found}"
    assert checked > 20


def test_the_running_app_never_loads_the_test_tooling(tmp_path: Path) -> None:
    # Build what `superllmd` serves, with the real registry and every plugin loaded.
    code = f"""
import json, sys
from superllmd import server
from superllmd.api import create_app
from superllmd.paths import get_paths
from superllmd.state import DaemonState
state = DaemonState.create(get_paths({{"SUPERLLM_HOME": {str(tmp_path)!r}}}), use_keyring=False)
create_app(state)
print(json.dumps(sorted(sys.modules)))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    loaded = set(json.loads(out))
    assert "superllmd.providers.registry" in loaded  # the check sees the daemon's modules
    assert not {m for m in loaded if m.startswith("superllmd.testing")}
