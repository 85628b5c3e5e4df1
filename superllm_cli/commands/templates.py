"""``superllm templates list|show|edit|save``: prompt templates used with ``-t NAME`` on
``ask`` and the modes."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from superllm_cli.options import run
from superllm_cli.render import Output

__all__ = ["app"]

app = typer.Typer(
    help="Prompt templates: system prompt, prompt with $input and -p params, model.",
    no_args_is_help=True,
)

Name = Annotated[str, typer.Argument(help="The template's name.")]


@app.command(name="list")
def list_(ctx: typer.Context) -> None:
    """Every template: the built-ins and your own (which replace a built-in of that name)."""

    def body(out: Output) -> None:
        from superllm_cli.money import table
        from superllm_cli.templates_store import load, names
        from superllmd.paths import get_paths

        config_dir = get_paths().config_dir
        rows = [(n, f"{load(n, config_dir).description}  ({w})") for n, w in names(config_dir)]
        for line in table(rows):
            sys.stdout.write(line + "\n")

    run(ctx, body)


@app.command()
def show(ctx: typer.Context, name: Name) -> None:
    """Print a template as TOML."""

    def body(out: Output) -> None:
        from superllm_cli.templates_store import load, to_toml
        from superllmd.paths import get_paths

        sys.stdout.write(to_toml(load(name, get_paths().config_dir)))

    run(ctx, body)


@app.command()
def save(
    ctx: typer.Context,
    name: Name,
    prompt: Annotated[
        str, typer.Option("--prompt", help="The prompt; $input is the user's text.")
    ] = "$input",
    system: Annotated[str | None, typer.Option("-s", "--system", help="System prompt.")] = None,
    model: Annotated[str | None, typer.Option("-m", "--model", help="Default model.")] = None,
    models: Annotated[
        str | None, typer.Option("--models", help="Default participants of the modes: a,b,c.")
    ] = None,
    option: Annotated[
        list[str] | None, typer.Option("-o", "--option", help="Model option key=value; repeat.")
    ] = None,
    description: Annotated[str, typer.Option("--description", help="One line.")] = "",
) -> None:
    """Save a template to the config folder (replacing one of that name)."""

    def body(out: Output) -> None:
        from superllm_cli.request import parse_options
        from superllm_cli.templates_store import Template, template_dir, to_toml
        from superllmd.paths import ensure_private_dir, get_paths
        from superllmd.privacy import write_private

        config_dir = get_paths().config_dir
        made = Template(
            name=name,
            prompt=prompt,
            system=system,
            model=model,
            models=[m.strip() for m in (models or "").split(",") if m.strip()],
            options=parse_options(option or []),
            description=description,
        )
        folder = template_dir(config_dir)
        ensure_private_dir(folder)
        path = folder / f"{name}.toml"
        write_private(path, to_toml(made))
        sys.stdout.write(f"saved {path}\n")

    run(ctx, body)


@app.command()
def edit(ctx: typer.Context, name: Name) -> None:
    """Open a template in $VISUAL or $EDITOR (a built-in is copied to your folder first)."""

    def body(out: Output) -> None:
        import shlex
        import subprocess

        from superllm_cli.templates_store import load, template_dir, to_toml
        from superllmd.errors import UsageError
        from superllmd.paths import ensure_private_dir, get_paths
        from superllmd.privacy import write_private

        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
        if not editor:
            raise UsageError("set $VISUAL or $EDITOR to the editor to use, e.g. EDITOR=nano")
        config_dir = get_paths().config_dir
        folder = template_dir(config_dir)
        ensure_private_dir(folder)
        path = folder / f"{name}.toml"
        if not path.exists():
            try:
                text = to_toml(load(name, config_dir))
            except UsageError:
                text = 'description = ""\nsystem = ""\nprompt = "$input"\n'
            write_private(path, text)
        subprocess.run([*shlex.split(editor), str(path)], check=False)
        load(name, config_dir)  # a broken file is reported now, not at the next ask
        sys.stdout.write(f"{path}\n")

    run(ctx, body)
