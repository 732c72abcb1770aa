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


@contextlib.contextmanager
def atomic_write(path: Path | str, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file beside `path` for writing; rename it over `path` on success.

    On any error the temporary file is removed and `path` is left as it was, so a full disk or
    a read-only folder never leaves a half-written file. The temporary name keeps the suffix
    last (`.name.tmp.gif`) for writers that pick a format from it.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    try:
        with open(tmp, mode) as handle:
            yield handle
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path | str, text: str) -> None:
    """Write `text` to `path` through a temporary file and a rename."""
    with atomic_write(path, "w") as handle:
        handle.write(text)


def atomic_write_bytes(path: Path | str, data: bytes) -> None:
    """Write `data` to `path` through a temporary file and a rename."""
    with atomic_write(path, "wb") as handle:
        handle.write(data)


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
