"""Run scenegan commands against a full disk and report what they left, as JSON on stdout.

    python tests/full_disk.py SPEC.json

SPEC names the folder to write in (`disk`), how the disk is made full (`mode`), and the inputs
(a dataset, a training state, a video). test_bad_input.py runs this script in a subprocess:
- mode "tmpfs": `disk` is a small tmpfs of its own (mounted in a private mount namespace by
  `unshare`), so writes fail with ENOSPC as on a real full disk; `readonly` is a read-only one;
- mode "fsize": no tmpfs could be mounted; RLIMIT_FSIZE makes writes past a size fail with
  EFBIG instead, the kernel's own refusal again.
For each command: an earlier output is made while there is room, the disk is then filled (or the
limit lowered), the command runs through `scenegan.cli.main`, and the script records its exit
code and output and the digests of the earlier output before and after.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import resource
import shutil
import sys
from pathlib import Path

from scenegan.cli import main

FILLER = ".filler"


def digests(folder: Path) -> dict[str, str]:
    """sha256 of every file under `folder`; the lock files, the filler, training's log of ticks
    (appended to, not replaced) and a build's resume state (.parts/, kept for the next run)
    aside."""
    if not folder.exists():
        return {}
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
        and not p.name.endswith(".lock")
        and p.name not in (FILLER, "stats.jsonl")
        and ".parts" not in p.parts
    }


def leftovers(disk: Path) -> list[str]:
    """Temporary files or folders a failed write left behind."""
    names = (".tmp", ".old", ".staging")
    return sorted(str(p.relative_to(disk)) for p in disk.rglob("*") if p.name.endswith(names))


def run(args: list) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
    return code, out.getvalue() + err.getvalue()


@contextlib.contextmanager
def full(disk: Path, mode: str, room: int):
    """Leave `room` bytes that can still be written on `disk` while the block runs."""
    if mode == "tmpfs":
        filler = disk / FILLER
        free = shutil.disk_usage(disk).free
        with open(filler, "wb") as handle:
            handle.write(b"\0" * max(free - room, 0))
        try:
            yield
        finally:
            filler.unlink()
    else:
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (room, hard))
        try:
            yield
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def case(name: str, disk: Path, mode: str, room: int, kept: Path, args: list) -> dict:
    before = digests(kept)
    with full(disk, mode, room):
        code, output = run(args)
    return {
        "case": name,
        "code": code,
        "output": output,
        "kept_before": before,
        "kept_after": digests(kept),
        "leftovers": leftovers(disk),
    }


def main_(spec: dict) -> list[dict]:
    disk, mode = Path(spec["disk"]), spec["mode"]
    dataset, state, video = Path(spec["dataset"]), Path(spec["state"]), Path(spec["video"])
    results = []

    export = disk / "export" / "generator.pt"  # an earlier export, then a new one that fails
    assert run(["export", state, export])[0] == 0
    results.append(case("export", disk, mode, 64 * 1024, export.parent, ["export", state, export]))

    run_folder = disk / "train"  # an earlier state at step 1; the step-2 state does not fit
    shutil.copytree(state.parent, run_folder)
    args = ["train", "--data", dataset, "--out", run_folder, "--steps", "2", "--batch-size", "2"]
    args += ["--threads", "1", "--no-tensorboard"]
    results.append(case("train", disk, mode, 256 * 1024, run_folder, args))

    report = disk / "report"  # an earlier report, then one with another seed that fails
    args = ["evaluate", "--data", dataset, "--out", report, "--no-fvd"]
    args += ["--checkpoint", "baseline:drift", "--n-clips", "4"]
    assert run([*args, "--seed", "1"])[0] == 0
    results.append(case("evaluate", disk, mode, 64 * 1024, report, [*args, "--seed", "2"]))

    samples = disk / "samples"  # earlier GIFs, then three more that do not fit
    args = ["sample", "--image", spec["photo"], "--out", samples, "--checkpoint", "baseline:drift"]
    assert run([*args, "--seed", "1"])[0] == 0
    results.append(case("sample", disk, mode, 4 * 1024, samples, [*args, "--n", "3"]))

    # build-dataset over an earlier dataset: once with no room for its first part file, once
    # with room for the parts but not for the new shards beside the earlier ones (staged).
    videos = disk / "videos"
    videos.mkdir()
    shutil.copy(video, videos / video.name)
    clips = disk / "clips"
    shutil.copytree(dataset, clips)
    args = ["build-dataset", "--videos", videos, "--out", clips, "--workers", "1"]
    results.append(case("build-dataset-parts", disk, mode, 16 * 1024, clips, args))
    if mode != "tmpfs":  # a file size limit cannot tell the parts from the shards
        return results
    measured = disk / "measured"
    assert run([*args[:-3], measured, "--workers", "1"])[0] == 0
    parts = sum(p.stat().st_size for p in (measured / ".parts").glob("*.h5"))
    shutil.rmtree(measured)
    shutil.rmtree(clips / ".parts", ignore_errors=True)
    results.append(case("build-dataset-shards", disk, mode, parts + 64 * 1024, clips, args))

    if spec.get("readonly"):  # a read-only file system (EROFS)
        readonly = Path(spec["readonly"])
        code, output = run(["export", state, readonly / "generator.pt"])
        kept = digests(readonly)
        results.append(
            {"case": "export-read-only", "code": code, "output": output, "kept_before": kept}
            | {"kept_after": kept, "leftovers": leftovers(readonly)}
        )
    return results


if __name__ == "__main__":
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    import torch

    torch.set_num_threads(1)
    print(json.dumps(main_(json.loads(Path(sys.argv[1]).read_text()))))
