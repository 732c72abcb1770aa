"""Small file helpers shared by the stages."""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from scenegan.errors import UserError


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _temporary_name(path: Path) -> Path:
    """`.<name>.<pid>.tmp` beside `path`: hidden, matches no `*.h5` / `*.pt` glob, one per process.

    Writers that choose a format from the suffix (Pillow, PyAV, matplotlib) are told the format.
    """
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


@contextlib.contextmanager
def atomic_path(path: Path | str, *, fsync: bool = False) -> Iterator[Path]:
    """A temporary path beside `path` for a writer that takes a file name (h5py, PyAV, Pillow).

    On success it is renamed over `path`; on any error it is removed and `path` is left as it
    was, so a full disk or a crash never leaves a half-written file. `fsync` flushes the data to
    disk before the rename.
    """
    path = Path(path)
    tmp = _temporary_name(path)
    try:
        yield tmp
        if fsync:
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as error:
        tmp.unlink(missing_ok=True)
        if isinstance(error, OSError) and error.filename in (str(tmp), tmp):
            error.filename = str(path)  # the user asked for `path`; the temporary name is ours
        raise


@contextlib.contextmanager
def atomic_write(path: Path | str, mode: str = "wb", *, fsync: bool = False) -> Iterator[IO]:
    """`atomic_path`, opened: write to the handle; the file appears at `path` when it closes."""
    with atomic_path(path) as tmp, open(tmp, mode) as handle:
        yield handle
        if fsync:
            handle.flush()
            os.fsync(handle.fileno())


def atomic_write_text(path: Path | str, text: str) -> None:
    """Write `text` to `path` through a temporary file and a rename."""
    with atomic_write(path, "w") as handle:
        handle.write(text)


def atomic_write_bytes(path: Path | str, data: bytes) -> None:
    """Write `data` to `path` through a temporary file and a rename."""
    with atomic_write(path, "wb") as handle:
        handle.write(data)


def cache_dir() -> Path:
    """Downloaded weights and cached features: $SCENEGAN_CACHE, else ~/.cache/scenegan."""
    return Path(os.environ.get("SCENEGAN_CACHE") or Path.home() / ".cache" / "scenegan")


def writable_folder(path: Path | str, option: str) -> Path:
    """Make `path` (and its parents) if needed and check files can be written in it.

    Anything in the way (a file of that name, a read-only folder) is a UserError naming the
    option, before any work is done.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserError(f"{option} {path} is a file; give a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"{option} {path}: cannot make the folder ({error.strerror})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise UserError(f"{option} {path}: the folder is not writable")
    return path


LOCK_NAME = ".scenegan.lock"


@contextlib.contextmanager
def folder_lock(folder: Path | str, command: str) -> Iterator[None]:
    """Hold an exclusive lock on `folder` while `command` writes into it.

    A second command into the same folder at the same time is a UserError, not two writers
    mixing their files. The lock is an flock on `<folder>/.scenegan.lock`, so a killed process
    never leaves a stale lock behind.
    """
    import fcntl

    folder = Path(folder)
    handle = open(folder / LOCK_NAME, "a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise UserError(
                f"{folder} is in use by {holder}; wait for it to finish or use another folder"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"scenegan {command} (pid {os.getpid()})\n")
        handle.flush()
        yield
    finally:
        handle.close()
