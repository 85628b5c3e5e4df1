"""``superllm config show|path|set|edit``. The daemon owns configuration; the CLI only asks,
except ``edit``, which opens the file in the user's editor and validates it before it counts."""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer

from superllm_cli.options import NoAutostart, PrintJson, run
from superllm_cli.render import Output

__all__ = ["app"]

app = typer.Typer(help="Show and change config.toml.", no_args_is_help=True)


@app.command()
def path(ctx: typer.Context) -> None:
    """Print where config.toml lives: the running daemon's, which is the one in use."""

    def body(out: Output) -> None:
        from superllm_cli.client import Client
        from superllmd.errors import DaemonError

        client = Client(autostart=False)
        try:
            # A daemon started from another environment (a shell with other XDG_* variables,
            # cron without them) reads its own file; health() says so once on stderr.
            used = client.health().get("paths", {}).get("config")
        except DaemonError:
            used = None
        sys.stdout.write(f"{used or client.paths.config_file}\n")

    run(ctx, body)


@app.command()
def show(
    ctx: typer.Context,
    json_out: PrintJson = False,
    no_autostart: NoAutostart = False,
) -> None:
    """Print the effective settings: config.toml with SUPERLLM_* variables applied."""

    def body(out: Output) -> None:
        from superllm_cli.client import Client

        answer = Client(autostart=not no_autostart).config()
        if json_out:
            out.json(answer["settings"])
            return
        sys.stdout.write(f"# {answer['path']}\n")
        _print_toml(answer["settings"], [])

    run(ctx, body)


@app.command(name="set")
def set_(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="Dotted key, e.g. providers.openai.base_url")],
    value: Annotated[str, typer.Argument(help="The value (TOML literal or plain text).")],
    no_autostart: NoAutostart = False,
) -> None:
    """Set one key in config.toml; the file is written only if the result is valid."""

    def body(out: Output) -> None:
        from superllm_cli.client import Client

        answer = Client(autostart=not no_autostart).set_config(key, value)
        out.status(f"set {answer['key']} in {answer['path']}")

    run(ctx, body)


@app.command()
def edit(ctx: typer.Context) -> None:
    """Open config.toml in $VISUAL or $EDITOR; the edit is saved only if it is valid."""

    def body(out: Output) -> None:
        from superllmd.errors import ConfigError, UsageError
        from superllmd.paths import ensure_private_dir, get_paths

        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
        if not editor:
            raise UsageError("set $VISUAL or $EDITOR to the editor to use, e.g. EDITOR=nano")
        config = get_paths().config_file
        ensure_private_dir(config.parent)
        # Edit a copy beside the file: the daemon never reads a half-saved or broken file,
        # and os.replace swaps the valid result in at once.
        draft = config.with_name(config.name + ".edit")
        old = config.read_text(encoding="utf-8") if config.exists() else ""
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(old)
        _run_editor(editor, draft)
        try:
            _validate_file(draft)
        except ConfigError as exc:
            raise ConfigError(
                f"{exc.message} {config.name} is unchanged; your edit is kept in {draft}"
            ) from None
        if draft.read_text(encoding="utf-8") == old:
            draft.unlink()
            out.status(f"{config} is unchanged")
            return
        os.replace(draft, config)
        out.status(f"saved {config}")

    run(ctx, body)


def _run_editor(editor: str, path: Any) -> None:
    import shlex
    import subprocess

    from superllmd.errors import UsageError

    try:
        code = subprocess.call([*shlex.split(editor), str(path)])
    except OSError as exc:
        raise UsageError(f"cannot run the editor {editor!r}: {exc.strerror}") from None
    if code != 0:
        raise UsageError(
            f"the editor {editor!r} exited with {code}; config.toml is unchanged "
            f"(your edit is in {path})"
        )


def _validate_file(path: Any) -> None:
    """What the daemon checks when it loads the file: TOML, then every key and value."""
    from superllmd.config import load_settings

    load_settings(path, {})


def _print_toml(settings: dict[str, Any], prefix: list[str]) -> None:
    import json

    scalars = {k: v for k, v in settings.items() if not isinstance(v, dict)}
    tables = {k: v for k, v in settings.items() if isinstance(v, dict)}
    if prefix and (scalars or not tables):
        sys.stdout.write(f"\n[{'.'.join(prefix)}]\n")
    for key, value in scalars.items():
        if value is not None:
            sys.stdout.write(f"{key} = {json.dumps(value)}\n")
    for key, value in tables.items():
        _print_toml(value, [*prefix, key])
