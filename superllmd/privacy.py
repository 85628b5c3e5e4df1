"""Keep superllm's files to their owner. Stdlib only: the CLI's autostart uses it too.

Prompts and answers live in the ledger, keys may sit in the config's ``api_key_cmd``, and the
log names models and errors: no other local user may read any of them. So every folder
superllm owns is 0700 and every file in it 0600 (the owner's execute bit is kept, for
plugins). :func:`prepare` creates the folders that way, and tightens what an older version or
a careless ``cp`` left open, returning a one-line notice to show the user. The daemon also runs
under ``umask 077`` (see ``superllmd.server.main``), so SQLite's ``-wal``/``-shm`` files, the
log and the caches are born private.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from superllmd.errors import UsageError
from superllmd.paths import Paths

__all__ = ["PRIVATE_UMASK", "mkdir_private", "open_private", "prepare", "tighten", "write_private"]

PRIVATE_UMASK = 0o077


def _folders(paths: Paths) -> list[Path]:
    return [paths.config_dir, paths.data_dir, paths.state_dir, paths.runtime_dir, paths.cache_dir]


def _what_to_do(path: Path) -> str:
    home = os.environ.get("SUPERLLM_HOME")
    if home:
        return f"set SUPERLLM_HOME (now {home}) to a folder you can write"
    return f"fix {path} or set SUPERLLM_HOME to a folder you can write"


def mkdir_private(path: Path) -> None:
    """Create ``path`` and any missing parents 0700; refuse a path that cannot be a folder."""
    missing: list[Path] = []
    probe = path
    while not probe.exists() and not probe.is_symlink():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise UsageError(
            f"{probe} is a file, but superllm needs a folder there; {_what_to_do(probe)}"
        )
    for folder in reversed(missing):
        try:
            os.mkdir(folder, 0o700)
        except FileExistsError:  # a racing client made it first
            pass
        except OSError as exc:
            reason = "permission denied" if exc.errno in (errno.EACCES, errno.EPERM) else exc
            raise UsageError(f"cannot create {folder} ({reason}); {_what_to_do(folder)}") from None
    if not path.is_dir():
        raise UsageError(f"{path} is not a folder; {_what_to_do(path)}")
    if not os.access(path, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write in {path} (permission denied); {_what_to_do(path)}")


def _tighten_one(path: Path, st: os.stat_result, private: int) -> bool:
    if st.st_uid != os.getuid() or not st.st_mode & 0o077:
        return False
    try:
        os.chmod(path, stat.S_IMODE(st.st_mode) & private)
    except OSError:  # vanished, or on a file system without modes: nothing we can do
        return False
    return True


def tighten(paths: Paths) -> list[Path]:
    """Make every folder and file under superllm's folders private; return what changed."""
    changed: list[Path] = []
    for root in _folders(paths):
        if not root.is_dir():
            continue
        for folder, dirs, files in os.walk(root):
            here = Path(folder)
            if _tighten_one(here, here.lstat(), 0o700):
                changed.append(here)
            for name in files:
                file = here / name
                try:
                    st = file.lstat()
                except OSError:
                    continue
                if stat.S_ISLNK(st.st_mode):  # never chmod through a link to someone else's file
                    continue
                if _tighten_one(file, st, 0o700 if st.st_mode & 0o100 else 0o600):
                    changed.append(file)
            dirs[:] = [d for d in dirs if not (here / d).is_symlink()]
    return changed


def prepare(paths: Paths) -> str | None:
    """Create superllm's folders private and tighten loose ones.

    Returns a one-line notice when something had to be tightened, else None. Raises
    UsageError (exit 2) naming the folder when one cannot be created or written.
    """
    for folder in _folders(paths):
        mkdir_private(folder)
    if paths.socket.is_dir() and not paths.socket.is_symlink():
        raise UsageError(
            f"{paths.socket} is a folder, but the daemon's socket goes there; remove it "
            f"(rmdir {paths.socket}) and try again"
        )
    changed = tighten(paths)
    if not changed:
        return None
    shown = ", ".join(str(p) for p in changed[:3]) + (" ..." if len(changed) > 3 else "")
    return f"made {len(changed)} superllm file(s) private that other users could read ({shown})"


def open_private(path: Path, flags: int = os.O_RDWR | os.O_CREAT | os.O_APPEND) -> int:
    """``os.open`` that creates ``path`` 0600 whatever the umask; returns the descriptor."""
    fd = os.open(path, flags | os.O_CLOEXEC, 0o600)
    st = os.fstat(fd)
    if st.st_mode & 0o077 and st.st_uid == os.getuid():
        os.fchmod(fd, 0o600)
    return fd


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` as a 0600 file whatever the umask (the CLI, unlike the
    daemon, runs under the user's own)."""
    fd = open_private(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
