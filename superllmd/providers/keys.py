"""Where API keys come from: the OS keyring, then the environment, then ``api_key_cmd``.

Keys live only in memory here. They are never written to config, the ledger, a log line or an
error message; errors name the *source* of a key (``$OPENAI_API_KEY``), never its value.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from superllmd.errors import AuthError

if TYPE_CHECKING:
    from superllmd.config import ProviderSettings

__all__ = ["KEYRING_SERVICE", "KeyResolver", "ResolvedKey"]

KEYRING_SERVICE = "superllm"
_KEYRING_TTL = 30.0
_CMD_TTL = 300.0
_CMD_TIMEOUT = 15.0
# What an HTTP header value can carry and every vendor's keys are made of: visible ASCII.
_SENDABLE = re.compile(r"[\x21-\x7e]+")


@dataclass(frozen=True, slots=True)
class ResolvedKey:
    value: str
    source: str  # "keyring", "$OPENAI_API_KEY" or "api_key_cmd": safe to show

    def __repr__(self) -> str:  # never print the value, even by accident
        return f"ResolvedKey(source={self.source!r})"


class KeyResolver:
    def __init__(self, use_keyring: bool = True) -> None:
        self._use_keyring = use_keyring
        self._keyring_cache: dict[str, tuple[float, str | None]] = {}
        self._cmd_cache: dict[str, tuple[float, str]] = {}

    def forget(self, provider_id: str | None = None) -> None:
        """Drop cached keys (after ``superllm keys set``)."""
        if provider_id is None:
            self._keyring_cache.clear()
            self._cmd_cache.clear()
        else:
            self._keyring_cache.pop(provider_id, None)

    async def resolve(
        self,
        provider_id: str,
        settings: ProviderSettings,
        env_names: tuple[str, ...],
        environ: Mapping[str, str],
    ) -> ResolvedKey | None:
        """The key, checked to be sendable in an HTTP header; None when there is none."""
        key = await self._resolve(provider_id, settings, env_names, environ)
        if key is not None and not _SENDABLE.fullmatch(key.value):
            # httpx would raise UnicodeEncodeError (or send a broken header) deep in the call.
            raise AuthError(
                f"the key for {provider_id} (from {key.source}) contains a character that "
                "cannot be sent (non-ASCII, a space or a control character); set it again "
                f"with `superllm keys set {provider_id}`",
                provider=provider_id,
            )
        return key

    async def _resolve(
        self,
        provider_id: str,
        settings: ProviderSettings,
        env_names: tuple[str, ...],
        environ: Mapping[str, str],
    ) -> ResolvedKey | None:
        if self._use_keyring and (value := await self._from_keyring(provider_id)):
            return ResolvedKey(value, "keyring")
        names = (settings.api_key_env,) if settings.api_key_env else env_names
        for name in names:
            if value := environ.get(name, "").strip():
                return ResolvedKey(value, f"${name}")
        if settings.api_key_cmd:
            return ResolvedKey(
                await self._from_cmd(provider_id, settings.api_key_cmd), "api_key_cmd"
            )
        return None

    async def require(
        self,
        provider_id: str,
        settings: ProviderSettings,
        env_names: tuple[str, ...],
        environ: Mapping[str, str],
    ) -> ResolvedKey:
        """The key, or an AuthError naming where one would be looked for."""
        key = await self.resolve(provider_id, settings, env_names, environ)
        if key is None:
            names = (settings.api_key_env,) if settings.api_key_env else env_names
            wanted = " or ".join(f"${n}" for n in names) or "an API key"
            raise AuthError(
                f"no API key for {provider_id}: set {wanted}, or run "
                f"`superllm keys set {provider_id}`",
                provider=provider_id,
            )
        return key

    async def _from_keyring(self, provider_id: str) -> str | None:
        cached = self._keyring_cache.get(provider_id)
        if cached and time.monotonic() - cached[0] < _KEYRING_TTL:
            return cached[1]
        value = await asyncio.to_thread(_keyring_get, provider_id)
        self._keyring_cache[provider_id] = (time.monotonic(), value)
        return value

    async def _from_cmd(self, provider_id: str, command: str) -> str:
        cached = self._cmd_cache.get(command)
        if cached and time.monotonic() - cached[0] < _CMD_TTL:
            return cached[1]
        proc = await asyncio.create_subprocess_shell(
            command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), _CMD_TIMEOUT)
        except TimeoutError:
            proc.kill()
            raise AuthError(
                f"providers.{provider_id}.api_key_cmd did not finish in {_CMD_TIMEOUT:.0f} s",
                provider=provider_id,
            ) from None
        value = out.decode(errors="replace").strip()
        if proc.returncode != 0 or not value:
            raise AuthError(
                f"providers.{provider_id}.api_key_cmd failed (exit {proc.returncode}) or printed "
                "nothing; run it by hand to see why",
                provider=provider_id,
            )
        self._cmd_cache[command] = (time.monotonic(), value)
        return value


def _keyring_get(provider_id: str) -> str | None:
    try:
        import keyring

        value = keyring.get_password(KEYRING_SERVICE, provider_id)
    except Exception:
        # No backend (a headless box), a locked one, or a broken one: fall through to env.
        return None
    return value or None
