"""``superllm mcp --print-config CLIENT``: the snippet that adds superllm to an MCP client.

The snippet names this ``superllm`` by its absolute path: desktop apps do not start with
the shell's PATH (nor a virtualenv's). ``SUPERLLM_HOME``, when set, is passed on so the
client reaches the same daemon and ledger as this shell.
"""

from __future__ import annotations

import json
import shlex
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Final

__all__ = ["CLIENTS", "snippet"]

# Client -> where its snippet goes (said on stderr, so stdout is only the snippet).
CLIENTS: Final = {
    "claude-desktop": "Merge into claude_desktop_config.json (Claude > Settings > Developer > "
    "Edit Config), then restart Claude Desktop.",
    "claude-code": "Run this command (or put the JSON form in a project's .mcp.json).",
    "codex": "Add to ~/.codex/config.toml.",
    "cursor": "Merge into ~/.cursor/mcp.json (or a project's .cursor/mcp.json).",
}


def command_path() -> str:
    """This superllm's executable, absolute where it can be found."""
    argv0 = Path(sys.argv[0])
    if argv0.name == "superllm" and argv0.exists():
        return str(argv0.resolve())
    return shutil.which("superllm") or "superllm"


def _toml_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def snippet(client: str, environ: Mapping[str, str], command: str | None = None) -> str:
    """The configuration text for ``client`` (one of :data:`CLIENTS`)."""
    command = command or command_path()
    env = {k: environ[k] for k in ("SUPERLLM_HOME",) if environ.get(k)}
    server: dict[str, object] = {"command": command, "args": ["mcp"]}
    if env:
        server["env"] = env
    if client in ("claude-desktop", "cursor"):
        return json.dumps({"mcpServers": {"superllm": server}}, indent=2) + "\n"
    if client == "claude-code":
        flags = "".join(f" --env {shlex.quote(f'{k}={v}')}" for k, v in env.items())
        return f"claude mcp add --scope user{flags} superllm -- {shlex.quote(command)} mcp\n"
    if client == "codex":
        lines = [
            "[mcp_servers.superllm]",
            f"command = {_toml_string(command)}",
            'args = ["mcp"]',
        ]
        if env:
            pairs = ", ".join(f"{k} = {_toml_string(v)}" for k, v in env.items())
            lines.append(f"env = {{ {pairs} }}")
        return "\n".join(lines) + "\n"
    raise ValueError(client)
