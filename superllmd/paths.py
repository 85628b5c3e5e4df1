"""Where superllm keeps its files. Stdlib only: the CLI imports this on its fast path.

``SUPERLLM_HOME`` puts everything under one folder (tests use it)::

    $SUPERLLM_HOME/config/config.toml
    $SUPERLLM_HOME/data/ledger.sqlite3, models/
    $SUPERLLM_HOME/state/superllmd.log
    $SUPERLLM_HOME/run/superllmd.sock, superllmd.lock, spawn.lock
    $SUPERLLM_HOME/cache/models/PROVIDER.json   (model lists fetched by `models --refresh`)

Without it, config, data and state follow platformdirs, and the runtime folder is
``/tmp/superllm-<uid>``. The runtime folder deliberately ignores ``XDG_RUNTIME_DIR``: a cron
job or a systemd unit has a poorer environment than a login shell, and every one of them must
find the same socket (tmux makes the same choice).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from superllmd.errors import UsageError
from superllmd.records import record

__all__ = ["MAX_SOCKET_PATH", "Paths", "daemon_paths", "ensure_private_dir", "get_paths"]

APP = "superllm"
# sun_path is 108 bytes on Linux and 104 on macOS; keep a margin.
MAX_SOCKET_PATH = 100


@record(frozen=True)
class Paths:
    config_dir: Path
    data_dir: Path
    state_dir: Path
    runtime_dir: Path
    #: Files that can be fetched again (providers' model lists); None: under ``state_dir``.
    cache: Path | None = None

    @property
    def cache_dir(self) -> Path:
        return self.cache if self.cache is not None else self.state_dir / "cache"

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"

    @property
    def ledger(self) -> Path:
        return self.data_dir / "ledger.sqlite3"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "superllmd.log"

    @property
    def socket(self) -> Path:
        return self.runtime_dir / "superllmd.sock"

    @property
    def daemon_lock(self) -> Path:
        """Held by the running daemon for its whole life."""
        return self.runtime_dir / "superllmd.lock"

    @property
    def spawn_lock(self) -> Path:
        """Held by a client while it starts a daemon, so racing clients start one."""
        return self.runtime_dir / "spawn.lock"


def get_paths(environ: os._Environ[str] | dict[str, str] | None = None) -> Paths:
    env = os.environ if environ is None else environ
    home = env.get("SUPERLLM_HOME")
    if home:
        root = Path(home).expanduser().absolute()
        paths = Paths(root / "config", root / "data", root / "state", root / "run", root / "cache")
        hint = "Use a shorter SUPERLLM_HOME."
    else:
        import platformdirs  # small, and only needed off the tests' path

        paths = Paths(
            Path(platformdirs.user_config_dir(APP, appauthor=False)),
            Path(platformdirs.user_data_dir(APP, appauthor=False)),
            Path(platformdirs.user_state_dir(APP, appauthor=False)),
            Path("/tmp") / f"{APP}-{os.getuid()}",
            Path(platformdirs.user_cache_dir(APP, appauthor=False)),
        )
        hint = "Set SUPERLLM_HOME to a short folder."
    if len(os.fsencode(paths.socket)) > MAX_SOCKET_PATH:
        raise UsageError(
            f"the socket path {paths.socket} is longer than {MAX_SOCKET_PATH} bytes, "
            f"which Unix sockets cannot hold. {hint}"
        )
    return paths


def ensure_private_dir(path: Path) -> None:
    """Create ``path`` as 0700 (and any missing parents: ``Path.mkdir`` would make those
    0755), and refuse one that another user owns or can write."""
    from superllmd.privacy import mkdir_private

    mkdir_private(path)
    st = path.lstat()
    if not stat.S_ISDIR(st.st_mode):
        raise UsageError(f"{path} should be a folder; move it away and try again.")
    if st.st_uid != os.getuid():
        raise UsageError(f"{path} belongs to another user; remove it or set SUPERLLM_HOME.")
    if st.st_mode & 0o077:
        os.chmod(path, 0o700)


def daemon_paths(paths: Paths) -> dict[str, str]:
    """The files a daemon works with, as ``/v1/health`` reports them and clients compare."""
    return {
        "config": str(paths.config_file),
        "ledger": str(paths.ledger),
        "log": str(paths.log_file),
        "socket": str(paths.socket),
    }
