"""``superllm daemon start|stop|status|restart|logs|install-service|uninstall-service``."""

from __future__ import annotations

import sys
import time
from typing import Annotated

import typer

from superllm_cli.options import run
from superllm_cli.render import Output

__all__ = ["app"]

app = typer.Typer(help="Start, stop and inspect the background daemon.", no_args_is_help=True)


@app.command()
def start(ctx: typer.Context) -> None:
    """Start the daemon (a no-op if it is running)."""

    def body(out: Output) -> None:
        from superllm_cli.client import Client

        health = Client().start()
        sys.stdout.write(f"superllmd {health['version']} running (pid {health['pid']})\n")

    run(ctx, body)


@app.command()
def stop(ctx: typer.Context) -> None:
    """Stop the daemon, letting in-flight requests finish."""

    def body(out: Output) -> None:
        from superllm_cli.client import Client

        pid = Client(autostart=False).stop()
        sys.stdout.write(
            "superllmd was not running\n" if pid is None else f"superllmd stopped (pid {pid})\n"
        )

    run(ctx, body)


@app.command()
def restart(ctx: typer.Context) -> None:
    """Stop the daemon and start it again."""

    def body(out: Output) -> None:
        from superllm_cli.client import Client

        health = Client().restart()
        sys.stdout.write(f"superllmd {health['version']} running (pid {health['pid']})\n")

    run(ctx, body)


@app.command()
def status(
    ctx: typer.Context,
    json_out: Annotated[bool, typer.Option("--json", help="Print the health object.")] = False,
) -> None:
    """Whether the daemon runs, its version, pid and uptime. Exit 3 if it is not running."""

    def body(out: Output) -> None:
        from superllm_cli.client import Client

        client = Client(autostart=False)
        health = client.health()
        if json_out:
            out.json(health)
            return
        rows = [
            ("status", "running"),
            ("version", str(health["version"])),
            ("pid", str(health["pid"])),
            ("uptime", f"{health['uptime_s']:.0f} s"),
            ("socket", str(client.paths.socket)),
            ("log", str(client.paths.log_file)),
            ("providers", ", ".join(health["providers_ready"]) or "none"),
        ]
        config_error = health.get("config_error")
        if config_error:
            rows.append(("config", config_error))
        out.table(rows)

    run(ctx, body)


@app.command()
def logs(
    ctx: typer.Context,
    lines: Annotated[int, typer.Option("-n", "--lines", min=1, help="How many lines.")] = 50,
    follow: Annotated[
        bool, typer.Option("-f", "--follow", help="Keep printing new lines.")
    ] = False,
) -> None:
    """Print the end of the daemon's log."""

    def body(out: Output) -> None:
        from superllmd.launch import log_tail
        from superllmd.paths import get_paths

        path = get_paths().log_file
        for line in log_tail(path, lines):
            sys.stdout.write(line + "\n")
        sys.stdout.flush()
        if follow:
            _follow(path)

    run(ctx, body)


def _follow(path: object) -> None:
    with open(str(path), encoding="utf-8", errors="replace") as f:
        f.seek(0, 2)
        while True:
            line = f.readline()
            if line:
                sys.stdout.write(line)
                sys.stdout.flush()
            else:
                time.sleep(0.2)


def _superllmd() -> str:
    import shutil
    from pathlib import Path

    beside = Path(sys.executable).parent / "superllmd"
    return str(beside) if beside.exists() else shutil.which("superllmd") or str(beside)


@app.command(name="install-service")
def install_service(ctx: typer.Context) -> None:
    """Write a user service for the daemon: systemd socket + service units, or a launchd agent.

    With the systemd socket unit, systemd holds the socket and starts the daemon on the
    first connection (socket activation). Prints the command that enables it.
    """

    def body(out: Output) -> None:
        import os
        from pathlib import Path

        from superllm_cli.service import enable_hint, service_files, unit_dir
        from superllmd.paths import get_paths

        files = service_files(sys.platform, get_paths(), _superllmd(), os.environ, Path.home())
        for path, text in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            sys.stdout.write(f"wrote {path}\n")
        folder = unit_dir(sys.platform, os.environ, Path.home())
        sys.stdout.write(f"enable it with: {enable_hint(sys.platform, folder, install=True)}\n")

    run(ctx, body)


@app.command(name="uninstall-service")
def uninstall_service(ctx: typer.Context) -> None:
    """Remove the user service files that install-service wrote."""

    def body(out: Output) -> None:
        import os
        from pathlib import Path

        from superllm_cli.service import enable_hint, service_files, unit_dir
        from superllmd.paths import get_paths

        files = service_files(sys.platform, get_paths(), _superllmd(), os.environ, Path.home())
        removed = [path for path in files if path.exists()]
        for path in removed:
            path.unlink()
            sys.stdout.write(f"removed {path}\n")
        if not removed:
            sys.stdout.write("no superllm service files were installed\n")
            return
        folder = unit_dir(sys.platform, os.environ, Path.home())
        sys.stdout.write(f"stop it with: {enable_hint(sys.platform, folder, install=False)}\n")

    run(ctx, body)
