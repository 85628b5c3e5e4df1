"""Reading text from stdin safely: bytes in, UTF-8 checked, binary refused with a hint.

Python decodes stdin with the locale's codec (and ``surrogateescape`` under C/POSIX), so a
stray byte either raises deep inside the command or travels on as a lone surrogate that JSON
cannot encode. Reading the raw bytes and decoding them here gives one clear message instead.
"""

from __future__ import annotations

import sys

__all__ = ["decode_input", "read_stdin"]

# Bytes that hardly occur in text: C0 controls but tab, newlines, form feed and ESC (colour
# codes in piped logs), and DEL.
_NON_TEXT = frozenset([*range(0x09), *range(0x0E, 0x1B), *range(0x1C, 0x20), 0x7F])


def _looks_binary(data: bytes) -> bool:
    sample = data[:8192]
    if b"\x00" in sample:
        return True
    odd = sum(1 for byte in sample if byte in _NON_TEXT)
    return odd > len(sample) // 20


def decode_input(data: bytes, *, binary_ok: bool = False, source: str = "stdin") -> str:
    """``data`` as text; UsageError naming ``source`` and a fix when it is not UTF-8 text.

    With ``binary_ok`` bad bytes (and NULs, which no model wants) become U+FFFD instead.
    """
    from superllmd.errors import UsageError

    if binary_ok:
        return data.decode("utf-8", "replace").replace("\x00", "\ufffd")
    if _looks_binary(data):
        raise UsageError(
            f"{source} holds binary data ({len(data)} bytes), not text; attach a file with "
            "--attach FILE (images), or add --binary-ok to send it as text anyway"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"{source} is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "convert it first (e.g. iconv -f latin1 -t utf-8), or add --binary-ok to replace "
            "the bad bytes"
        ) from None


def read_stdin(*, binary_ok: bool = False, source: str = "stdin") -> str:
    """All of stdin as text, or "" when it is a terminal or closed (so cron never blocks)."""
    stdin = sys.stdin
    if stdin is None or stdin.closed or stdin.isatty():
        return ""
    buffer = getattr(stdin, "buffer", None)
    if buffer is None:  # replaced by a text-only stream (tests, embedding): already text
        return stdin.read()
    return decode_input(buffer.read(), binary_ok=binary_ok, source=source)
