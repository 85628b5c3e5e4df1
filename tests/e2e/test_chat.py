"""``superllm chat`` through a real pseudo-terminal: turns, commands, Ctrl-C, Ctrl-D."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import subprocess
import termios
import time
from pathlib import Path

from tests.e2e.conftest import SUPERLLM, Cli


def _controlling_tty() -> None:
    # Make the pty the session's terminal, so Ctrl-C typed into it sends SIGINT.
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Pty:
    """The chat on a pty, as a person at a terminal would run it."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        assert SUPERLLM
        master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            [SUPERLLM, *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            cwd=cwd,
            start_new_session=True,
            preexec_fn=_controlling_tty,  # noqa: PLW1509 - runs before any thread starts
        )
        os.close(slave)
        self.fd = master
        self.seen = ""

    def expect(self, text: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while text not in self.seen:
            left = deadline - time.monotonic()
            assert left > 0, f"never saw {text!r}; got:\n{self.seen[-2000:]}"
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.fd, 4096)
                except OSError:
                    chunk = b""
                assert chunk, f"the chat ended before {text!r}; got:\n{self.seen[-2000:]}"
                self.seen += chunk.decode(errors="replace").replace("\r\n", "\n")
        index = self.seen.index(text) + len(text)
        before, self.seen = self.seen[:index], self.seen[index:]
        return before

    def send(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def close(self) -> int:
        code = self.proc.wait(timeout=60)
        os.close(self.fd)
        return code


def test_a_chat_session(cli: Cli, env: dict[str, str], tmp_path: Path) -> None:
    chat = Pty(["chat", "-m", "fake/echo"], {**env, "HOME": str(tmp_path)}, tmp_path)
    try:
        chat.expect("> ")
        chat.send("hello there\n")
        chat.expect("echo: hello there")
        chat.expect("> ")
        chat.send("!multi\n")
        chat.expect(". ")
        chat.send("line one\nline two\n!end\n")
        chat.expect("echo: line one\nline two")
        chat.expect("> ")
        chat.send("/system Be brief.\n")
        chat.expect("system prompt: Be brief.")
        chat.send("/model fake/other\n")
        chat.expect("model: fake/other")
        chat.send("third\n")
        chat.expect("echo: third")
        chat.expect("> ")
        chat.send("/cost\n")
        costs = chat.expect("> ")
        assert "3 turns" in costs and "tokens" in costs
        chat.send("/save chat.md\n")
        chat.expect("saved 3 turns")
        # Wait for the prompt: a Ctrl-D typed ahead, while the terminal is still
        # in cooked mode, reaches the line editor as a NUL and is lost.
        chat.expect("> ")
        chat.send("\x04")  # Ctrl-D leaves
        assert chat.close() == 0
    finally:
        if chat.proc.poll() is None:
            chat.proc.kill()
    saved = (tmp_path / "chat.md").read_text()
    assert "## you\nhello there" in saved and "## answer\necho: third" in saved
    assert "Be brief." in saved
    runs = json.loads(cli("log", "--json").stdout)
    assert len(runs) == 3
    assert len({r["conversation_id"] for r in runs}) == 1  # one conversation in the ledger
    models = {tuple(r["participants"]) for r in runs}
    assert models == {("fake/echo",), ("fake/other",)}


def test_ctrl_c_cancels_the_answer_not_the_chat(env: dict[str, str], tmp_path: Path) -> None:
    chat = Pty(["chat", "-m", "fake/slow"], env, tmp_path)
    try:
        chat.expect("> ")
        chat.send(" ".join(f"word{i}" for i in range(300)) + "\n")
        chat.expect("echo: word0")
        chat.send("\x03")  # Ctrl-C while the answer streams
        chat.expect("(answer cancelled)")
        chat.expect("> ")
        # A person's Ctrl-C comes after the prompt is up; one sent the instant it is
        # drawn can land before readline's select() starts and wait for a key.
        time.sleep(0.3)
        chat.send("\x03")  # Ctrl-C at the prompt keeps the chat too
        chat.expect("> ")
        chat.send("/model fake/echo\n")
        chat.send("still here?\n")
        chat.expect("echo: still here?")
        chat.send("/exit\n")
        assert chat.close() == 0
    finally:
        if chat.proc.poll() is None:
            chat.proc.kill()


def test_history_is_kept_private_and_c_continues_the_conversation(
    cli: Cli, env: dict[str, str], home: Path, tmp_path: Path
) -> None:
    first = Pty(["chat", "-m", "fake/echo"], env, tmp_path)
    try:
        first.expect("> ")
        first.send("remember the tides\n")
        first.expect("echo: remember the tides")
        first.expect("> ")
        first.send("\x04")
        assert first.close() == 0
    finally:
        if first.proc.poll() is None:
            first.proc.kill()
    history = home / "state" / "chat_history"
    assert "remember the tides" in history.read_text()
    assert history.stat().st_mode & 0o777 == 0o600  # the lines typed are prompts
    again = Pty(["chat", "-c"], env, tmp_path)
    try:
        again.expect("> ")
        again.send("\x1b[A")  # Up: the line typed in the last session comes back
        again.expect("remember the tides")
        again.send("\n")
        again.expect("echo: remember the tides")
        again.expect("> ")
        again.send("/exit\n")
        assert again.close() == 0
    finally:
        if again.proc.poll() is None:
            again.proc.kill()
    runs = json.loads(cli("log", "--json").stdout)
    assert len(runs) == 2
    assert len({r["conversation_id"] for r in runs}) == 1  # -c went on with the same one
    assert {tuple(r["participants"]) for r in runs} == {("fake/echo",)}  # and its model
