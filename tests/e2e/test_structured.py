"""--schema and -x/--extract end to end: the real command, a real daemon, the OpenAI fake
(which checks the response_format shape and answers JSON for the schema: see
tests/fakes/structured.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import Cli
from tests.fakes.openai import FakeOpenAI

CONCISE = "name str, age int: years, ok bool"
FENCED = "Here:\n```py\nprint(1)\n```\nand\n```sh\nls -l\n```\ndone"


def _sent(fake: FakeOpenAI, model: str) -> dict[str, object]:
    return [r for r in fake.chat_requests() if r["model"] == model][-1]


def test_ask_with_the_concise_schema(cli: Cli, fake_openai: FakeOpenAI) -> None:
    done = cli("ask", "-m", "fake/struct-ada", "--schema", CONCISE, "Who?")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"name": "ada", "age": 3, "ok": True}
    fmt = _sent(fake_openai, "struct-ada")["response_format"]
    assert fmt == {
        "type": "json_schema",
        "json_schema": {
            "name": "answer",
            "schema": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "age": {"type": "integer", "description": "years"},
                    "ok": {"type": "boolean"},
                },
                "required": ["name", "age", "ok"],
            },
        },
    }
    as_json = json.loads(
        cli("ask", "--json", "-m", "fake/struct-ada", "--schema", CONCISE, "x").stdout
    )
    assert as_json["parsed"] == {"name": "ada", "age": 3, "ok": True}


def test_ask_with_a_schema_file(cli: Cli, tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {"city": {"type": "string"}, "people": {"type": "number"}},
        "required": ["city"],
    }
    path = tmp_path / "city.json"
    path.write_text(json.dumps(schema))
    done = cli("ask", "-m", "fake/struct-rome", "--schema", str(path), "Biggest city?")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"city": "rome", "people": 4.5}
    sent = _sent(fake_openai, "struct-rome")["response_format"]
    assert sent["json_schema"]["schema"] == {k: v for k, v in schema.items() if k != "$schema"}  # type: ignore[index]


@pytest.mark.parametrize(
    ("model", "why"),
    [("struct-bad", "does not match the schema"), ("struct-prose", "did not answer with JSON")],
)
def test_invalid_output_is_a_provider_error(cli: Cli, model: str, why: str) -> None:
    done = cli("ask", "-m", f"fake/{model}", "--schema", CONCISE, "Who?")
    assert done.returncode == 4, done.stderr
    assert why in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert done.stdout == "", "invalid JSON never reaches stdout"
    as_json = cli("ask", "--json", "-m", f"fake/{model}", "--schema", CONCISE, "Who?")
    assert as_json.returncode == 4
    assert why in json.loads(as_json.stdout)["error"]["message"]


def test_a_bad_schema_is_a_usage_error(cli: Cli, tmp_path: Path) -> None:
    typo = cli("ask", "-m", "fake/echo", "--schema", "name strr", "x")
    assert typo.returncode == 2 and "unknown type 'strr'" in typo.stderr
    odd = tmp_path / "odd.json"
    odd.write_text('{"type": "object", "oneOf": [{"required": ["a"]}]}')
    refused = cli("ask", "-m", "fake/echo", "--schema", str(odd), "x")
    assert refused.returncode == 2 and "unsupported keyword(s) oneOf" in refused.stderr
    missing = cli("ask", "-m", "fake/echo", "--schema", str(tmp_path / "none.json"), "x")
    assert missing.returncode == 2 and "cannot read it" in missing.stderr


def test_consensus_votes_field_by_field(cli: Cli) -> None:
    panel = ["-m", "fake/struct-ada", "-m", "fake/struct-ada-2", "-m", "fake/struct-bo"]
    done = cli("consensus", "--json", *panel, "-m", "fake/struct-prose", "--schema", CONCISE, "?")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["parsed"] == {"name": "ada", "age": 3, "ok": True}
    assert json.loads(result["answer"]) == result["parsed"]
    fields = result["report"]["fields"]
    assert fields["name"]["winner"] == "ada" and fields["name"]["share"] == pytest.approx(2 / 3)
    assert fields["name"]["votes"] == {'"ada"': 2, '"bo"': 1}
    assert fields["age"] == {"winner": 3, "share": pytest.approx(2 / 3), "votes": {"3": 2, "2": 1}}
    assert fields["ok"]["share"] == 1.0
    assert result["agreement"] == pytest.approx((2 / 3 + 2 / 3 + 1) / 3)
    assert list(result["report"]["invalid"]) == ["fake/struct-prose"]
    assert (result["n_valid"], result["n"]) == (3, 4)
    plain = cli("consensus", *panel, "--schema", CONCISE, "?")
    assert json.loads(plain.stdout) == {"name": "ada", "age": 3, "ok": True}


def test_consensus_without_one_valid_answer_fails(cli: Cli) -> None:
    panel = ["-m", "fake/struct-bad", "-m", "fake/struct-prose"]
    done = cli("consensus", *panel, "--schema", CONCISE, "?")
    assert done.returncode == 4, done.stderr
    assert "no participant answered with JSON matching the schema" in done.stderr


def test_extract_prints_the_first_or_last_code_block(cli: Cli) -> None:
    first = cli("ask", "-m", "fake/echo", "-x", FENCED)
    assert first.returncode == 0, first.stderr
    assert first.stdout == "print(1)\n"
    last = cli("ask", "-m", "fake/echo", "--extract-last", FENCED)
    assert last.stdout == "ls -l\n"
    none = cli("ask", "-m", "fake/echo", "-x", "no code here")
    assert none.stdout == "echo: no code here\n"  # no block: the answer is kept whole
    mode = cli(
        "consensus", "-m", "fake/echo", "-m", "fake/echo", "--strategy", "medoid", "-x", FENCED
    )
    assert mode.returncode == 0, mode.stderr
    assert mode.stdout == "print(1)\n"


def test_the_other_modes_refuse_a_schema(cli: Cli, home: Path) -> None:
    import httpx

    from superllmd import __version__
    from superllmd.api import VERSION_HEADER
    from superllmd.paths import get_paths
    from tests.e2e.conftest import base_env

    assert cli("daemon", "start").returncode == 0
    socket = get_paths(base_env(home)).socket
    schema = {"type": "object"}
    with httpx.Client(
        transport=httpx.HTTPTransport(uds=str(socket)),
        base_url="http://superllm",
        headers={VERSION_HEADER: __version__},
        timeout=30,
    ) as client:
        body = {"prompt": "hi", "models": ["fake/echo"], "json_schema": schema}
        refused = client.post("/v1/debate", json=body)
        assert refused.status_code == 400
        assert "json_schema (--schema) is for ask and consensus" in refused.text
        bad = client.post(
            "/v1/ask", json={"prompt": "hi", "model": "fake/echo", "json_schema": {"oneOf": []}}
        )
        assert bad.status_code == 400 and "unsupported keyword(s) oneOf" in bad.text


@pytest.mark.local_model
def test_the_local_model_answers_a_schema_through_a_grammar(cli: Cli) -> None:
    done = cli(
        "ask",
        "--json",
        "-m",
        "local/smollm2",
        "--max-tokens",
        "40",
        "--schema",
        "answer int, sure bool",
        "What is 2+2?",
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    parsed = json.loads(done.stdout)["parsed"]
    assert set(parsed) == {"answer", "sure"}
    assert isinstance(parsed["answer"], int) and isinstance(parsed["sure"], bool)
