"""One request builder for ``ask`` and the modes: flags in, the protocol's typed options out.

The commands gather their options as ``superllm_cli.options.Common``/``RunFlags``; this
module reads the files and stdin they name, applies a template (``-t NAME -p KEY VALUE``)
and returns the ``AskOptions``/``RunOptions`` (``superllm_cli._calls``, the SDK's own
shapes of ``AskRequest``/``RunRequest``), which the SDK's call builders turn into the body.
Stdlib only: it runs on every ``superllm ask``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from superllm_cli._calls import AskOptions, RunOptions
from superllmd.records import field, record

if TYPE_CHECKING:
    from superllm_cli.flags import Common, RunFlags
    from superllm_cli.templates_store import Template

__all__ = [
    "Prepared",
    "context_fields",
    "parse_options",
    "prepare",
    "read_prompt",
    "run_options",
    "template_params",
]

_TTL_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


@record
class Prepared:
    """What a command sends: the prompt text, the options, and the template it used."""

    text: str
    options: AskOptions
    template: Template | None = None
    models: list[str] = field(default_factory=list)  # the template's default participants


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
    """``-o key=value`` pairs, numbers and booleans typed."""
    from superllmd.errors import UsageError

    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"-o takes key=value, got {pair!r} (e.g. -o top_p=0.9)")
        options[key.strip()] = _coerce(value.strip())
    return options


def template_params(pairs: list[str]) -> dict[str, str]:
    """``-p KEY VALUE`` (joined as ``KEY=VALUE`` by the parser) for a template's ``$KEY``."""
    from superllmd.errors import UsageError

    params: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"-p takes KEY VALUE, got {pair!r} (e.g. -p lang python)")
        params[key.strip()] = value
    return params


def context_fields(flags: Common) -> AskOptions:
    """The options for -c/--cid, -f, -a, --no-cache, --cache-ttl.

    Reads the files here (``-f -`` takes stdin, so call this before ``read_prompt``).
    """
    from superllmd.errors import UsageError

    body = AskOptions()
    if flags.cid:
        body["conversation_id"] = flags.cid
    elif flags.continue_:
        body["continue_last"] = True
    if flags.fragment:
        body["fragments"] = [_read_text(path) for path in flags.fragment]
    if flags.attach:
        body["attachments"] = [_read_image(path) for path in flags.attach]
    if flags.no_cache:
        body["no_cache"] = True
    if flags.cache_ttl is not None:
        text = flags.cache_ttl.strip().lower()
        number, unit = text.rstrip("smhd"), text[len(text.rstrip("smhd")) :]
        try:
            body["cache_ttl"] = float(number) * _TTL_UNITS[unit]
        except (ValueError, KeyError):
            raise UsageError(
                f"--cache-ttl {flags.cache_ttl!r}: write e.g. 90s, 30m, 2h or 1d"
            ) from None
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


def prepare(
    flags: Common,
    prompt: str | None,
    config_dir: Path,
    *,
    read: Callable[[str | None, bool], str] | None = None,
) -> Prepared:
    """Read the context, the prompt (with ``read``, default :func:`read_prompt`) and the
    template, and build the options every mode shares. Explicit flags beat the template's."""
    from superllmd.errors import UsageError

    context = context_fields(flags)  # before the prompt: `-f -` reads stdin
    text = read(prompt, flags.binary_ok) if read else read_prompt(prompt, binary_ok=flags.binary_ok)
    system, model_options = flags.system, parse_options(flags.option or [])
    tpl: Template | None = None
    if flags.template is not None:
        from superllm_cli.templates_store import load, render

        tpl = load(flags.template, config_dir)
        text = render(tpl, text, template_params(flags.param or []))
        system = system if system is not None else tpl.system
        model_options = {**tpl.options, **model_options}
    elif flags.param:
        raise UsageError("-p fills a template's parameters: add -t TEMPLATE")
    options = AskOptions(options=model_options, **context)
    for key, value in (
        ("system", system),
        ("temperature", flags.temperature),
        ("label", flags.label),
        ("max_cost", flags.max_cost),
    ):
        if value is not None:
            options[key] = value  # type: ignore[literal-required]
    models = (tpl.models or ([tpl.model] if tpl.model else [])) if tpl else []
    return Prepared(text, options, tpl, models)


def run_options(flags: RunFlags, base: AskOptions, **knobs: Any) -> RunOptions:
    """A mode's options: ``base`` (from :func:`prepare`), the run flags, and the mode's own
    ``knobs`` (``None`` ones left out, so the daemon's defaults apply)."""
    options = RunOptions(**base)  # type: ignore[typeddict-item]
    for key, value in (
        ("judge", flags.judge),
        ("max_tokens", flags.max_output),
        ("max_calls", flags.max_calls),
        ("max_run_tokens", flags.run_tokens()),
        ("timeout", flags.timeout),
        ("seed", flags.seed),
        *knobs.items(),
    ):
        if value is not None:
            options[key] = value  # type: ignore[literal-required]
    return options
