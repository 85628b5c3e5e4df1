"""One option set: a flag means the same in every command that takes it (issue 13 point 4)."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
import typer
from typer.testing import CliRunner

from superllm_cli.app import app
from superllm_cli.options import ColorChoice, Strategy, StreamMode

MODEL_COMMANDS = ("ask", "consensus", "debate", "redteam", "chain", "mapreduce", "chat")
# Flags whose meaning differs on purpose, and why:
# -m: ask and chat take one model, the modes a list of participants.
# --max-tokens: the modes keep it, hidden and deprecated, as their run budget for one release.
DIFFERENT = {"-m", "--model", "--max-tokens"}


def _options(name: str) -> dict[str, dict[str, Any]]:
    import typer.main

    group = typer.main.get_command(app)
    command = group.commands[name]  # type: ignore[attr-defined]
    found: dict[str, dict[str, Any]] = {}
    for param in command.params:
        if param.param_type_name != "option":
            continue
        shape = {
            "help": param.help,
            "type": repr(param.type_descriptor.annotation),
            "metavar": param.metavar,
            "range": (param.min, param.max),
            "default": param.default,
            "envvar": param.envvar,
            "multiple": param.multiple,
            "nargs": param.nargs,
            "is_flag": param.is_flag,
            "hidden": param.hidden,
            "names": sorted(param.opts + param.secondary_opts),
        }
        for opt in param.opts:
            found[opt] = shape
    return found


def test_every_shared_option_has_one_meaning() -> None:
    seen: dict[str, tuple[str, dict[str, Any]]] = {}
    shared = 0
    for name in MODEL_COMMANDS:
        for opt, shape in _options(name).items():
            if opt in DIFFERENT or opt == "--help":
                continue
            if opt in seen:
                first, expected = seen[opt]
                # --max-output is also a spelling of ask's --max-tokens: compare the meaning.
                same = {k: v for k, v in shape.items() if k != "names"}
                want = {k: v for k, v in expected.items() if k != "names"}
                assert same == want, f"{opt} differs between {first} and {name}"
                shared += 1
            else:
                seen[opt] = (name, shape)
    assert shared > 100  # the check saw the shared options, not an empty list


def test_the_output_cap_is_named_alike_and_the_run_budget_has_its_own_name() -> None:
    ask, debate = _options("ask"), _options("debate")
    assert (
        ask["--max-tokens"]["help"] == debate["--max-output"]["help"] == ask["--max-output"]["help"]
    )
    assert "--token-budget" in debate and "--token-budget" not in ask
    assert debate["--max-tokens"]["hidden"]  # the deprecated alias, out of help
    assert "--max-tokens" not in CliRunner().invoke(app, ["debate", "--help"]).output


@pytest.mark.parametrize(
    ("args", "choices"),
    [
        (["ask", "--help"], StreamMode),
        (["--help"], ColorChoice),
        (["consensus", "--help"], Strategy),
    ],
)
def test_choices_are_enums_whose_help_lists_the_values(args: list[str], choices: Any) -> None:
    text = CliRunner().invoke(app, args, terminal_width=200).output
    values = [member.value for member in choices]
    assert "[" + "|".join(values) + "]" in text.replace("<", "[").replace(">", "]")
    assert ", ".join(values) in text


def test_a_wrong_choice_is_refused_with_the_values() -> None:
    done = CliRunner().invoke(app, ["ask", "--stream", "sometimes", "hi"])
    assert done.exit_code == 2
    assert "sometimes" in done.output and "always" in done.output
    done = CliRunner().invoke(app, ["consensus", "--strategy", "coin", "hi"])
    assert done.exit_code == 2 and "medoid" in done.output


def test_the_strategy_choices_are_the_daemons() -> None:
    from superllmd.orchestrator import consensus

    assert {s.value for s in Strategy} == {*consensus.STRATEGIES, *consensus._ALIASES}


def test_p_takes_key_value_as_two_words_or_one() -> None:
    from superllm_cli.options import ParamCommand

    seen: list[list[str]] = []
    tiny = typer.Typer()

    @tiny.command(cls=ParamCommand)
    def cmd(
        prompt: Annotated[str | None, typer.Argument()] = None,
        param: Annotated[list[str] | None, typer.Option("-p", "--param")] = None,
    ) -> None:
        seen.append([*(param or []), f"prompt={prompt}"])

    runner = CliRunner()
    for args in (["-p", "to", "French", "-p", "x=1", "hi"], ["--param", "who", "a=b", "hi"]):
        done = runner.invoke(tiny, args)
        assert done.exit_code == 0, done.output
    assert runner.invoke(tiny, ["--", "-p"]).exit_code == 0
    assert seen == [["to=French", "x=1", "prompt=hi"], ["who=a=b", "prompt=hi"], ["prompt=-p"]]
