"""``superllm providers list|check|add|remove|new|search|install``: the providers the daemon
can talk to.

``list`` needs no key: the CLI sends only the *names* of its set environment variables (plus
its ``SUPERLLM_*`` settings), enough to say "the key would come from $GROQ_API_KEY" without
any key leaving this process. ``check`` calls providers, so it forwards the environment with
the request, as ``ask`` does. ``add`` and ``remove`` manage single-file plugins, which the
daemon validates, keeps in its config dir and loads at every start; ``new`` writes a
provider package from a template, without the daemon (superllm_cli/scaffold.py). ``search``
and ``install`` find ``superllm-provider-*`` packages on the package index of ``[plugins]
index_url`` and install one where superllm runs (superllm_cli/plugin_index.py,
plugin_install.py).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

import typer

from superllm_cli.completion import complete_providers
from superllm_cli.options import NoAutostart, run
from superllm_cli.render import Output, strip_controls

if TYPE_CHECKING:
    from superllmd.protocol_admin import ProviderCheck, ProviderInfo

__all__ = [
    "app",
    "check_providers",
    "fetch_providers",
    "format_check_table",
    "format_table",
]

app = typer.Typer(
    help="List, check, add, find, install and scaffold the LLM providers.", no_args_is_help=True
)


def _key_text(row: Mapping[str, Any]) -> str:
    if row.get("key_source"):
        return str(row["key_source"])
    names = " or ".join(f"${n}" for n in row.get("key_env") or ())
    if row.get("configured"):
        return "none needed" if not names else f"none ({names} optional)"
    return f"missing: {names}" if names else "missing"


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> list[str]:
    """Aligned columns, the last one left ragged."""
    from superllm_cli.money import table

    return table([header, *rows])


def format_table(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Aligned text lines: readable on a terminal, greppable in a pipe."""
    header = ("PROVIDER", "KIND", "READY", "KEY", "BASE URL")
    return _table(
        header,
        [
            (
                str(r["id"]),
                str(r["kind"]),
                _ready_text(r),
                _key_text(r),
                str(r.get("base_url") or "-"),
            )
            for r in rows
        ],
    )


def _ready_text(row: Mapping[str, Any]) -> str:
    """yes / no, or why a configured provider is being skipped: its circuit is open after
    failing again and again (retried after a pause), or half-open (one trial call)."""
    circuit = row.get("circuit") or {}
    state = circuit.get("state", "closed")
    if not row.get("configured"):
        return "no"
    if state == "open":
        return f"cooling ({circuit.get('retry_in_s', 0):g}s)"
    return "trial" if state == "half_open" else "yes"


def fetch_providers(*, autostart: bool) -> list[ProviderInfo]:
    from superllm_cli import _calls_admin
    from superllm_cli.client import Client

    return Client(autostart=autostart).execute(_calls_admin.providers())


@app.command(name="list")
def list_(
    ctx: typer.Context,
    json_out: Annotated[bool, typer.Option("--json", help="Print the list as JSON.")] = False,
    no_autostart: NoAutostart = False,
) -> None:
    """Every provider, its kind and base URL, and where its API key would come from.

    Keys are never printed: KEY shows a source such as keyring or $GROQ_API_KEY.
    """

    def body(out: Output) -> None:
        rows = fetch_providers(autostart=not no_autostart)
        if json_out:
            out.json(rows)
            return
        for line in format_table(rows):
            sys.stdout.write(strip_controls(line) + "\n")

    run(ctx, body)


def format_check_table(results: Sequence[Mapping[str, Any]]) -> list[str]:
    """One line per checked provider: status, latency, how it was checked, what failed."""
    rows = []
    for r in results:
        error = r.get("error") or {}
        rows.append(
            (
                str(r["id"]),
                "ok" if r.get("ok") else "failed",
                f"{r.get('latency_ms', 0)} ms",
                str(r.get("via") or "-"),
                f"{error.get('code')}: {error.get('message')}" if error else "-",
            )
        )
    return _table(("PROVIDER", "STATUS", "LATENCY", "VIA", "ERROR"), rows)


def check_providers(ids: list[str], *, timeout: float, autostart: bool) -> list[ProviderCheck]:
    """Ask the daemon to check ``ids`` (or every provider worth checking) in parallel."""
    from superllm_cli import _calls_admin
    from superllm_cli.client import Client

    return Client(autostart=autostart).execute(_calls_admin.check_providers(ids, timeout=timeout))


@app.command()
def check(
    ctx: typer.Context,
    ids: Annotated[
        list[str] | None,
        typer.Argument(
            help="Provider ids; default: every configured one.", autocompletion=complete_providers
        ),
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.1, help="Seconds each provider has to answer.")
    ] = 10.0,
    json_out: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
    no_autostart: NoAutostart = False,
) -> None:
    """Call providers and report whether they answer, and how fast.

    A check lists the provider's models where its API can, else asks for a one-token answer.
    Without ids: providers configured in config.toml, those with a key, and the local model.
    Exits 4 if any checked provider failed.
    """

    def body(out: Output) -> None:
        from superllmd.errors import ProviderError

        results = check_providers(ids or [], timeout=timeout, autostart=not no_autostart)
        if json_out:
            out.json(results)
        elif not results:
            sys.stderr.write("no configured provider to check; name some: `providers check ID`\n")
        else:
            for line in format_check_table(results):
                sys.stdout.write(strip_controls(line) + "\n")
        failed = [str(r["id"]) for r in results if not r.get("ok")]
        if failed:
            raise ProviderError(
                f"{len(failed)} of {len(results)} providers failed the check: {', '.join(failed)}"
            )

    run(ctx, body)


@app.command()
def add(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="A Python file defining ProviderKind classes.")],
    no_autostart: NoAutostart = False,
) -> None:
    """Add a provider plugin from one Python file.

    The daemon imports it, registers the ProviderKind subclasses it defines, and keeps a copy
    in its config dir, loaded at every start. Adding an edited file again replaces it.
    """

    def body(out: Output) -> None:
        from superllm_cli.client import Client
        from superllmd.errors import UsageError

        if not path.is_file():
            raise UsageError(f"{path}: no such file")
        answer = Client(autostart=not no_autostart).call(
            "POST", "/v1/providers/plugins", {"path": str(path.resolve())}
        )
        verb = "replaced" if answer.get("replaced") else "added"
        kinds = ", ".join(answer["kinds"])
        providers = ", ".join(answer["providers"]) or "none built in"
        sys.stdout.write(
            strip_controls(f"{verb} plugin {answer['name']}: kinds {kinds}; providers {providers}")
            + "\n"
        )
        out.status(f'stored as {answer["path"]}; use a kind with [providers.ID] kind = "..."')

    run(ctx, body)


@app.command()
def remove(
    ctx: typer.Context,
    plugin: Annotated[
        str, typer.Argument(help="A file plugin: its name, one of its kinds or providers.")
    ],
    no_autostart: NoAutostart = False,
) -> None:
    """Remove a provider plugin added with `superllm providers add`."""

    def body(out: Output) -> None:
        from superllm_cli.client import Client

        answer = Client(autostart=not no_autostart).call(
            "DELETE", f"/v1/providers/plugins/{quote(plugin, safe='')}"
        )
        kinds = ", ".join(answer["kinds"]) or "none loaded"
        sys.stdout.write(strip_controls(f"removed plugin {answer['name']} (kinds: {kinds})") + "\n")

    run(ctx, body)


@app.command()
def new(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Provider name: lowercase letters, digits, -.")],
    directory: Annotated[
        Path, typer.Option("--dir", help="Where to create superllm-NAME/.")
    ] = Path("."),
) -> None:
    """Write a provider package from a template, ready to edit, test and publish.

    superllm-NAME/ holds a dialect to edit, a fake server for it, and tests that run the
    conformance suite against the fake. Never overwrites a file.
    """

    def body(out: Output) -> None:
        from superllm_cli.scaffold import write_provider_package

        for path in write_provider_package(name, directory):
            sys.stdout.write(strip_controls(str(path)) + "\n")
        where = directory / f"superllm-{name}"
        out.status(f"next: cd {where} && pip install -e '.[test]' && pytest")

    run(ctx, body)


def _index_url(autostart: bool) -> str:
    """``[plugins] index_url``, as the daemon reads it for this shell's settings."""
    from superllm_cli.client import Client

    client = Client(autostart=autostart)
    answer = client.call("GET", client.query("/v1/config"))
    return str(answer["settings"]["plugins"]["index_url"])


@app.command()
def search(
    ctx: typer.Context,
    word: Annotated[str, typer.Argument(help="Part of the name; empty: every plugin.")] = "",
    json_out: Annotated[bool, typer.Option("--json", help="Print the list as JSON.")] = False,
    no_autostart: NoAutostart = False,
) -> None:
    """Provider plugins (packages named superllm-provider-*) on the package index.

    The index is [plugins] index_url (default https://pypi.org/simple/).
    """

    def body(out: Output) -> None:
        import dataclasses

        from superllm_cli.plugin_index import search as search_index

        index_url = _index_url(not no_autostart)
        found = search_index(word, index_url)
        if json_out:
            out.json([dataclasses.asdict(p) for p in found])
            return
        if not found:
            sys.stderr.write(
                strip_controls(f"no superllm-provider-* package matches {word!r} on {index_url}")
                + "\n"
            )
            return
        rows = [(p.name, p.version or "-", p.summary or "") for p in found]
        for line in _table(("PACKAGE", "VERSION", "SUMMARY"), rows):
            sys.stdout.write(strip_controls(line.rstrip()) + "\n")

    run(ctx, body)


@app.command()
def install(
    ctx: typer.Context,
    requirement: Annotated[
        str, typer.Argument(help="superllm-provider-NAME, optionally ==VERSION.")
    ],
    no_autostart: NoAutostart = False,
) -> None:
    """Install a provider plugin where superllm runs, check it, and restart the daemon.

    Uses pip with superllm's own Python (pipx inject or uv tool install --with when superllm
    was installed by pipx or uv), then runs the plugin conformance checks; a plugin that
    fails them is uninstalled again. Exits 4 when the checks fail.
    """

    def body(out: Output) -> None:
        from superllm_cli import plugin_install
        from superllm_cli.client import Client
        from superllmd.errors import ProviderError

        name = plugin_install.check_requirement(requirement)
        installer = plugin_install.plan(requirement, _index_url(not no_autostart))
        out.status(f"installing with: {installer.command}")
        plugin_install.run_install(installer)
        results = plugin_install.run_checks(name)
        failed = [r for r in results if not r.get("ok")]
        for r in failed:
            sys.stderr.write(strip_controls(f"superllm: FAIL {r['check']}: {r['detail']}") + "\n")
        if failed:
            undo = plugin_install.uninstall_plan(name, installer)
            if undo is not None:
                plugin_install.run_install(plugin_install.Plan(installer.manager, undo, ""))
            where = "uninstalled it again" if undo else "it is still installed; remove it yourself"
            raise ProviderError(f"{name} failed {len(failed)} of {len(results)} checks; {where}")
        sys.stdout.write(strip_controls(f"installed {name}: {len(results)} checks passed") + "\n")
        # The daemon answered for the index URL, so one runs: restart it to load the plugin.
        Client(autostart=not no_autostart).restart()
        out.status("daemon restarted; `superllm providers list` shows the new providers")

    run(ctx, body)
