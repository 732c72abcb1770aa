"""Per-video cost of `scenegan build-dataset` with its defaults, by stage, and the engines side
by side.

    python benchmarks/build_cost.py [--videos ../shared/scenery] [--every 1] [--workers 2]
    python benchmarks/build_cost.py --no-engines        # table 1 alone

Table 1: CPU milliseconds per source video, per source frame decoded and per written clip of
each stage of a default build (`--fps 12,native --crops 2`, the context), one worker, timed by
benchmarks/build_stages.py's per-stage clocks. Table 2: wall seconds of the whole build with
--engine local and --engine dask (a local cluster of --workers processes, its start-up
included). docs/scaling.md projects these to 100k videos.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import av
import cv2
from build_stages import STAGES, profile

from scenegan.config import BuildConfig
from scenegan.pipeline.build import build_dataset
from scenegan.pipeline.sources import folder_sources

DEFAULT_VIDEOS = Path(__file__).resolve().parents[1] / ".." / "shared" / "scenery"


def source_frames(videos: Path, every: int) -> int:
    """Frames the decoder gives for every `every`-th video (what decoding costs per frame)."""
    count = 0
    for source in folder_sources(videos)[::every]:
        try:
            with av.open(str(source.path)) as container:
                count += sum(
                    1 for packet in container.demux(container.streams.video[0]) if packet.size
                )
        except (av.error.FFmpegError, IndexError):
            continue
    return count


def engine_walls(videos: Path, workers: int) -> dict[str, float]:
    walls = {}
    with tempfile.TemporaryDirectory() as folder:
        base = BuildConfig(videos=videos, workers=workers)
        for engine in ("local", "dask"):
            started = time.perf_counter()
            build_dataset(replace(base, engine=engine, out=Path(folder) / engine))
            walls[engine] = time.perf_counter() - started
    return walls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=Path, default=DEFAULT_VIDEOS)
    parser.add_argument("--every", type=int, default=1, help="every Nth video of --videos")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--no-engines", action="store_true", help="table 1 alone")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    clock, stats, cpu, wall = profile(args.videos, args.every, {})
    videos, clips = stats["videos_found"], max(stats["clips_written"]["total"], 1)
    frames = source_frames(args.videos, args.every)
    print(
        f"{videos} videos, {frames} source frames, {clips} clips written (the defaults, "
        f"one worker): {cpu:.1f} CPU s, {wall:.1f} s wall"
    )
    print("| stage | CPU s | CPU ms per video | CPU ms per source frame | CPU ms per clip |")
    print("|---|---|---|---|---|")
    rest = cpu - sum(clock.cpu.values())
    for stage, seconds in [*((s, clock.cpu.get(s, 0.0)) for s in STAGES), ("the rest", rest)]:
        print(
            f"| {stage} | {seconds:.2f} | {1000 * seconds / videos:.1f} | "
            f"{1000 * seconds / frames:.3f} | {1000 * seconds / clips:.2f} |"
        )
    print(
        f"| all | {cpu:.2f} | {1000 * cpu / videos:.1f} | {1000 * cpu / frames:.3f} | "
        f"{1000 * cpu / clips:.2f} |"
    )
    if args.no_engines:
        return
    walls = engine_walls(args.videos, args.workers)
    print()
    print(f"| engine (--workers {args.workers}) | wall s | vs local |")
    print("|---|---|---|")
    for engine, seconds in walls.items():
        print(f"| {engine} | {seconds:.1f} | {seconds / walls['local']:.2f}x |")


if __name__ == "__main__":
    main()
