"""What a run may ask of this machine: memory for a training step, sizes a GIF or H.264 file
can hold. Checked before the work starts, so a request that cannot fit ends in one line that
names the limit, not in the allocator's traceback (or the kernel's OOM killer) minutes later."""

from __future__ import annotations

from pathlib import Path

from scenegan.clip_format import ClipFormat
from scenegan.errors import UserError, size_text

# Peak bytes a CPU training step holds per clip element (frames x rows x columns x channels)
# of the stage's clips, measured with one step at batch sizes 2..16 (ru_maxrss): euler and flow
# about 550-850, keras2019 1080-1200; the largest is taken.
STEP_BYTES_PER_ELEMENT = 1200
# The share of the available memory one step may plan to take: allocator slack and temporaries
# grow with the batch (a step at 512 clips failed at 7.3 GB on a 23 GB machine).
STEP_SHARE = 0.7


def available_memory() -> int | None:
    """Bytes this process could still allocate: MemAvailable, or less under a cgroup limit;
    None where neither can be read (not Linux)."""
    found = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = int(Path("/sys/fs/cgroup/memory.current").read_text())
        if limit != "max":
            found.append(max(int(limit) - used, 0))
    except (OSError, ValueError):
        pass
    return min(found) if found else None


def check_training_batch(
    batch_size: int, clip: ClipFormat, device: str, scale: float = 1.0
) -> None:
    """A CPU training step of `batch_size` clips of `clip` (the stage's format) that would need
    more than STEP_SHARE of the available memory is a UserError naming the largest batch that
    fits (`scale`: how many times the default network's activations a clip takes). On a GPU,
    where running out raises an error the CLI maps to one line instead of waking the OOM
    killer, nothing is checked here."""
    if device not in ("cpu", "auto") or (device == "auto" and _has_cuda()):
        return
    available = available_memory()
    if available is None:
        return
    per_clip = int(clip.n_bytes * STEP_BYTES_PER_ELEMENT * scale)
    if batch_size * per_clip <= STEP_SHARE * available:
        return
    fits = int(STEP_SHARE * available // per_clip)
    advice = f"use --batch-size {fits} or less" if fits >= 2 else "use a machine with more memory"
    raise UserError(
        f"--batch-size {batch_size}: a training step on {clip.describe()} clips needs about "
        f"{size_text(batch_size * per_clip)} ({size_text(per_clip)} a clip), more than "
        f"{STEP_SHARE:.0%} of the {size_text(available)} of memory available; {advice}"
    )


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()
