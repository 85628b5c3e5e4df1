"""man/superllm.1 and man/superllmd.8, written from the Typer command tree.

Every command and option comes from the same click objects that parse the command line, and
the EXAMPLES section from superllm_cli.examples, so the page cannot fall behind the code.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

# Typer vendors its own click (typer._click): the command tree is made of its classes.
from typer._click.core import Command, Context
from typer.core import TyperGroup

from superllmd import __version__

__all__ = ["EXIT_CODES", "commands", "exit_codes_page", "superllm_1", "superllmd_8"]

EXIT_CODES = (
    (0, "Success."),
    (1, "Unexpected error (a bug: run again with --debug and report it)."),
    (2, "Usage or configuration error: a bad option, argument or config.toml."),
    (3, "The daemon is unreachable or failed to start."),
    (4, "Provider error: every participant failed, a bad key, an unknown model."),
    (5, "A budget or --max-cost would be exceeded."),
    (6, "No agreement reached where --require-agreement asked for it."),
    (130, "Interrupted (Ctrl-C)."),
)

_FILES = (
    ("config/config.toml", "The configuration file (see superllm config path)."),
    ("data/ledger.sqlite3", "The usage ledger: calls, costs, runs, conversations."),
    ("data/models/", "Local GGUF models."),
    ("state/superllmd.log", "The daemon's log (superllm daemon logs)."),
    ("run/superllmd.sock", "The daemon's Unix socket, mode 0600 in a 0700 folder."),
    ("run/superllmd.lock", "Held by the running daemon."),
)

_ENVIRONMENT = (
    (
        "SUPERLLM_HOME",
        "Keep every superllm file (config, data, state, socket) under this folder.",
    ),
    (
        "SUPERLLM_<SECTION>__<KEY>",
        "Any configuration key, for one command only, e.g. "
        "SUPERLLM_PROVIDERS__OPENAI__BASE_URL or SUPERLLM_DEFAULT_MODEL.",
    ),
    ("SUPERLLM_LABEL", "The default --label of a run (usage and budgets per job)."),
    ("SUPERLLM_LOG_LEVEL", "The daemon's log level (DEBUG, INFO, WARNING)."),
    ("NO_COLOR", "Set to anything: no colour, as with --color never."),
    ("OLLAMA_HOST", "Where the ollama provider finds its server."),
    ("LISTEN_FDS, LISTEN_PID", "Socket activation: superllmd takes its socket from these."),
    (
        "XDG_CONFIG_HOME, XDG_DATA_HOME, XDG_STATE_HOME",
        "Without SUPERLLM_HOME, where the config, data and state folders go; the socket "
        "ignores XDG_RUNTIME_DIR (see FILES).",
    ),
    ("VISUAL, EDITOR", "The editor of config edit and templates edit."),
)


def _roff(text: str) -> str:
    """Escape text for roff: backslashes, hyphens, and a leading dot or quote."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return re.sub(r"^([.'])", r"\\&\1", text, flags=re.MULTILINE)


def _paragraphs(text: str) -> str:
    # click's "\b" (keep this paragraph as written) becomes a no-fill block.
    out = []
    for block in re.split(r"\n\s*\n", text.strip()):
        if block.startswith("\b"):
            lines = block[1:].strip("\n").splitlines()
            out.append(".nf\n" + "\n".join(_roff(line.strip()) for line in lines) + "\n.fi")
        else:
            out.append(_roff(" ".join(block.split())))
    return "\n.PP\n".join(out)


def _root() -> TyperGroup:
    import typer.main

    from superllm_cli.app import app

    group = typer.main.get_command(app)
    assert isinstance(group, TyperGroup)
    return group


def commands() -> Iterator[tuple[str, Command, Context]]:
    """Every command (groups and leaves) under ``superllm``, depth first, with its context."""

    def walk(
        cmd: Command, path: str, parent: Context | None
    ) -> Iterator[tuple[str, Command, Context]]:
        ctx = Context(cmd, info_name=path.rsplit(" ", 1)[-1], parent=parent)
        yield path, cmd, ctx
        if isinstance(cmd, TyperGroup):
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                if sub is not None and not sub.hidden:
                    yield from walk(sub, f"{path} {name}", ctx)

    yield from walk(_root(), "superllm", None)


def _options(cmd: Command, ctx: Context) -> list[str]:
    lines = []
    for param in cmd.get_params(ctx):
        record = param.get_help_record(ctx) if not getattr(param, "hidden", False) else None
        if record is None:
            continue
        name, help_text = record
        lines += [".TP", f".B {_roff(name)}", _roff(" ".join(help_text.split())) or "\\&"]
    return lines


def _command_section(path: str, cmd: Command, ctx: Context) -> list[str]:
    from superllm_cli.examples import EXAMPLES

    usage = " ".join(cmd.collect_usage_pieces(ctx))
    lines = [f'.SS "{_roff(path)} {_roff(usage)}"']
    if cmd.help:
        lines.append(_paragraphs(cmd.help))
    lines += _options(cmd, ctx)
    examples = EXAMPLES.get(path.removeprefix("superllm").strip())
    if examples:
        lines += [".PP", "Examples:", ".RS", ".nf", *(_roff(e) for e in examples), ".fi", ".RE"]
    return lines


def _key_variables() -> list[str]:
    import tomllib
    from pathlib import Path

    import superllmd

    names = [
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
        "GEMINI_API_KEY",
        "GOOGLE_API_KEY",
        "CO_API_KEY",
        "COHERE_API_KEY",
        "MISTRAL_API_KEY",
    ]
    presets = Path(superllmd.__file__).parent / "providers" / "presets.toml"
    for preset in tomllib.loads(presets.read_text(encoding="utf-8")).values():
        env = preset.get("api_key_env")
        if isinstance(env, str) and env not in names:
            names.append(env)
    return names


def _tagged(pairs: tuple[tuple[str, str], ...] | list[tuple[str, str]]) -> list[str]:
    lines = []
    for name, text in pairs:
        lines += [".TP", f".B {_roff(name)}", _roff(text)]
    return lines


def superllm_1() -> str:
    """The text of man/superllm.1."""
    from superllm_cli.examples import EXAMPLES

    header = [
        f'.TH SUPERLLM 1 "" "superllm {__version__}" "User Commands"',
        ".SH NAME",
        "superllm \\- one command for many LLMs",
        ".SH SYNOPSIS",
        ".B superllm",
        "[\\fIGLOBAL OPTIONS\\fR] \\fICOMMAND\\fR [\\fIOPTIONS\\fR] [\\fIARGS\\fR]",
        ".SH DESCRIPTION",
        _paragraphs(
            "superllm asks one model (ask), or puts several to work at once: consensus, "
            "debate, redteam, chain and mapreduce. A per-user daemon, superllmd(8), keeps "
            "provider connections warm, holds conversations and budgets, and writes one usage "
            "ledger, so the terminal, pipelines, cron jobs and the TUI share one view of cost. "
            "It is started on demand by the first command that needs it.\n\n"
            "The prompt is PROMPT and/or standard input (joined after the prompt). In a pipe "
            "only the answer goes to standard output, streamed as it arrives; status lines go "
            "to standard error with -v. --json prints one result object with stable keys; "
            "--stream-json prints every event as a JSON line."
        ),
    ]
    body: list[str] = []
    for path, cmd, ctx in commands():
        if path == "superllm":
            body += [".SH GLOBAL OPTIONS", *_options(cmd, ctx), ".SH COMMANDS"]
            continue
        body += _command_section(path, cmd, ctx)
    exit_lines = _tagged([(str(code), text) for code, text in EXIT_CODES])
    env = [*_ENVIRONMENT, *((name, "A provider's API key.") for name in _key_variables())]
    files = [(f"$SUPERLLM_HOME/{rel}", text) for rel, text in _FILES]
    tail = [
        ".SH EXIT STATUS",
        *exit_lines,
        ".SH ENVIRONMENT",
        *_tagged(env),
        ".SH FILES",
        _paragraphs(
            "With SUPERLLM_HOME set, everything lives under it as listed. Without it the "
            "configuration, data and state folders follow the platform's conventions "
            "(~/.config/superllm, ~/.local/share/superllm and ~/.local/state/superllm on "
            "Linux; superllm config path prints the first) and the socket is in "
            "/tmp/superllm-UID, so a cron job and a login shell find the same daemon."
        ),
        *_tagged(files),
        ".SH EXAMPLES",
        ".nf",
        *(_roff(line) for examples in EXAMPLES.values() for line in examples[:1]),
        ".fi",
        ".SH SEE ALSO",
        "superllmd(8); superllm COMMAND \\-\\-help; the docs/ folder of the source.",
    ]
    return "\n".join([*header, *body, *tail]) + "\n"


def superllmd_8() -> str:
    """The text of man/superllmd.8."""
    lines = [
        f'.TH SUPERLLMD 8 "" "superllm {__version__}" "System Manager\'s Manual"',
        ".SH NAME",
        "superllmd \\- the superllm daemon",
        ".SH SYNOPSIS",
        ".B superllmd",
        "[\\fB\\-\\-foreground\\fR] [\\fB\\-\\-version\\fR]",
        ".SH DESCRIPTION",
        _paragraphs(
            "superllmd serves superllm's API over a Unix socket readable only by its user: "
            "provider connections, the orchestrator for every mode, conversations, budgets, "
            "rate limits and the usage ledger. superllm(1) starts it on demand; it can also "
            "run under a service manager (superllm daemon install-service).\n\n"
            "It runs in phases: take the daemon lock (one daemon per runtime folder), load "
            "the configuration (a bad file stops it before anything listens), bind the socket "
            "(or take it from the service manager), serve, and on SIGTERM, SIGINT, superllm "
            "daemon stop or the idle timeout stop accepting, let in-flight requests finish "
            "within daemon.grace_period, then close the provider pools, remove the socket and "
            "drop the lock. A ledger row is written when each call settles, so nothing is "
            "lost when the daemon is killed."
        ),
        ".SH OPTIONS",
        *_tagged(
            [
                ("\\-\\-foreground", "Run here instead of detaching (for service managers)."),
                ("\\-\\-version", "Print the version and exit."),
            ]
        ),
        ".SH SOCKET ACTIVATION",
        _paragraphs(
            "When LISTEN_PID is the daemon's own pid and LISTEN_FDS is 1, it serves the "
            "listening Unix socket passed as file descriptor 3 (sd_listen_fds(3)) instead of "
            "binding one, and leaves the socket file to the service manager. superllm daemon "
            "install-service writes a systemd user socket and service unit that do this."
        ),
        ".SH EXIT STATUS",
        *_tagged(
            [
                ("0", "Stopped normally."),
                ("2", "The configuration is invalid; the log and standard error say where."),
                ("3", "Another daemon already serves this socket, or it could not start."),
            ]
        ),
        ".SH FILES",
        *_tagged([(f"$SUPERLLM_HOME/{rel}", text) for rel, text in _FILES]),
        ".SH ENVIRONMENT",
        *_tagged([_ENVIRONMENT[0], _ENVIRONMENT[1], _ENVIRONMENT[3], _ENVIRONMENT[6]]),
        ".SH SEE ALSO",
        "superllm(1), systemd.socket(5), sd_listen_fds(3)",
    ]
    return "\n".join(lines) + "\n"


def exit_codes_page() -> str:
    """The Markdown text of docs/exit-codes.md, from the same table as the man page."""
    rows = "\n".join(f"| {code} | {text} |" for code, text in EXIT_CODES)
    return (
        "# Exit codes\n\n"
        "<!-- Generated by `python -m superllm_cli.docgen` from superllm_cli/docgen/manpage.py;"
        " do not edit. -->\n\n"
        "Every command exits with one of these, and every error is one line on stderr that "
        "says what failed and what to do (a traceback only with `--debug`).\n\n"
        "| code | meaning |\n|---|---|\n"
        f"{rows}\n\n"
        "```sh\n"
        'superllm ask -m openai/gpt-4.1-mini --no-such-option "hi" || echo "exit code $?"\n'
        'superllm ask -m openai/error-401 "hi" || echo "exit code $?"\n'
        "```\n"
    )
