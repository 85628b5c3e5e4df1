"""User service files for the daemon: systemd (a socket and a service unit) and launchd.

With the systemd socket unit, systemd holds the daemon's socket and starts superllmd on the
first connection, passing the socket as LISTEN_FDS (superllmd.server.activated_socket). On
macOS a launchd agent keeps superllmd running. Nothing here runs systemctl or launchctl: the
command prints what to run, so installing never changes what is running behind the user's
back.

Example::

    files = service_files("linux", get_paths(), "/usr/bin/superllmd", {}, Path.home())
"""

from __future__ import annotations

import plistlib
from collections.abc import Mapping
from pathlib import Path

from superllmd.paths import Paths

__all__ = ["LAUNCHD_LABEL", "enable_hint", "service_files", "unit_dir"]

LAUNCHD_LABEL = "dev.superllm.superllmd"
_UNIT = "superllmd"


def unit_dir(platform: str, environ: Mapping[str, str], home: Path) -> Path:
    """Where the user's service files go on ``platform`` (sys.platform's spelling)."""
    if platform == "darwin":
        return home / "Library" / "LaunchAgents"
    config = environ.get("XDG_CONFIG_HOME") or str(home / ".config")
    return Path(config) / "systemd" / "user"


def _environment(environ: Mapping[str, str]) -> dict[str, str]:
    # Only what decides which files the daemon uses; keys stay in the keyring or the
    # service manager's own environment, never in a unit file.
    return {k: environ[k] for k in ("SUPERLLM_HOME",) if environ.get(k)}


def _systemd_quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _systemd(paths: Paths, exe: str, environ: Mapping[str, str]) -> dict[str, str]:
    env_lines = "".join(
        f"Environment={_systemd_quote(f'{k}={v}')}\n" for k, v in _environment(environ).items()
    )
    service = (
        "[Unit]\n"
        "Description=superllm daemon (superllmd)\n"
        "Documentation=man:superllmd(8)\n"
        f"Requires={_UNIT}.socket\n"
        f"After={_UNIT}.socket\n"
        "\n"
        "[Service]\n"
        "Type=simple\n"
        f"ExecStart={_systemd_quote(exe)} --foreground\n"
        f"{env_lines}"
        "Restart=on-failure\n"
        "\n"
        "[Install]\n"
        "WantedBy=default.target\n"
    )
    sock = (
        "[Unit]\n"
        "Description=superllm daemon socket\n"
        "Documentation=man:superllmd(8)\n"
        "\n"
        "[Socket]\n"
        f"ListenStream={paths.socket}\n"
        "SocketMode=0600\n"
        "DirectoryMode=0700\n"
        "\n"
        "[Install]\n"
        "WantedBy=sockets.target\n"
    )
    return {f"{_UNIT}.service": service, f"{_UNIT}.socket": sock}


def _launchd(paths: Paths, exe: str, environ: Mapping[str, str]) -> dict[str, str]:
    agent: dict[str, object] = {
        "Label": LAUNCHD_LABEL,
        "ProgramArguments": [exe, "--foreground"],
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},
        "StandardErrorPath": str(paths.log_file),
    }
    env = _environment(environ)
    if env:
        agent["EnvironmentVariables"] = env
    return {f"{LAUNCHD_LABEL}.plist": plistlib.dumps(agent, sort_keys=True).decode()}


def service_files(
    platform: str, paths: Paths, exe: str, environ: Mapping[str, str], home: Path
) -> dict[Path, str]:
    """The files ``superllm daemon install-service`` writes on ``platform``, by path."""
    folder = unit_dir(platform, environ, home)
    made = _launchd if platform == "darwin" else _systemd
    return {folder / name: text for name, text in made(paths, exe, environ).items()}


def enable_hint(platform: str, folder: Path, *, install: bool) -> str:
    """What the user runs to start (or stop) using the files just written (or removed)."""
    if platform == "darwin":
        plist = folder / f"{LAUNCHD_LABEL}.plist"
        return f"launchctl load -w {plist}" if install else f"launchctl remove {LAUNCHD_LABEL}"
    if install:
        return (
            "systemctl --user daemon-reload && "
            f"systemctl --user enable --now {_UNIT}.socket"
            "   (run `superllm daemon stop` first if a daemon is running)"
        )
    return f"systemctl --user disable --now {_UNIT}.socket {_UNIT}.service"
