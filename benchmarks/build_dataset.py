"""Speed of `scenegan build-dataset` against plain PyAV decode + resize of the same files.

    python benchmarks/build_dataset.py [--videos ../shared/scenery] [--repeat 1]

Prints one table: seconds, source frames per second and ratios for (a) decoding alone, (b) plain
decode of every frame to gray + area resize to 80 x 45, (c) the full build with 1 worker and
(d) with 2 workers.
The build's own work (crop, fps resampling, filters, writing) should cost little next to decode.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import av
import cv2

from scenegan.clip_format import CLIP
from scenegan.pipeline.build import BuildConfig, build_dataset
from scenegan.pipeline.sources import folder_sources

DEFAULT_VIDEOS = Path(
    os.environ.get(
        "SCENEGAN_SCENERY", Path(__file__).resolve().parents[1] / ".." / "shared" / "scenery"
    )
)


def plain_decode(path: Path) -> int:
    """Decode every frame of `path` to gray and area-resize it; return the frame count."""
    count = 0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        # One decoding thread, as each build worker uses by default (--decoder-threads 1).
        for frame in container.decode(stream):
            gray = frame.to_ndarray(format="gray")
            cv2.resize(gray, (CLIP.width, CLIP.height), interpolation=cv2.INTER_AREA)
            count += 1
    return count


def decode_only(path: Path) -> int:
    """Decode every frame and touch nothing: the floor under any build."""
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(container.streams.video[0]))


def timed(function, *args) -> tuple[float, object]:
    start = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - start, result


def plain_decode_all(paths: list[Path], workers: int) -> int:
    if workers == 1:
        return sum(plain_decode(p) for p in paths)
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        return sum(pool.map(plain_decode, paths, chunksize=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=Path, default=DEFAULT_VIDEOS)
    parser.add_argument("--repeat", type=int, default=1, help="take the best of this many runs")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    paths = [s.path for s in folder_sources(args.videos)]
    # Largest first, as the build schedules them.
    paths.sort(key=lambda p: -p.stat().st_size)

    rows = [
        (
            "decode only (no conversion), 1 process",
            min(timed(lambda: sum(decode_only(p) for p in paths))[0] for _ in range(args.repeat)),
        )
    ]
    n_frames = 0
    for workers in (1, 2):
        best = min(timed(plain_decode_all, paths, workers) for _ in range(args.repeat))
        n_frames = best[1]
        rows.append((f"plain decode + resize, {workers} process(es)", best[0]))
    for workers in (1, 2):
        times = []
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as tmp:
                config = replace(
                    BuildConfig(videos=args.videos, out=Path(tmp) / "ds"), workers=workers
                )
                times.append(timed(build_dataset, config)[0])
        rows.append((f"full build, {workers} worker(s)", min(times)))

    decode, plain_1, plain_2, build_1, build_2 = (seconds for _, seconds in rows)
    print(f"\n{len(paths)} files, {n_frames} source frames, {os.cpu_count()} cores\n")
    print(f"{'what':40s} {'seconds':>8s} {'frames/s':>9s}")
    for name, seconds in rows:
        print(f"{name:40s} {seconds:8.2f} {n_frames / seconds:9.0f}")
    print()
    print(f"build / plain decode, 1 worker : {plain_1 / build_1:5.2f}  (aim >= 0.85)")
    print(f"build 2 workers / 1 worker     : {build_1 / build_2:5.2f}  (aim >= 1.7)")
    print(f"plain 2 processes / 1 process  : {plain_1 / plain_2:5.2f}")
    print(f"build / decode only, 1 worker  : {decode / build_1:5.2f}  (the build's own cost)")


if __name__ == "__main__":
    main()
