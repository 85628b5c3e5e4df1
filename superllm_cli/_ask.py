"""What ``superllm ask`` does once its command line is read, whichever parser read it.

Typer (``commands/ask.py``) and the fast path (``_fast``) both fill an :class:`AskArgs` and
call :func:`ask_body`, so a request and its output cannot differ between them. The helpers
here (prompt and stdin, ``-o`` pairs, context fields) serve the mode commands too. Stdlib
only: the fast path imports it on every ``superllm ask``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from superllm_cli.render import Output, usage_line

__all__ = [
    "STREAM_MODES",
    "AskArgs",
    "ask_body",
    "build_request",
    "context_fields",
    "parse_options",
    "read_prompt",
    "template_params",
]


@dataclass
class AskArgs:
    """The parameters of ``superllm ask``, one field per parameter of ``commands.ask.ask``
    (a test keeps them equal)."""

    prompt: str | None = None
    model: str | None = None
    system: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    option: list[str] | None = None
    stream: str = "auto"
    json_out: bool = False
    stream_json: bool = False
    max_cost: float | None = None
    continue_: bool = False
    cid: str | None = None
    fragment: list[str] | None = None
    attach: list[str] | None = None
    no_cache: bool = False
    cache_ttl: str | None = None
    template: str | None = None
    param: list[str] | None = None
    label: str | None = None
    no_autostart: bool = False
    binary_ok: bool = False

    def bad_value(self) -> tuple[str, str] | None:
        """(option, what to do) for a value no parser checks by its type, else None."""
        if self.stream not in STREAM_MODES:
            return "--stream", "use auto, always or never"
        return None


#: What --stream takes (checked before the body runs, by either parser).
STREAM_MODES = ("auto", "always", "never")
_TTL_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def context_fields(
    *,
    continue_: bool,
    cid: str | None,
    fragments: list[str] | None,
    attach: list[str] | None,
    no_cache: bool,
    cache_ttl: str | None,
) -> dict[str, Any]:
    """The request fields for -c/--cid, -f, -a, --no-cache, --cache-ttl.

    Reads the files here (``-f -`` takes stdin, so call this before ``read_prompt``).
    """
    from superllmd.errors import UsageError

    body: dict[str, Any] = {}
    if cid:
        body["conversation_id"] = cid
    elif continue_:
        body["continue_last"] = True
    if fragments:
        body["fragments"] = [_read_text(path) for path in fragments]
    if attach:
        body["attachments"] = [_read_image(path) for path in attach]
    if no_cache:
        body["no_cache"] = True
    if cache_ttl is not None:
        text = cache_ttl.strip().lower()
        number, unit = text.rstrip("smhd"), text[len(text.rstrip("smhd")) :]
        try:
            body["cache_ttl"] = float(number) * _TTL_UNITS[unit]
        except (ValueError, KeyError):
            raise UsageError(f"--cache-ttl {cache_ttl!r}: write e.g. 90s, 30m, 2h or 1d") from None
    return body


def _read_text(path: str) -> str:
    from superllmd.errors import UsageError

    if path == "-":
        from superllm_cli._stdin import read_stdin

        return read_stdin(source="-f - (stdin)")
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"-f {path}: cannot read it as text ({exc})") from None


def _read_image(path: str) -> dict[str, str]:
    import base64
    import mimetypes

    from superllmd.errors import UsageError

    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise UsageError(f"-a {path}: cannot read it ({exc.strerror})") from None
    media_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
    name = path.rsplit("/", 1)[-1]
    return {"name": name, "media_type": media_type, "data": base64.b64encode(data).decode()}


def read_prompt(prompt: str | None, *, binary_ok: bool = False) -> str:
    """PROMPT and/or stdin: stdin is joined after the prompt, or used alone.

    Stdin is read only when it is not a terminal, so a cron job (stdin at EOF) never blocks.
    Stdin that is not UTF-8 text is refused (UsageError with a hint) unless ``binary_ok``.
    """
    from superllm_cli._stdin import read_stdin
    from superllmd.errors import UsageError

    piped = read_stdin(binary_ok=binary_ok)
    parts = [p for p in (prompt, piped.strip("\n")) if p and p.strip()]
    if not parts:
        raise UsageError('no prompt: give one as an argument (superllm ask "...") or on stdin')
    return "\n\n".join(parts)


def _coerce(value: str) -> Any:
    lowered = value.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value


def parse_options(pairs: list[str]) -> dict[str, Any]:
    from superllmd.errors import UsageError

    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"-o takes key=value, got {pair!r} (e.g. -o top_p=0.9)")
        options[key.strip()] = _coerce(value.strip())
    return options


def template_params(pairs: list[str]) -> dict[str, str]:
    """``-p key=value`` pairs for a template's ``$key`` placeholders."""
    from superllmd.errors import UsageError

    params: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"-p takes key=value, got {pair!r} (e.g. -p lang=python)")
        params[key.strip()] = value
    return params


def build_request(
    prompt: str,
    *,
    model: str | None,
    system: str | None,
    temperature: float | None,
    max_tokens: int | None,
    options: dict[str, Any],
    stream: bool,
    label: str | None,
    environ: dict[str, str],
    max_cost: float | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"prompt": prompt, "stream": stream, "options": options, "env": environ}
    for key, value in (
        ("model", model),
        ("system", system),
        ("temperature", temperature),
        ("max_tokens", max_tokens),
        ("label", label),
        ("max_cost", max_cost),
    ):
        if value is not None:
            body[key] = value
    return body


def ask_body(out: Output, args: AskArgs) -> int:
    """Send one ``/v1/ask`` and show it; the exit code (non-zero only for a failed run under
    ``--json``/``--stream-json``, which say nothing on stderr; other failures raise)."""
    from superllm_cli.client import Client

    context = context_fields(
        continue_=args.continue_,
        cid=args.cid,
        fragments=args.fragment,
        attach=args.attach,
        no_cache=args.no_cache,
        cache_ttl=args.cache_ttl,
    )
    text = read_prompt(args.prompt, binary_ok=args.binary_ok)
    client = Client(autostart=not args.no_autostart)
    chosen, instructions = args.model, args.system
    options = parse_options(args.option or [])
    if args.template is not None:
        from superllm_cli.templates_store import load, render

        tpl = load(args.template, client.paths.config_dir)
        text = render(tpl, text, template_params(args.param or []))
        chosen = args.model or tpl.model
        instructions = args.system if args.system is not None else tpl.system
        options = {**tpl.options, **options}
    request = build_request(
        text,
        model=chosen,
        system=instructions,
        temperature=args.temperature,
        max_tokens=args.max_tokens,
        options=options,
        stream=args.stream != "never",
        label=args.label,
        environ=client.env_for_request(),
        max_cost=args.max_cost,
    )
    request.update(context)
    events = client.events("POST", "/v1/ask", request)
    quiet = args.json_out or args.stream_json
    result = _consume(events, out, json_out=args.json_out, stream_json=args.stream_json)
    return _finish(result, out, quiet=quiet)


def _consume(
    events: Iterator[dict[str, Any]], out: Output, *, json_out: bool, stream_json: bool
) -> dict[str, Any]:
    finished: dict[str, Any] = {}

    def deltas() -> Iterator[str]:
        for event in events:
            if stream_json:
                out.json_line(event)
            kind = event.get("type")
            if kind == "delta" and not (json_out or stream_json):
                yield event["text"]
            elif kind == "error" and event.get("participant") and not (json_out or stream_json):
                out.status(f"{event['participant']} failed: {event['message']}")
            elif kind == "run.finished":
                finished.update(event["result"])

    if json_out or stream_json:
        for _ in deltas():
            pass
        if json_out:
            out.json(finished)
        return finished
    streamed = out.answer_stream(deltas())
    if not streamed and finished.get("answer"):  # --stream never: the answer comes whole
        out.answer(finished["answer"])
    return finished


def _finish(result: dict[str, Any], out: Output, *, quiet: bool) -> int:
    from superllm_cli.runview import print_warnings
    from superllmd.errors import DaemonError, from_dict

    if not result:
        raise DaemonError(
            "the daemon ended the stream without a result; see `superllm daemon logs`"
        )
    print_warnings(result, out)
    error = result.get("error")
    if error:
        exc = from_dict(error)
        if quiet:
            return exc.exit_code
        raise exc
    if not quiet:
        out.status(usage_line(result))
    return 0
