"""The README's gateway examples: its curl commands run with the real curl, and its one-line
SDK setups run with the real openai and anthropic SDKs, against the gateway."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from tests.gateway.conftest import Gateway

README = Path(__file__).resolve().parents[2] / "README.md"


def curl_commands() -> list[str]:
    text = README.read_text()
    section = text.split("## Gateway", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    joined = "\n".join(blocks).replace("\\\n", " ")
    return [line.strip() for line in joined.splitlines() if line.strip().startswith("curl ")]


def sdk_lines() -> list[str]:
    text = README.read_text()
    section = text.split("## Gateway", 1)[1].split("\n## ", 1)[0]
    block = re.findall(r"```python\n(.*?)```", section, re.S)[0]
    return [line.split("#", 1)[0].strip() for line in block.splitlines() if line.strip()]


def test_readme_sdk_setups_work(gateway: Gateway) -> None:
    import anthropic
    import openai

    lines = sdk_lines()
    assert [line.split("(", 1)[0] for line in lines] == ["openai.OpenAI", "anthropic.Anthropic"]
    scope = {"openai": openai, "anthropic": anthropic, "TOKEN": gateway.token}
    oai, ant = (eval(line.replace("http://127.0.0.1:8765", gateway.url), scope) for line in lines)
    reply = oai.chat.completions.create(
        model="fake/gpt-fake", messages=[{"role": "user", "content": "Hi"}]
    )
    assert reply.choices[0].message.content == "echo: Hi"
    message = ant.messages.create(
        model="fake/gpt-fake", max_tokens=16, messages=[{"role": "user", "content": "Hi"}]
    )
    assert message.content[0].text == "echo: Hi"


def test_readme_has_curl_examples() -> None:
    assert len(curl_commands()) >= 3


def test_readme_curl_examples_run(gateway: Gateway) -> None:
    assert shutil.which("curl"), "the README's examples need the real curl"
    for example in curl_commands():
        # The examples name a catalog model; here the openai provider is the fake.
        command = example.replace("http://127.0.0.1:8765", gateway.url)
        out = subprocess.run(
            ["bash", "-c", command],
            env={"SUPERLLM_TOKEN": gateway.token, "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
        if '"stream": true' in command:
            lines = [ln for ln in out.stdout.splitlines() if ln.startswith("data: ")]
            assert lines[-1] == "data: [DONE]"
            first = json.loads(lines[0][6:])
            assert first["object"] == "chat.completion.chunk"
            continue
        body = json.loads(out.stdout)
        assert "error" not in body, body
        if "/v1/messages" in command:
            assert body["content"][0]["text"] == "echo: Hi"
        elif "/v1/chat/completions" in command:
            assert body["choices"][0]["message"]["content"] == "echo: Hi"
        else:
            assert body["object"] == "list" and body["data"]
