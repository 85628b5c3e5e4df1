"""Examples for every command: the end of its ``--help``, the man page's EXAMPLES, the docs.

One table, keyed by the command's path (``""`` is ``superllm`` itself), so help, man page and
documentation never disagree. A test parses every example against the real command tree,
so an example that stops being valid fails the build.
"""

from __future__ import annotations

import typer

__all__ = ["EXAMPLES", "OVERVIEW", "attach", "epilog"]

EXAMPLES: dict[str, tuple[str, ...]] = {
    "": (
        'superllm ask "Explain CRDTs in two sentences"',
        'superllm consensus -m openai/gpt-4.1 -m anthropic/claude-sonnet-4-5 "Is 1001 prime?"',
        "superllm usage --by model",
    ),
    "ask": (
        'superllm ask "Explain CRDTs in two sentences"',
        "git diff | superllm ask -t review -p lang python",
        'superllm ask -c "And in one sentence?"',
    ),
    "chat": (
        "superllm chat",
        "superllm chat -m openai/gpt-4.1-mini -s 'You are terse.'",
        "superllm chat -c",
    ),
    "models": (
        "superllm models --refresh",
        "superllm models --provider ollama",
        "superllm models --capability vision --max-price 3",
    ),
    "embed": (
        'superllm embed "first text" "second text"',
        "superllm embed -m openai/text-embedding-3-small < lines.txt",
    ),
    "usage": (
        "superllm usage",
        "superllm usage --by model --since 7d",
        "superllm usage --label nightly --csv",
    ),
    "log": (
        'superllm log --search "pricing"',
        "superllm log off",
        "superllm log rm --before 30d",
    ),
    "conversations": ("superllm conversations list", "superllm conversations show CONV_ID"),
    "conversations list": ("superllm conversations list", "superllm conversations list --json"),
    "conversations show": (
        "superllm conversations show CONV_ID",
        "superllm conversations show CONV_ID --json",
    ),
    "conversations rm": (
        "superllm conversations rm CONV_ID",
        "superllm conversations list --json",
    ),
    "tui": (
        "superllm tui",
        "superllm tui --mode debate -m openai/gpt-4.1 -m anthropic/claude-sonnet-4-5",
    ),
    "mcp": (
        "superllm mcp --print-config claude-code",
        "superllm mcp --print-config claude-desktop",
        "superllm -v mcp",
    ),
    "consensus": (
        'superllm consensus -m openai/gpt-4.1 -m gemini/gemini-2.5-pro "Is 1001 prime?"',
        'superllm consensus --models openai/gpt-4.1,gemini/gemini-2.5-pro --strategy vote "2+2?"',
        "superllm consensus --schema 'capital str, population int' \"France?\"",
    ),
    "debate": (
        'superllm debate --rounds 3 "Is 1001 prime?"',
        'superllm debate --require-agreement --threshold 0.9 "Is P = NP decidable?"',
        "git diff | superllm debate -t review -p lang python",
    ),
    "redteam": (
        'superllm redteam "Is this SQL injection-safe? $(cat q.py)"',
        'superllm redteam --judge gemini/gemini-2.5-pro --rounds 2 "Plan a database migration"',
    ),
    "chain": (
        'superllm chain refine "Draft a release note for v2"',
        "superllm chain workflow.toml < notes.txt",
    ),
    "mapreduce": (
        'superllm mapreduce -q "What changed about pricing?" < contract.txt',
        'superllm mapreduce --chunk-tokens 2000 -q "List every date" < log.txt',
    ),
    "daemon": ("superllm daemon status", "superllm daemon restart"),
    "daemon start": ("superllm daemon start", "superllm daemon start && superllm daemon status"),
    "daemon stop": ("superllm daemon stop", "superllm daemon stop && superllm daemon start"),
    "daemon restart": (
        "superllm daemon restart",
        "superllm daemon restart && superllm daemon logs -n 5",
    ),
    "daemon status": ("superllm daemon status", "superllm daemon status --json"),
    "daemon logs": ("superllm daemon logs", "superllm daemon logs -n 200 -f"),
    "daemon install-service": (
        "superllm daemon install-service",
        "superllm daemon install-service && systemctl --user enable --now superllmd.socket",
    ),
    "daemon uninstall-service": (
        "superllm daemon uninstall-service",
        "systemctl --user disable --now superllmd.socket && superllm daemon uninstall-service",
    ),
    "config": ("superllm config path", "superllm config set default_model openai/gpt-4.1-mini"),
    "config path": ("superllm config path", 'cat "$(superllm config path)"'),
    "config edit": ("superllm config edit", "EDITOR=nano superllm config edit"),
    "config show": ("superllm config show", "superllm config show --json"),
    "config set": (
        "superllm config set default_model openai/gpt-4.1-mini",
        "superllm config set providers.mylab.base_url http://127.0.0.1:8000/v1",
    ),
    "providers": ("superllm providers list", "superllm providers check openai"),
    "providers list": ("superllm providers list", "superllm providers list --json"),
    "providers check": ("superllm providers check", "superllm providers check openai anthropic"),
    "providers add": (
        "superllm providers add ./my_provider.py",
        "superllm providers add ./my_provider.py && superllm providers check mylab",
    ),
    "providers remove": (
        "superllm providers remove my_provider",
        "superllm providers remove mylab",
    ),
    "providers new": ("superllm providers new mylab", "superllm providers new mylab --dir ~/src"),
    "providers search": ("superllm providers search ollama", "superllm providers search --json"),
    "providers install": (
        "superllm providers install superllm-provider-acme",
        "superllm providers install superllm-provider-acme==1.2.0",
    ),
    "keys": ("superllm keys set openai", "superllm keys list"),
    "keys set": ("superllm keys set openai", "pass show openai | superllm keys set openai"),
    "keys remove": ("superllm keys remove openai", "superllm keys remove anthropic"),
    "keys list": ("superllm keys list", "superllm keys list --all"),
    "keys path": (
        "superllm keys path",
        "PYTHON_KEYRING_BACKEND=keyrings.alt.file.PlaintextKeyring superllm keys path",
    ),
    "budget": ("superllm budget set --daily 2", "superllm budget show"),
    "serve": (
        "superllm serve token create ci --budget-daily 1 --rpm 60",
        "superllm serve --port 8765",
    ),
    "serve token": ("superllm serve token create ci", "superllm serve token list"),
    "serve token create": (
        "superllm serve token create ci --budget-daily 1 --rpm 60 --tpm 100000",
        "superllm serve token create editor --models 'openai/*' --expires 30d",
    ),
    "serve token list": ("superllm serve token list", "superllm serve token list --json"),
    "serve token revoke": ("superllm serve token revoke ci", "superllm serve token list"),
    "serve user": (
        "superllm serve user create ana --team platform --budget-daily 5",
        "superllm serve user list",
    ),
    "serve user create": (
        "superllm serve user create ana --team platform --budget-daily 5",
        "superllm serve token create ana-laptop --user ana",
    ),
    "serve user list": ("superllm serve user list", "superllm serve user list --json"),
    "serve user rm": ("superllm serve user rm ana", "superllm serve user list"),
    "serve team": (
        "superllm serve team create platform --budget-daily 20",
        "superllm serve team list",
    ),
    "serve team create": (
        "superllm serve team create platform --budget-daily 20",
        "superllm usage --by team",
    ),
    "serve team list": ("superllm serve team list", "superllm serve team list --json"),
    "serve team rm": ("superllm serve team rm platform", "superllm serve team list"),
    "budget set": (
        "superllm budget set --daily 2 --monthly 30",
        "superllm budget set --provider openai --daily 1",
        "superllm budget set --label nightly --daily 0.5",
    ),
    "budget show": ("superllm budget show", "superllm budget show --json"),
    "budget clear": ("superllm budget clear", "superllm budget clear --provider openai"),
    "templates": ("superllm templates list", "superllm templates show review"),
    "templates list": ("superllm templates list", "superllm templates show summarize"),
    "templates show": ("superllm templates show review", "superllm templates show translate"),
    "templates edit": (
        "superllm templates edit review",
        "EDITOR=nano superllm templates edit mine",
    ),
    "templates save": (
        "superllm templates save terse -s 'Answer in one sentence.'",
        "superllm templates save fr --prompt 'In French: $input' -m openai/gpt-4.1-mini",
        "superllm templates save panel --models openai/gpt-4.1,anthropic/claude-sonnet-4-5",
    ),
    "completions": (
        "superllm completions bash > ~/.local/share/bash-completion/completions/superllm",
        "superllm completions zsh > ~/.zfunc/_superllm",
        "superllm completions fish > ~/.config/fish/completions/superllm.fish",
    ),
}

OVERVIEW = """\
superllm: one command for many LLMs. Ask one model, or several at once (consensus,
debate, redteam, chain, mapreduce); a small daemon keeps connections warm and writes
one usage ledger.

Most used:
  superllm ask "PROMPT"            ask the default model (or -m provider/model)
  superllm consensus -m A -m B "PROMPT"   several models, one merged answer
  superllm models                  the models you can use, with prices
  superllm usage                   tokens and cost from the ledger
  superllm tui                     watch models answer side by side

More: superllm --help (every command), superllm COMMAND --help (options and examples),
man superllm, and the docs/ folder of the project.
"""


def epilog(path: str) -> str | None:
    """The help epilog for the command at ``path``: its examples, unwrapped."""
    examples = EXAMPLES.get(path)
    if not examples:
        return None
    # "\b" stops click from re-wrapping the paragraph that follows.
    return "Examples:\n\n\b\n" + "\n".join(f"  {line}" for line in examples)


def attach(app: typer.Typer, prefix: str = "") -> None:
    """Set every command's epilog from EXAMPLES (before click builds the command tree)."""
    if not prefix:
        app.info.epilog = app.info.epilog or epilog("")
    for command in app.registered_commands:
        name = command.name or (command.callback.__name__ if command.callback else "")
        command.epilog = command.epilog or epilog(f"{prefix}{name}".strip())
    for group in app.registered_groups:
        sub = group.typer_instance
        if sub is None:
            continue
        path = f"{prefix}{group.name}"
        group.epilog = group.epilog or epilog(path)
        attach(sub, path + " ")
