"""``superllm keys set|list|remove|path``: API keys in the OS keyring (service ``superllm``).

``set`` reads the key from a hidden prompt or from stdin, never from the command line (where
it would land in shell history and ``ps``). ``list`` shows masked values and where each key
comes from: the keyring, an environment variable, or ``api_key_cmd`` (not run to list).
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Annotated, Any

import typer

from superllm_cli.completion import complete_providers
from superllm_cli.options import NoAutostart, PrintJson, run
from superllm_cli.render import Output

__all__ = ["app", "mask"]

app = typer.Typer(help="Store and inspect API keys.", no_args_is_help=True)

SERVICE = "superllm"


def mask(value: str) -> str:
    """Enough to recognise a key, never enough to use it."""
    if len(value) < 12:
        return "*" * len(value)
    return f"{value[:3]}…{value[-4:]}"


def _keyring() -> Any:
    import keyring
    from keyring.backends import fail

    from superllmd.errors import UsageError

    backend = keyring.get_keyring()
    if isinstance(backend, fail.Keyring):
        raise UsageError(
            "no usable OS keyring on this machine (a headless box?): put the key in the "
            "provider's environment variable or set providers.ID.api_key_cmd instead"
        )
    return keyring


def _forget(provider: str | None) -> None:
    """Tell a running daemon to re-read keys; no daemon, nothing to tell."""
    from superllm_cli.client import Client
    from superllmd.errors import SuperllmError

    query = f"?provider={provider}" if provider else ""
    with contextlib.suppress(SuperllmError):
        Client(autostart=False).call("POST", f"/v1/keys/forget{query}", timeout=5)


@app.command("set")
def set_key(
    ctx: typer.Context,
    provider: Annotated[
        str, typer.Argument(help="Provider id, e.g. openai.", autocompletion=complete_providers)
    ],
) -> None:
    """Store a key: typed at a hidden prompt, or piped on stdin."""

    def body(out: Output) -> None:
        from superllm_cli.commands.providers import fetch_providers
        from superllmd.errors import UsageError

        # A key stored under a typo would never be used: refuse before asking for it.
        known = sorted(p["id"] for p in fetch_providers(autostart=True))
        if provider not in known:
            raise UsageError(
                f"unknown provider {provider!r} (known: {', '.join(known)}); see "
                "`superllm providers list`"
            )
        if sys.stdin is not None and sys.stdin.isatty():
            import getpass

            value = getpass.getpass(f"API key for {provider}: ")
        else:
            value = sys.stdin.readline() if sys.stdin is not None else ""
        value = value.strip()
        if not value:
            raise UsageError(f"no key given for {provider}: type it at the prompt or pipe it in")
        _keyring().set_password(SERVICE, provider, value)
        _forget(provider)
        out.status(f"stored the key for {provider} in the keyring ({mask(value)})")

    run(ctx, body)


@app.command("remove")
def remove_key(
    ctx: typer.Context,
    provider: Annotated[
        str, typer.Argument(help="Provider id.", autocompletion=complete_providers)
    ],
) -> None:
    """Delete a provider's key from the keyring."""

    def body(out: Output) -> None:
        from keyring.errors import PasswordDeleteError

        from superllmd.errors import UsageError

        try:
            _keyring().delete_password(SERVICE, provider)
        except PasswordDeleteError:
            raise UsageError(f"the keyring holds no key for {provider}") from None
        _forget(provider)
        out.status(f"removed the key for {provider}")

    run(ctx, body)


@app.command("list")
def list_keys(
    ctx: typer.Context,
    json_out: PrintJson = False,
    all_: Annotated[bool, typer.Option("--all", help="Also providers with no key.")] = False,
    no_autostart: NoAutostart = False,
) -> None:
    """Each provider's key: masked, and where it comes from."""

    def body(out: Output) -> None:
        from superllm_cli.commands.providers import fetch_providers

        rows: list[dict[str, Any]] = []
        for p in fetch_providers(autostart=not no_autostart):
            source = p.get("key_source")
            if source is None and not all_:
                continue
            rows.append({"provider": p["id"], "source": source, "masked": _masked(p["id"], source)})
        if json_out:
            out.json(rows)
            return
        if not rows:  # on stderr, so stdout stays an empty table for scripts
            sys.stderr.write(
                "superllm: no API keys found (keyring, environment or api_key_cmd); store one "
                "with `superllm keys set PROVIDER`, or see them all with --all\n"
            )
            return
        out.table(
            [(r["provider"], f"{r['masked'] or '-'}  ({r['source'] or 'none'})") for r in rows]
        )

    run(ctx, body)


def _masked(provider: str, source: str | None) -> str | None:
    if source is None:
        return None
    if source.startswith("$"):
        value = os.environ.get(source[1:], "")
        return mask(value) if value else None
    if source == "keyring":
        value = _keyring().get_password(SERVICE, provider)
        return mask(value) if value else None
    return "(from api_key_cmd)"


@app.command("path")
def path(ctx: typer.Context) -> None:
    """Where keys are stored: the keyring backend in use."""

    def body(out: Output) -> None:
        import keyring

        backend = keyring.get_keyring()
        where = getattr(backend, "file_path", None)
        name = f"{type(backend).__module__}.{type(backend).__name__}"
        sys.stdout.write(f"{name} (service {SERVICE!r})" + (f": {where}" if where else "") + "\n")

    run(ctx, body)
