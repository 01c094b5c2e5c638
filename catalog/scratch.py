"""Our temporaries: every file onething writes for a while (an upload streamed to disk, a held
submission spooled back, a publish's work files, a sheet) lives in one folder per process,
`<root>/<pid>`, under one root: `$ONETHING_TMPDIR`, else `onething-<uid>` in the system's
temporary directory.

A process holds a lock on its folder's `.owner` file for as long as it lives; the kernel lets go
of it however the process ends, `kill -9` included. `sweep()`, run when the service starts,
removes every folder whose lock nobody holds, so what a killed process left is gone at the next
start, and nothing a living one uses is touched.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
import shutil
import tempfile
import threading
import time
from pathlib import Path

log = logging.getLogger("onething.scratch")

OWNER = ".owner"
LEGACY = ("onething-upload-", "onething-held-", "onething-publish-", "onething-page-", "onething-sheet-")
"""What earlier releases left straight in the system's temporary directory."""
LEGACY_AGE = 24 * 3600
"""Seconds one of those must have been left untouched before a sweep removes it."""

_lock = threading.Lock()
_held: tuple[int, Path, int] | None = None
"""(pid, folder, fd of its locked `.owner`) of this process."""


def root() -> Path:
    configured = os.environ.get("ONETHING_TMPDIR")
    if configured:
        return Path(configured)
    return Path(tempfile.gettempdir()) / f"onething-{os.getuid()}"


def folder() -> Path:
    """This process's folder, made (and locked) on first use, and again if someone removed it."""
    global _held
    pid = os.getpid()
    with _lock:
        if _held is not None and _held[0] == pid and (_held[1] / OWNER).exists():
            return _held[1]
        if _held is not None:  # a forked child's copy of its parent's, or a folder removed under us
            os.close(_held[2])
            _held = None
        base = _root_made()
        path = base / str(pid)
        while True:
            path.mkdir(mode=0o700, exist_ok=True)
            fd = os.open(path / OWNER, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:  # a sweep holds it while removing it: take another name
                os.close(fd)
                path = base / f"{pid}-{secrets.token_hex(4)}"
        _held = (pid, path, fd)
        return path


def _root_made() -> Path:
    base = root()
    base.mkdir(mode=0o700, parents=True, exist_ok=True)
    if base.stat().st_uid != os.getuid():
        raise PermissionError(f"{base} belongs to another user: set ONETHING_TMPDIR to a folder of ours")
    return base


def sweep() -> int:
    """Remove the folders of processes that are gone (and, from earlier releases, temporaries
    left in the system's temporary directory for a day). Returns how many were removed."""
    removed = 0
    freed = 0
    base = root()
    if base.is_dir():
        for entry in sorted(base.iterdir()):
            if entry.is_symlink() or not entry.is_dir():
                continue
            size = _remove_if_abandoned(entry)
            if size is not None:
                removed += 1
                freed += size
    removed_legacy, freed_legacy = _sweep_legacy()
    removed += removed_legacy
    freed += freed_legacy
    if removed:
        log.warning(
            "removed %d temporary folder(s) or file(s) left by stopped processes (%.1f MB)",
            removed,
            freed / 1e6,
        )
    return removed


def _remove_if_abandoned(path: Path) -> int | None:
    """The bytes removed, or None when `path` is in use (its `.owner` locked, or, without one, a
    living process of its name)."""
    try:
        fd = os.open(path / OWNER, os.O_RDWR)
    except FileNotFoundError:
        if _alive(path.name.split("-")[0]):
            return None
        size = _size(path)
        shutil.rmtree(path, ignore_errors=True)
        return size
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    try:  # removed while locked: a new process of the same pid takes another name meanwhile
        size = _size(path)
        shutil.rmtree(path, ignore_errors=True)
        return size
    finally:
        os.close(fd)


def _alive(pid: str) -> bool:
    if not pid.isdigit():
        return True  # not one of ours: leave it
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _size(path: Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, name)).st_size
    return total


def _sweep_legacy() -> tuple[int, int]:
    system = Path(tempfile.gettempdir())
    removed = freed = 0
    cutoff = time.time() - LEGACY_AGE
    try:
        entries = list(os.scandir(system))
    except OSError:
        return 0, 0
    for entry in entries:
        if not entry.name.startswith(LEGACY):
            continue
        try:
            stat = entry.stat(follow_symlinks=False)
            if stat.st_uid != os.getuid() or stat.st_mtime > cutoff:
                continue
            if entry.is_dir(follow_symlinks=False):
                freed += _size(Path(entry.path))
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                freed += stat.st_size
                os.unlink(entry.path)
            removed += 1
        except OSError:
            continue
    return removed, freed
