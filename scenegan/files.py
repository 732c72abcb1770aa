"""Atomic writes, output folders, locks and the cache folder that every stage shares."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import os
import shutil
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


# errno values of a write that failed for lack of room or right: the file being written is the one
# to name, even where the library that wrote it named none (or its temporary name).
WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO})


@contextlib.contextmanager
def atomic_path(path: Path | str, *, fsync: bool = False) -> Iterator[Path]:
    """A temporary path beside `path` for a writer that takes a file name (PyAV, Pillow).

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
        if isinstance(error, OSError) and (
            error.filename in (str(tmp), tmp)
            or (error.filename is None and error.errno in WRITE_ERRNOS)
        ):
            error.filename = str(path)  # the user asked for `path`; the temporary name is ours
        raise


class KeepGoingFile(io.RawIOBase):
    """A new binary file whose writes never fail in the writer's eyes: the first OSError
    (ENOSPC, EFBIG, EIO, ...) is kept, later writes are dropped, and `check()` raises it once
    the writer is done.

    Some writers do not survive a failed write well: torch.save reports only "unexpected pos"
    (a RuntimeError with no errno and no file), and HDF5 writing to a Python file crashes the
    process at exit after one. Through this file they finish normally, and the failure comes out
    as the OSError it was, with its errno. Writes are unbuffered (one pwrite each).
    """

    def __init__(self, path: Path | str) -> None:
        super().__init__()
        self.path = str(path)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o666)
        self.position = self.size = 0
        self.error: OSError | None = None

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.fd

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        if self.error is None:
            try:
                done = 0
                while done < len(view):  # a short write is followed by the failing one
                    done += os.pwrite(self.fd, view[done:], self.position + done)
            except OSError as error:
                self.error = error
        self.position += len(view)
        self.size = max(self.size, self.position)
        return len(view)

    def readinto(self, buffer) -> int:
        data = os.pread(self.fd, len(buffer), self.position)
        memoryview(buffer).cast("B")[: len(data)] = data
        self.position += len(data)
        return len(data)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self.position, os.SEEK_END: self.size}[whence]
        self.position = base + offset
        return self.position

    def tell(self) -> int:
        return self.position

    def truncate(self, size: int | None = None) -> int:
        size = self.position if size is None else size
        if self.error is None:
            try:
                os.ftruncate(self.fd, size)
            except OSError as error:
                self.error = error
        self.size = size
        return size

    def sync(self) -> None:
        """fsync, kept as the error if it fails (a full disk can show only here)."""
        if self.error is None:
            try:
                os.fsync(self.fd)
            except OSError as error:
                self.error = error

    def check(self) -> None:
        """Raise the first failure of a write, naming the file."""
        if self.error is not None:
            error = self.error
            raise OSError(error.errno, error.strerror, self.path) from None

    def close(self) -> None:
        if not self.closed:
            os.close(self.fd)
        super().close()


@contextlib.contextmanager
def atomic_write(path: Path | str, mode: str = "wb", *, fsync: bool = False) -> Iterator[IO]:
    """`atomic_path`, opened: write to the handle; the file appears at `path` when it closes.

    A binary handle is a KeepGoingFile: whatever library writes to it, a failed write ends in
    the OSError it was (naming `path`), not in the library's own error or crash.
    """
    with atomic_path(path) as tmp:
        if "b" not in mode:
            with open(tmp, mode) as handle:
                yield handle
                if fsync:
                    handle.flush()
                    os.fsync(handle.fileno())
            return
        handle = KeepGoingFile(tmp)
        try:
            yield handle
            if fsync:
                handle.sync()
        except BaseException:
            handle.check()  # the writer's own error came from a failed write: that is the cause
            raise
        finally:
            handle.close()
        handle.check()


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
    folder = Path(folder)
    with _flock(folder / LOCK_NAME, folder, command):
        yield


@contextlib.contextmanager
def output_lock(path: Path | str, command: str) -> Iterator[None]:
    """Hold an exclusive lock on an output that is replaced as a whole (a file, or a folder
    renamed into place), while `command` makes it: the lock file `.<name>.lock` lives beside it,
    where the replacement does not move it. A second writer of the same output is a UserError."""
    path = Path(path)
    with _flock(path.with_name(f".{path.name}.lock"), path, command):
        yield


@contextlib.contextmanager
def output_folder(path: Path | str, option: str, command: str, *, lock_file: bool = True):
    """The output folder of `command`: made if needed (`writable_folder`), locked while the
    command writes into it (`folder_lock`, or `directory_lock` with lock_file False), and, if
    this call made it and the command fails before writing anything, removed again."""
    path = Path(path)
    made = not path.exists()
    folder = writable_folder(path, option)
    try:
        with (folder_lock if lock_file else directory_lock)(folder, command):
            yield folder
    except BaseException:
        if made:
            (folder / LOCK_NAME).unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                folder.rmdir()  # only if empty
        raise


@contextlib.contextmanager
def directory_lock(folder: Path | str, command: str) -> Iterator[None]:
    """`folder_lock` without a lock file: an flock on the folder itself, for folders people
    browse (sample's GIFs), where a `.scenegan.lock` would be one more file among theirs. It
    cannot say which process holds it."""
    import fcntl

    folder = Path(folder)
    handle = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserError(
                f"{folder} is in use by another scenegan {command}; wait for it to finish or "
                "write elsewhere"
            ) from None
        yield
    finally:
        os.close(handle)


@contextlib.contextmanager
def _flock(lock_file: Path, what: Path, command: str) -> Iterator[None]:
    import fcntl

    try:
        handle = open(lock_file, "a+")
    except OSError as error:
        reason = error.strerror
        raise UserError(f"{what}: cannot make its lock file {lock_file} ({reason})") from None
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise UserError(
                f"{what} is in use by {holder}; wait for it to finish or write elsewhere"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"scenegan {command} (pid {os.getpid()})\n")
        handle.flush()
        yield
    finally:
        handle.close()


def same_file(a: Path | str, b: Path | str) -> bool:
    """Whether two paths name one file or folder (links and `..` included); False if either is
    missing and their resolved paths differ."""
    a, b = Path(a), Path(b)
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def is_within(path: Path | str, folder: Path | str) -> bool:
    """Whether `path` is `folder` or lies anywhere under it (links resolved)."""
    path, folder = Path(path).resolve(), Path(folder).resolve()
    return path == folder or folder in path.parents


@contextlib.contextmanager
def atomic_folder(path: Path | str) -> Iterator[Path]:
    """A new temporary folder beside `path` to write a set of files into; on success it takes
    the place of `path` as a whole (an earlier folder there is swapped out in one rename where
    Linux allows, then removed), on any error it is removed and `path` is left as it was. A
    reader sees the old set or the new one, never a mix or a half."""
    path = Path(path)
    tmp = _temporary_name(path)
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir(parents=True)
        yield tmp
        if path.is_dir() and not path.is_symlink():
            if _exchange(tmp, path):
                shutil.rmtree(tmp)  # now the earlier folder
                return
            old = path.with_name(f".{path.name}.{os.getpid()}.old")
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    done = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return done == 0
