"""The CLI starts fast because it imports little (STYLE.md habit 2)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = [
    "httpx",
    "sqlite3",
    "textual",
    "pydantic",
    "pydantic_settings",
    "keyring",
    "uvicorn",
    "starlette",
    "rich",
    "asyncio",
    "llama_cpp",
    "mcp",
    "mcp_types",
    "superllmd.providers",
    "superllmd.config",
]


def _modules(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return set(json.loads(out))


def test_importing_the_app_loads_nothing_heavy() -> None:
    loaded = _modules("import superllm_cli.app")
    assert "typer" in loaded  # the check can see what is loaded
    for name in HEAVY:
        assert name not in loaded, f"superllm_cli.app imports {name}"


def test_the_ask_path_loads_nothing_heavy() -> None:
    # What `superllm ask` imports beyond the app: the client, its wire, the protocol.
    loaded = _modules(
        "import superllm_cli.app, superllm_cli.client, superllm_cli.commands.ask, "
        "superllmd.protocol, superllmd.errors, superllmd.paths, superllmd.launch"
    )
    for name in [n for n in HEAVY if n != "rich"]:
        assert name not in loaded, f"the ask path imports {name}"
