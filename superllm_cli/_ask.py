"""What ``superllm ask`` does once its command line is read, whichever parser read it.

Typer (``commands/ask.py``) and the fast path (``_fast``) both fill an :class:`AskArgs` and
call :func:`ask_body`, so a request and its output cannot differ between them. The request
is built by ``superllm_cli.request`` (the modes' builder too) and the SDK's ``_calls.ask``.
Stdlib only: the fast path imports it on every ``superllm ask``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from superllm_cli.flags import Common
from superllm_cli.render import Output, usage_line
from superllmd.records import record

__all__ = ["STREAM_MODES", "AskArgs", "ask_body"]


@record
class AskArgs(Common):
    """The parameters of ``superllm ask``, one field per parameter of ``commands.ask.ask``
    (a test keeps them equal): the common ones and these."""

    prompt: str | None = None
    model: str | None = None
    max_tokens: int | None = None
    stream: str = "auto"
    schema: str | None = None

    def bad_value(self) -> tuple[str, str] | None:
        """(option, what to do) for a value no parser checks by its type, else None."""
        if self.stream not in STREAM_MODES:
            return "--stream", "use auto, always or never"
        return None


#: What --stream takes (checked before the body runs, by either parser).
STREAM_MODES = ("auto", "always", "never")


def ask_body(out: Output, args: AskArgs) -> int:
    """Send one ``/v1/ask`` and show it; the exit code (non-zero only for a failed run under
    ``--json``/``--stream-json``, which say nothing on stderr; other failures raise)."""
    from superllm_cli import _calls
    from superllm_cli.client import Client
    from superllm_cli.flags import shaped
    from superllm_cli.request import prepare

    schema = None
    if args.schema is not None:
        from superllm_cli.schema import load_schema

        schema = load_schema(args.schema)
    client = Client(autostart=not args.no_autostart)
    ready = prepare(args, args.prompt, client.paths.config_dir)
    options = ready.options
    if args.max_tokens is not None:
        options["max_tokens"] = args.max_tokens
    if schema is not None:
        options["json_schema"] = schema
    options["stream"] = args.stream != "never"
    chosen = args.model or (ready.models[0] if ready.models else None)
    events = client.run_events(_calls.ask(ready.text, model=chosen, **options))
    quiet = args.json_out or args.stream_json
    # A validated or extracted answer is printed whole, once checked: a pipe never gets
    # half of one, nor JSON that the schema then refuses.
    whole = schema is not None or args.extract or args.extract_last
    result = _consume(
        events, out, json_out=args.json_out, stream_json=args.stream_json, whole=whole
    )
    if whole and not quiet and result.get("answer") and not result.get("error"):
        out.answer(shaped(args, result["answer"]))
    return _finish(result, out, quiet=quiet)


def _consume(
    events: Iterator[dict[str, Any]],
    out: Output,
    *,
    json_out: bool,
    stream_json: bool,
    whole: bool = False,
) -> dict[str, Any]:
    finished: dict[str, Any] = {}

    def deltas() -> Iterator[str]:
        for event in events:
            if stream_json:
                out.json_line(event)
            kind = event.get("type")
            if kind == "delta" and not (json_out or stream_json or whole):
                yield event["text"]
            elif kind == "error" and event.get("participant") and not (json_out or stream_json):
                out.status(f"{event['participant']} failed: {event['message']}")
            elif kind == "run.finished":
                finished.update(event["result"])

    if json_out or stream_json or whole:
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
