"""Per-video cost of `scenegan build-dataset`, by stage, and the engines side by side.

    python benchmarks/build_cost.py [--videos ../shared/scenery] [--workers 2]

Table 1: CPU seconds per source video and per written clip for decode (PyAV, to 80 x 45 luma at
12 fps), filters (flow meter: DIS optical flow of every frame pair, + reject reasons for every
candidate clip) and write (the part file, gzip HDF5), one process. Table 2: wall seconds of the
whole build with --engine local and --engine dask (a local cluster of --workers processes, its
start-up included). docs/scaling.md projects these to 100k videos.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from scenegan.config import BuildConfig, FilterConfig
from scenegan.pipeline.build import build_dataset
from scenegan.pipeline.decode import VideoError, iter_frames
from scenegan.pipeline.filters import FlowMeter, reject_reason
from scenegan.pipeline.shards import write_shard
from scenegan.pipeline.sources import folder_sources

DEFAULT_VIDEOS = Path(__file__).resolve().parents[1] / ".." / "shared" / "scenery"


def stage_costs(videos: Path) -> dict[str, float]:
    filters, fps, stride, n_frames = FilterConfig(), 12.0, 8, 32
    totals = {"decode": 0.0, "filters": 0.0, "write": 0.0, "videos": 0, "clips": 0, "frames": 0}
    with tempfile.TemporaryDirectory() as folder:
        for i, source in enumerate(folder_sources(videos)):
            frames, started = [], time.process_time()
            try:
                frames = [frame for _, frame in iter_frames(source.path, fps, threads=1)]
            except VideoError:
                pass
            decoded = time.process_time()
            meter, kept = FlowMeter(filters, n_frames), []
            for count, frame in enumerate(frames, start=1):
                meter.add(frame)
                start = count - n_frames
                if start >= 0 and start % stride == 0:
                    if reject_reason(meter.measure(start, n_frames), filters) is None:
                        kept.append(np.stack(frames[start : start + n_frames]))
            filtered = time.process_time()
            if kept:
                clips = np.stack(kept[:48])
                ids = [source.source_id] * len(clips)
                write_shard(Path(folder) / f"{i}.h5", clips, ids, [0.0] * len(clips), {})
            written = time.process_time()
            totals["decode"] += decoded - started
            totals["filters"] += filtered - decoded
            totals["write"] += written - filtered
            totals["videos"] += 1
            totals["clips"] += len(kept[:48])
            totals["frames"] += len(frames)
    return totals


def engine_walls(videos: Path, workers: int) -> dict[str, float]:
    walls = {}
    with tempfile.TemporaryDirectory() as folder:
        base = BuildConfig(videos=videos, workers=workers, stride=4, max_per_source=48)
        for engine in ("local", "dask"):
            started = time.perf_counter()
            build_dataset(replace(base, engine=engine, out=Path(folder) / engine))
            walls[engine] = time.perf_counter() - started
    return walls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=Path, default=DEFAULT_VIDEOS)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    costs = stage_costs(args.videos)
    n, clips = costs["videos"], max(costs["clips"], 1)
    print(
        f"{n} videos, {costs['frames']} frames at 12 fps, {costs['clips']} clips kept (<= 48 each)"
    )
    print("| stage | CPU s total | CPU ms per video | CPU ms per clip |")
    print("|---|---|---|---|")
    for stage in ("decode", "filters", "write"):
        s = costs[stage]
        print(f"| {stage} | {s:.2f} | {1000 * s / n:.1f} | {1000 * s / clips:.1f} |")
    total = costs["decode"] + costs["filters"] + costs["write"]
    print(f"| all | {total:.2f} | {1000 * total / n:.1f} | {1000 * total / clips:.1f} |")
    walls = engine_walls(args.videos, args.workers)
    print()
    print(f"| engine (--workers {args.workers}) | wall s | vs local |")
    print("|---|---|---|")
    for engine, wall in walls.items():
        print(f"| {engine} | {wall:.1f} | {wall / walls['local']:.2f}x |")


if __name__ == "__main__":
    main()
