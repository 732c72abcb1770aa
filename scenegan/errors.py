"""The one exception a user can cause: the CLI prints its message on one line and exits 1; and
the one mapping of what the machine refuses (disk space, rights, memory) to such a line."""

from __future__ import annotations

import errno
import re
import shutil
from pathlib import Path


class UserError(Exception):
    """Bad input or state the user can fix (missing file, wrong checkpoint, no API key, ...).

    Library code raises it with a message that says what to do; `scenegan.cli.main` turns it
    into `error: <message>` on stderr and exit status 1, never a traceback.
    """


# What the machine refused, by errno. Libraries report these in their own ways (h5py and torch
# raise RuntimeError quoting the errno, or only "unexpected pos"), so they are told by kind here,
# not by the class of the exception.
REASONS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "the disk quota is used up",
    errno.EFBIG: "file too large for the file system or the file size limit (ulimit -f)",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.ENOMEM: "out of memory",
    errno.EIO: "input/output error (a failing disk or a lost network mount)",
}
_HINTS = {
    errno.ENOSPC: "free some space or write elsewhere",
    errno.EDQUOT: "free some space or write elsewhere",
    errno.EROFS: "write elsewhere",
    errno.EACCES: "check its permissions",
    errno.EPERM: "check its permissions",
}
# "errno = 28" (HDF5's error stack, as h5py quotes it) or "Error code 12" (torch's allocator).
_QUOTED_ERRNO = re.compile(r"errno = (\d+)|[Ee]rror code (\d+)")
_QUOTED_FILE = re.compile(r"filename = '([^']+)'")
# torch's CPU allocator: "you tried to allocate 7823458304 bytes"; CUDA: "Tried to allocate
# 2.00 GiB"; numpy: "Unable to allocate 4.29 GiB for an array with shape ...".
_ALLOCATION = re.compile(
    r"(?:tried to allocate|Unable to allocate)\s+([\d.]+)\s*(bytes|[KMGTPE]i?B)", re.IGNORECASE
)
_OUT_OF_MEMORY = ("out of memory", "can't allocate memory", "unable to allocate")


def size_text(n_bytes: float) -> str:
    """7823458304 -> `7.3 GB` (binary units, as `free -h` and torch print them)."""
    for unit in ("bytes", "KB", "MB", "GB", "TB", "PB", "EB"):
        if n_bytes < 1024 or unit == "EB":
            return f"{n_bytes:.0f} {unit}" if unit == "bytes" else f"{n_bytes:.1f} {unit}"
        n_bytes /= 1024
    raise AssertionError("unreachable")


def _allocation(text: str) -> str | None:
    match = _ALLOCATION.search(text)
    if match is None:
        return None
    number, unit = float(match.group(1)), match.group(2).upper().replace("I", "")
    scale = 1024 ** ("BKMGTPE".index(unit[0]) if unit != "BYTES" else 0)
    return size_text(number * scale)


def _free_space(path: str | None) -> str:
    """`: it needs more than the 3.1 MB free there` (measured once the partial file is gone),
    for a disk that filled up; empty if it cannot be told."""
    if not path:
        return ""
    for folder in (Path(path).parent, *Path(path).parents):
        try:
            free = shutil.disk_usage(folder).free
            return f": it needs more than the {size_text(free)} free there"
        except OSError:
            continue
    return ""


def _user_path(path: str) -> str:
    """The name a user gave, not the temporary `.<name>.<pid>.tmp` (a file, or a folder such as
    a report being made) it was written under."""
    return re.sub(r"(^|/)\.([^/]+)\.\d+\.tmp(?=/|$)", r"\1\2", path)


def resource_error(error: BaseException) -> UserError | None:
    """One line for a refusal of the machine, whatever library raised it: a full disk, a
    read-only or forbidden folder, a file size limit, memory that ran out. It names the file
    (and the space left) or the size that could not be allocated. None for any other error."""
    text = str(error)
    if isinstance(error, MemoryError) or (
        isinstance(error, RuntimeError) and any(t in text.lower() for t in _OUT_OF_MEMORY)
    ):
        size = _allocation(text)
        what = f"could not allocate {size}" if size else "ran out"
        return UserError(f"out of memory: {what}; ask for less (fewer or smaller at once)")
    code = error.errno if isinstance(error, OSError) else None
    path = getattr(error, "filename", None)
    if isinstance(error, OSError | RuntimeError):
        quoted = _QUOTED_ERRNO.search(text)
        if code not in REASONS and quoted is not None:
            code = int(quoted.group(1) or quoted.group(2))
        if path is None and (named := _QUOTED_FILE.search(text)):
            path = named.group(1)
    if code not in REASONS:
        return None
    if code == errno.ENOMEM:
        return UserError("out of memory; ask for less (fewer or smaller at once)")
    where = f"{_user_path(str(path))}: " if path else ""
    reason = REASONS[code]
    if code in (errno.ENOSPC, errno.EDQUOT):
        reason += _free_space(str(path) if path else None)
    hint = f"; {_HINTS[code]}" if code in _HINTS else ""
    return UserError(f"{where}{reason}{hint}")
