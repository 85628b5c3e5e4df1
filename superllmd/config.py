"""Settings: config.toml, then ``SUPERLLM_*`` environment variables, then request flags.

The daemon owns configuration. It reads ``config.toml`` itself, re-reads it when it changes,
and layers each request's environment (forwarded by the CLI) on top for that request only.
A bad file is reported with its key, file and line, and is never applied half-way.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    ValidationError,
    field_validator,
)
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource

from superllmd.errors import ConfigError, sentence

__all__ = [
    "BudgetSettings",
    "ConfigStore",
    "DaemonSettings",
    "LedgerSettings",
    "McpSettings",
    "PluginSettings",
    "PriceOverride",
    "ProviderBudget",
    "ProviderSettings",
    "Settings",
    "load_settings",
    "parse_duration",
    "read_config_text",
    "validate_text",
]

ENV_PREFIX = "SUPERLLM_"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProviderSettings(_Section):
    """``[providers.ID]``. A new OpenAI-compatible endpoint needs only kind and base_url."""

    kind: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    api_key_cmd: str | None = None
    timeout: float = Field(default=120.0, gt=0)
    max_concurrency: int | None = Field(default=None, gt=0)
    rpm: int | None = Field(default=None, gt=0)
    tpm: int | None = Field(default=None, gt=0)
    headers: dict[str, str] = Field(default_factory=dict)
    models: list[str] = Field(default_factory=list)
    # local provider: extra GGUF files by name, and llama.cpp context size
    model_paths: dict[str, str] = Field(default_factory=dict)
    n_ctx: int = Field(default=4096, gt=0)
    enabled: bool = True

    @field_validator("base_url")
    @classmethod
    def _no_user_info(cls, value: str | None) -> str | None:
        # A password in the URL would travel into logs and error messages; keys have a place.
        if value is not None and "@" in value.split("://", 1)[-1].split("/", 1)[0]:
            raise ValueError(
                "contains a user name or password (user@host); remove it and store the key "
                "with `superllm keys set`"
            )
        return value


class ProviderBudget(_Section):
    """``[budgets.providers.ID]``: what one provider may cost per local day and month."""

    daily_usd: float | None = Field(default=None, ge=0)
    monthly_usd: float | None = Field(default=None, ge=0)


class BudgetSettings(_Section):
    """``[budgets]``: global limits, per provider, per label (daily), enforced by budget.py."""

    daily_usd: float | None = Field(default=None, ge=0)
    monthly_usd: float | None = Field(default=None, ge=0)
    providers: dict[str, ProviderBudget] = Field(default_factory=dict)
    # ``[budgets.labels] nightly = 0.50``: daily USD per client label (cron jobs).
    labels: dict[str, NonNegativeFloat] = Field(default_factory=dict)
    # An unpriced model cannot be counted; true refuses it while any budget is set.
    block_unpriced: bool = False
    warn_at: float = Field(default=0.8, gt=0, le=1)
    # A call whose worst case does not fit what a budget (or --max-cost) has left gets its
    # answer capped to fit; it is refused only when fewer than this many output tokens fit.
    min_output_tokens: int = Field(default=256, ge=1)


class PriceOverride(_Section):
    """``[prices."provider/model"]``: USD per million tokens, winning over the catalog.

    ``cached_input`` defaults to ``input`` (no discount assumed for cached prompt tokens).
    """

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cached_input: float | None = Field(default=None, ge=0)


class DaemonSettings(_Section):
    idle_timeout: str = "0"
    log_prompts: bool = True
    grace_period: float = Field(default=10.0, ge=0)
    # Most models on one consensus/debate panel, checked before any call is made.
    max_panel: int = Field(default=32, gt=0, le=1000)
    # Largest request body the daemon reads (prompts, fragments, images), in megabytes.
    max_request_mb: float = Field(default=32.0, gt=0)
    # Largest prompt a run takes: its text, fragments, system prompt and the history sent
    # with it, in megabytes of UTF-8 (a bigger input is for `superllm mapreduce`).
    max_prompt_mb: float = Field(
        default=8.0, gt=0, description="Largest prompt (text, fragments, history), in MB."
    )
    # Each door (the socket, the TCP door): seconds for a request's headers to arrive, and
    # then its body; connections open at once (superllmd/doors.py).
    header_timeout: float = Field(
        default=10.0, gt=0, description="Seconds a request's headers may take to arrive."
    )
    body_timeout: float = Field(
        default=60.0, gt=0, description="Seconds a request's body may take after its headers."
    )
    max_connections: int = Field(
        default=512, gt=0, description="Connections open at once, per door."
    )
    # The circuit breaker per provider (superllmd/providers/breaker.py); read at start.
    breaker_threshold: int = Field(
        default=5, gt=0, description="Failures in a row that cool a provider down."
    )
    breaker_cooldown: float = Field(
        default=30.0, gt=0, description="Seconds a cooled-down provider is skipped."
    )
    # The gateway's TCP door ("127.0.0.1:8765"); none unless set. A non-loopback host needs
    # allow_remote; tls_cert and tls_key (PEM files) make it HTTPS.
    listen: str | None = None
    allow_remote: bool = False
    token_cache_s: float = Field(
        default=5.0,
        ge=0,
        le=3600,
        description=(
            "Seconds a gateway token's lookup is reused; a revoke, or a change to the token's "
            "user or team, drops it at once on every instance."
        ),
    )
    tls_cert: str | None = None
    tls_key: str | None = None

    @field_validator("idle_timeout")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value


class LedgerSettings(_Section):
    """``[ledger]``: where the ledger lives. Unset, a SQLite file in the data folder; a
    ``postgresql://`` URL shares one database between several gateway instances (extra
    ``postgres``). Give the password in ``PGPASSWORD`` or ``~/.pgpass``, not in the URL."""

    url: str | None = None
    # Most connections one daemon holds to PostgreSQL.
    pool_size: int = Field(default=8, gt=0, le=200)
    lease_s: float = Field(
        default=60.0,
        ge=1.0,
        le=3600.0,
        description=(
            "PostgreSQL: how long an instance's lease lasts, in seconds (it renews it every "
            "third of that). Once the lease of an instance that stopped without finishing "
            "(kill -9, a lost machine) has run out, its budget reservations stop counting and "
            "another instance marks its calls in flight interrupted."
        ),
    )

    @field_validator("url")
    @classmethod
    def _postgres(cls, value: str | None) -> str | None:
        if (
            value is not None
            and value.strip()
            and not value.startswith(("postgresql://", "postgres://"))
        ):
            raise ValueError(
                "takes a PostgreSQL URL (postgresql://user@host/db); leave it unset for the "
                "SQLite file"
            )
        return value.strip() or None if value is not None else None


class McpSettings(_Section):
    """``[mcp]``: what MCP clients (``superllm mcp``, /mcp on the TCP door) may reach."""

    # Folders whose files the mapreduce tool may read by path; none by default.
    allowed_paths: list[str] = Field(default_factory=list)


class PluginSettings(_Section):
    """``[plugins]``: where ``superllm providers search`` and ``install`` find packages."""

    index_url: str = Field(
        default="https://pypi.org/simple/",
        description="A package index with the standard simple API (PEP 503/691), such as "
        "a private mirror; `providers search` lists its superllm-provider-* packages.",
    )

    @field_validator("index_url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("index_url must be an http:// or https:// URL")
        return value


class Settings(BaseSettings):
    """Everything in config.toml; the README and docs/configuration.md show an example file."""

    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    default_model: str | None = None
    default_embedding_model: str | None = None
    aliases: dict[str, str | list[str]] = Field(default_factory=dict)
    providers: dict[str, ProviderSettings] = Field(default_factory=dict)
    budgets: BudgetSettings = Field(default_factory=BudgetSettings)
    daemon: DaemonSettings = Field(default_factory=DaemonSettings)
    prices: dict[str, PriceOverride] = Field(default_factory=dict)
    mcp: McpSettings = Field(default_factory=McpSettings)
    ledger: LedgerSettings = Field(default_factory=LedgerSettings)
    plugins: PluginSettings = Field(default_factory=PluginSettings)

    @field_validator("prices")
    @classmethod
    def _price_names(cls, value: dict[str, PriceOverride]) -> dict[str, PriceOverride]:
        for name in value:
            if "/" not in name.strip("/"):
                raise ValueError(
                    f'name prices by model, as [prices."provider/model"], not {name!r}'
                )
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Highest priority first: the request's environment, then the file (passed as init).
        return (_RequestEnv(settings_cls, _request_env.get()), init_settings)


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def parse_duration(text: str) -> float:
    """``"0"`` (never), ``"90"``/``"90s"``, ``"30m"``, ``"2h"``, ``"1d"`` -> seconds."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration; write e.g. 0, 90s, 30m or 2h")
    return float(match.group(1)) * _UNITS[match.group(2)]


# Hands the request's environment to the settings source, which pydantic builds for us.
_NO_ENV: Mapping[str, str] = MappingProxyType({})
_request_env: ContextVar[Mapping[str, str]] = ContextVar("superllm_request_env", default=_NO_ENV)


class _RequestEnv(EnvSettingsSource):
    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(
            settings_cls,
            case_sensitive=False,
            env_prefix=ENV_PREFIX,
            env_nested_delimiter="__",
        )

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {k.lower(): v for k, v in self._environ.items() if k.startswith(ENV_PREFIX)}


def read_config_text(path: Path) -> str:
    """The text of config.toml ("" when absent); ConfigError naming the file and what to do
    when it cannot be read or is not UTF-8 (TOML files must be)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return ""
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"{path} is not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}); "
            "save it as UTF-8 (e.g. iconv -f latin1 -t utf-8) and try again"
        ) from None


def _read_toml(path: Path) -> tuple[dict[str, Any], str]:
    text = read_config_text(path)
    if not text:
        return {}, ""
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{path}: invalid TOML: {sentence(str(exc))} Fix the file and try again."
        ) from None


def _locate(text: str, loc: tuple[str | int, ...]) -> int | None:
    """The 1-based line in ``text`` where dotted key ``loc`` is set, found by a light scan.

    Falls back to the line of the innermost table that holds it, if the key itself is absent.
    """
    if not text:
        return None
    keys = [str(part) for part in loc]
    table: list[str] = []
    best: int | None = None
    header = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
    assign = re.compile(r"^\s*(\"[^\"]+\"|[A-Za-z0-9_.\-]+)\s*=")
    for number, line in enumerate(text.splitlines(), start=1):
        if m := header.match(line):
            table = [p.strip().strip('"') for p in m.group(1).split(".")]
            if keys[: len(table)] == table and best is None:
                best = number
            continue
        if m := assign.match(line):
            full = table + [p.strip().strip('"') for p in m.group(1).split(".")]
            if full == keys[: len(full)]:
                return number
    return best


def _describe(exc: ValidationError, path: Path, text: str, environ: Mapping[str, str]) -> str:
    lines = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        key = ".".join(str(p) for p in loc)
        line = _locate(text, loc)
        env_name = _env_source(loc, environ)
        if env_name is not None:
            where = f"environment variable {env_name}"
        elif line is not None:
            where = f"{path}, line {line}"
        else:
            where = str(path)
        message = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        lines.append(f"{key}: {message} ({where})")
    return "bad configuration: " + "; ".join(lines) + ". Fix it and try again."


def _env_source(loc: tuple[str | int, ...], environ: Mapping[str, str]) -> str | None:
    """The SUPERLLM_* variable that set ``loc`` (or one of its parents), if any did."""
    upper = {k.upper(): k for k in environ if k.startswith(ENV_PREFIX)}
    for depth in range(len(loc), 0, -1):
        name = ENV_PREFIX + "__".join(str(p) for p in loc[:depth]).upper()
        if name in upper:
            return upper[name]
    return None


def load_settings(path: Path, environ: Mapping[str, str]) -> Settings:
    """Build settings from ``path`` and ``environ``, or raise ConfigError naming the culprit."""
    data, text = _read_toml(path)
    return _validate(data, path, text, environ)


def _validate(data: dict[str, Any], path: Path, text: str, environ: Mapping[str, str]) -> Settings:
    token = _request_env.set(environ)
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path, text, environ)) from None
    finally:
        _request_env.reset(token)


_ENV_PREFIX_B = ENV_PREFIX.encode()


def _relevant_env(environ: Mapping[str, str]) -> frozenset[tuple[Any, Any]]:
    """The SUPERLLM_* part of ``environ``, a cache key. For ``os.environ`` it reads the
    encoded dict underneath: decoding every variable on each settings lookup was 9% of the
    gateway's event-loop time (several lookups per request)."""
    if environ is os.environ:
        data = getattr(environ, "_data", None)
        if isinstance(data, dict):
            return frozenset(i for i in data.items() if i[0].startswith(_ENV_PREFIX_B))
    return frozenset((k, v) for k, v in environ.items() if k.startswith(ENV_PREFIX))


class ConfigStore:
    """Caches settings per (file version, SUPERLLM_* environment) so a request costs a stat.

    The daemon's own settings (``os.environ``) are also kept for the rest of the event loop's
    iteration that looked them up: a gateway request asks four or five times (budgets,
    ledger, breaker, route), and at 32 concurrent requests an iteration serves many. A change
    to the file is seen from the next iteration on; the daemon's own edits call
    ``invalidate()``.
    """

    def __init__(self, path: Path, max_entries: int = 64) -> None:
        self.path = path
        self._max = max_entries
        self._cache: dict[tuple[object, frozenset[tuple[Any, Any]]], Settings | ConfigError] = {}
        self._current: Settings | None = None

    def invalidate(self) -> None:
        """Forget this iteration's settings (after editing the file)."""
        self._current = None

    def _version(self) -> object:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def get(self, environ: Mapping[str, str]) -> Settings:
        if environ is os.environ and self._current is not None:
            return self._current
        relevant = _relevant_env(environ)
        key = (self._version(), relevant)
        found = self._cache.get(key)
        if found is None:
            try:
                found = load_settings(self.path, environ)
            except ConfigError as exc:
                found = exc
            if len(self._cache) >= self._max:
                self._cache.clear()
            self._cache[key] = found
        if isinstance(found, ConfigError):
            raise found
        if environ is os.environ:
            import asyncio

            loop = asyncio._get_running_loop()
            if loop is not None:
                self._current = found
                loop.call_soon(self.invalidate)
        return found


def validate_text(text: str, path: Path, environ: Mapping[str, str], what: str) -> Settings:
    """The settings an edited config.toml would give; ConfigError saying ``what`` would break."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{what} would make {path} invalid TOML: {exc}") from None
    return _validate(data, path, text, environ)
