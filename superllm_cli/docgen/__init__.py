"""Files generated from the command tree and the settings model, committed in the repository.

``python -m superllm_cli.docgen`` rewrites them: ``completions/`` (bash, zsh, fish),
``man/superllm.1``, ``man/superllmd.8``, ``docs/configuration.md``, ``docs/exit-codes.md``
and ``superllm_cli/fastspec.json`` (the fast path's table of the command line).
Tests regenerate them and fail on any difference, so the committed files never drift from
the code. Nothing here is imported when ``superllm`` runs.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["generated_files", "write_all"]


def generated_files() -> dict[str, str]:
    """Every generated file: its path relative to the repository root, and its text."""
    from superllm_cli.completion import SHELLS, script
    from superllm_cli.docgen.configref import configuration_page
    from superllm_cli.docgen.fastspec import SPEC_FILE, fastspec_json
    from superllm_cli.docgen.manpage import exit_codes_page, superllm_1, superllmd_8

    names = {"bash": "superllm.bash", "zsh": "_superllm", "fish": "superllm.fish"}
    files = {f"completions/{names[shell]}": script(shell) for shell in SHELLS}
    files["man/superllm.1"] = superllm_1()
    files["man/superllmd.8"] = superllmd_8()
    files["docs/configuration.md"] = configuration_page()
    files["docs/exit-codes.md"] = exit_codes_page()
    files[SPEC_FILE] = fastspec_json()
    return files


def write_all(root: Path) -> list[Path]:
    """Write every generated file under ``root``; returns the paths that changed."""
    changed = []
    for rel, text in generated_files().items():
        path = root / rel
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        changed.append(path)
    return changed
