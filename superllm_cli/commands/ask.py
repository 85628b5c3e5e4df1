"""``superllm ask``: one model."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import typer

from superllm_cli.completion import complete_conversations, complete_models
from superllm_cli.options import BinaryOk, Label, NoAutostart, run
from superllm_cli.render import Output, usage_line

__all__ = [
    "Attach",
    "CacheTtl",
    "Cid",
    "Continue",
    "Fragments",
    "MaxCost",
    "NoCache",
    "ask",
    "build_request",
    "context_fields",
    "parse_options",
    "read_prompt",
    "template_params",
]

MaxCost = Annotated[
    float | None,
    typer.Option("--max-cost", min=0.0, help="Refuse calls that could take the run over USD."),
]

# Conversations, context and the response cache (every mode takes these too).
Continue = Annotated[bool, typer.Option("-c", "--continue", help="Continue the last conversation.")]
Cid = Annotated[
    str | None,
    typer.Option("--cid", help="Continue conversation ID.", autocompletion=complete_conversations),
]
Fragments = Annotated[
    list[str] | None,
    typer.Option("-f", "--fragment", help="Add a file's text as context (- for stdin); repeat."),
]
Attach = Annotated[
    list[str] | None, typer.Option("-a", "--attach", help="Attach an image; repeat.")
]
NoCache = Annotated[bool, typer.Option("--no-cache", help="Do not answer from the cache.")]
CacheTtl = Annotated[
    str | None,
    typer.Option("--cache-ttl", help="Oldest cached answer to use: 90s, 30m, 2h, 1d (1d)."),
]

TemplateName = Annotated[
    str | None,
    typer.Option("-t", "--template", help="Use a prompt template (superllm templates list)."),
]
Params = Annotated[
    list[str] | None,
    typer.Option("-p", "--param", help="A template parameter key=value; repeat."),
]

_STREAM_MODES = ("auto", "always", "never")
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


def ask(
    ctx: typer.Context,
    prompt: Annotated[
        str | None, typer.Argument(help="The prompt; stdin is added after it.")
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "-m", "--model", help="provider/model or an alias.", autocompletion=complete_models
        ),
    ] = None,
    system: Annotated[str | None, typer.Option("-s", "--system", help="System prompt.")] = None,
    temperature: Annotated[
        float | None, typer.Option("--temperature", min=0.0, max=2.0, help="Sampling temperature.")
    ] = None,
    max_tokens: Annotated[
        int | None, typer.Option("--max-tokens", min=1, help="Most tokens to generate.")
    ] = None,
    option: Annotated[
        list[str] | None, typer.Option("-o", "--option", help="Model option key=value; repeat.")
    ] = None,
    stream: Annotated[str, typer.Option("--stream", help="auto, always or never.")] = "auto",
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    stream_json: Annotated[
        bool, typer.Option("--stream-json", help="Print every event as a JSON line.")
    ] = False,
    max_cost: MaxCost = None,
    continue_: Continue = False,
    cid: Cid = None,
    fragment: Fragments = None,
    attach: Attach = None,
    no_cache: NoCache = False,
    cache_ttl: CacheTtl = None,
    template: TemplateName = None,
    param: Params = None,
    label: Label = None,
    no_autostart: NoAutostart = False,
    binary_ok: BinaryOk = False,
) -> None:
    """Ask one model. The answer streams to stdout; pipe-friendly."""
    if stream not in _STREAM_MODES:
        raise typer.BadParameter("use auto, always or never", param_hint="--stream")

    def body(out: Output) -> None:
        from superllm_cli.client import Client

        context = context_fields(
            continue_=continue_,
            cid=cid,
            fragments=fragment,
            attach=attach,
            no_cache=no_cache,
            cache_ttl=cache_ttl,
        )
        text = read_prompt(prompt, binary_ok=binary_ok)
        client = Client(autostart=not no_autostart)
        chosen, instructions, options = model, system, parse_options(option or [])
        if template is not None:
            from superllm_cli.templates_store import load, render

            tpl = load(template, client.paths.config_dir)
            text = render(tpl, text, template_params(param or []))
            chosen = model or tpl.model
            instructions = system if system is not None else tpl.system
            options = {**tpl.options, **options}
        request = build_request(
            text,
            model=chosen,
            system=instructions,
            temperature=temperature,
            max_tokens=max_tokens,
            options=options,
            stream=stream != "never",
            label=label,
            environ=client.env_for_request(),
            max_cost=max_cost,
        )
        request.update(context)
        events = client.events("POST", "/v1/ask", request)
        result = _consume(events, out, json_out=json_out, stream_json=stream_json)
        _finish(result, out, quiet=json_out or stream_json)

    run(ctx, body)


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


def _finish(result: dict[str, Any], out: Output, *, quiet: bool) -> None:
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
            raise typer.Exit(exc.exit_code)
        raise exc
    if not quiet:
        out.status(usage_line(result))
