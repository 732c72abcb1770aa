"""Speed of `scenegan build-dataset` against plain PyAV decode + resize of the same files, and
the cost of its motion annotations.

    python benchmarks/build_dataset.py [--videos ../shared/scenery] [--repeat 1] [--every 1]
    python benchmarks/build_dataset.py --annotations-only --every 6 --crops 1,2
    python benchmarks/build_dataset.py --no-annotation-cost     # table 1 alone

Table 1: seconds, source frames per second and ratios for (a) decoding alone, (b) plain decode
of every frame to gray + area resize to 80 x 45, (c) the full build with 1 worker and (d) with 2
workers. The build's own work (crop, fps resampling, filters, context, writing) should cost
little next to decode. What runs in this process (one process, one worker) also has its CPU
seconds: on a machine other jobs share, they move less than the wall clock.

Table 2, the cost of the annotations: the build (1 worker, in this process) with every piece of
work that comes from the optical flow timed: DIS between neighbouring frames (for the filters
and the annotations, one flow per frame pair), the camera's shift and the static measure from
it, and the annotation summaries. Without annotations the build would do none of this, so
"with / without" is total / (total - flow work); goal <= 1.3. (The phase correlation the
filters used before the flow, about 0.06 ms a frame pair, is not added back: the ratio errs
high.)
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


def timed_cpu(function, *args) -> tuple[float, float, object]:
    """(wall seconds, CPU seconds of this process, result)."""
    cpu = time.process_time()
    wall, result = timed(function, *args)
    return wall, time.process_time() - cpu, result


def plain_decode_all(paths: list[Path], workers: int) -> int:
    if workers == 1:
        return sum(plain_decode(p) for p in paths)
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        return sum(pool.map(plain_decode, paths, chunksize=1))


class FlowTimer:
    """Seconds spent in the build's flow work: every DIS calc, and the functions that turn
    flows into filter measures and annotations (patched in for one build)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.pairs = 0

    def timed(self, function):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start

        return wrapper

    def estimator(self, make):
        timer = self

        class Timed:
            def __init__(self):
                self.dis = make()

            def calc(self, *args):
                timer.pairs += 1
                return timer.timed(self.dis.calc)(*args)

        return Timed


def annotation_cost(videos: Path, every: int, crops: int, config: BuildConfig) -> dict:
    """One in-process build of every `every`-th video of `videos`, its flow work timed."""
    from scenegan.pipeline import filters, motion_fields

    timer = FlowTimer()
    patches = [
        (filters, "flow_estimator", timer.estimator(motion_fields.flow_estimator)),
        (motion_fields, "flow_estimator", timer.estimator(motion_fields.flow_estimator)),
        (filters, "camera_shift", timer.timed(filters.camera_shift)),
        (filters, "moving_speed", timer.timed(filters.moving_speed)),
        (filters, "summarize_flows", timer.timed(filters.summarize_flows)),
        (motion_fields, "summarize_flows", timer.timed(motion_fields.summarize_flows)),
    ]
    originals = [(module, name, getattr(module, name)) for module, name, _ in patches]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "videos"
        folder.mkdir()
        for source in folder_sources(videos)[::every]:
            (folder / source.path.name).symlink_to(source.path.resolve())
        try:
            for module, name, patched in patches:
                setattr(module, name, patched)
            started = time.perf_counter()
            stats = build_dataset(
                replace(config, videos=folder, out=Path(tmp) / "ds", workers=1, crops=crops)
            )
            total = time.perf_counter() - started
        finally:
            for module, name, original in originals:
                setattr(module, name, original)
    return {
        "videos": stats["videos_found"],
        "clips": stats["clips_written"]["total"],
        "total": total,
        "flow": timer.seconds,
        "pairs": timer.pairs,
    }


def print_annotation_cost(args) -> None:
    config = BuildConfig(
        fps=args.fps, stride=args.stride, max_per_source=args.max_per_source, clips=10**8
    )
    print(
        f"\nannotation cost: every {args.every}th video of {args.videos}, --fps {args.fps} "
        f"--stride {args.stride} --max-per-source {args.max_per_source}, 1 worker\n"
    )
    print(
        f"{'crops':>5s} {'videos':>6s} {'clips':>6s} {'build s':>8s} {'flow s':>7s} "
        f"{'pairs':>7s} {'ms/pair':>7s} {'with/without':>12s}"
    )
    for crops in (int(c) for c in args.crops.split(",")):
        cost = annotation_cost(args.videos, args.every, crops, config)
        without = cost["total"] - cost["flow"]
        print(
            f"{crops:5d} {cost['videos']:6d} {cost['clips']:6d} {cost['total']:8.1f} "
            f"{cost['flow']:7.1f} {cost['pairs']:7d} "
            f"{1000 * cost['flow'] / max(cost['pairs'], 1):7.2f} {cost['total'] / without:12.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=Path, default=DEFAULT_VIDEOS)
    parser.add_argument("--repeat", type=int, default=1, help="take the best of this many runs")
    parser.add_argument("--every", type=int, default=1, help="annotation cost: every Nth video")
    parser.add_argument("--crops", default="1,2", help="annotation cost: --crops values")
    parser.add_argument("--fps", default=BuildConfig().fps)
    parser.add_argument("--stride", type=int, default=4)
    parser.add_argument("--max-per-source", type=int, default=48)
    parser.add_argument("--annotations-only", action="store_true", help="table 2 alone")
    parser.add_argument("--no-annotation-cost", action="store_true", help="table 1 alone")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    if args.annotations_only:
        print_annotation_cost(args)
        return
    paths = [s.path for s in folder_sources(args.videos)]
    # Largest first, as the build schedules them.
    paths.sort(key=lambda p: -p.stat().st_size)

    rows = [
        (
            "decode only (no conversion), 1 process",
            *min(
                timed_cpu(lambda: sum(decode_only(p) for p in paths))[:2]
                for _ in range(args.repeat)
            ),
        )
    ]
    n_frames = 0
    for workers in (1, 2):
        best = min(timed_cpu(plain_decode_all, paths, workers) for _ in range(args.repeat))
        n_frames = best[2]
        rows.append((f"plain decode + resize, {workers} process(es)", *best[:2]))
    for workers in (1, 2):
        times = []
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as tmp:
                config = replace(
                    BuildConfig(videos=args.videos, out=Path(tmp) / "ds"), workers=workers
                )
                times.append(timed_cpu(build_dataset, config)[:2])
        rows.append((f"full build, {workers} worker(s)", *min(times)))
    print_speed_table(rows, len(paths), n_frames)
    if not args.no_annotation_cost:
        print_annotation_cost(args)


def print_speed_table(rows: list[tuple[str, float, float]], n_files: int, n_frames: int) -> None:
    """Table 1 and its ratios; CPU seconds only where the work ran in this process."""
    (_, decode, decode_cpu), (_, plain_1, plain_cpu), (_, plain_2, _) = rows[:3]
    (_, build_1, build_cpu), (_, build_2, _) = rows[3:]
    print(f"\n{n_files} files, {n_frames} source frames, {os.cpu_count()} cores\n")
    print(f"{'what':40s} {'seconds':>8s} {'frames/s':>9s} {'CPU s':>8s}")
    for name, seconds, cpu in rows:
        in_process = "1 process" in name or "1 worker" in name
        shown = f"{cpu:8.2f}" if in_process else f"{'-':>8s}"
        print(f"{name:40s} {seconds:8.2f} {n_frames / seconds:9.0f} {shown}")
    print()
    print(f"build / plain decode, 1 worker : {plain_1 / build_1:5.2f}  (aim >= 0.85)")
    print(f"  the same in CPU seconds      : {plain_cpu / build_cpu:5.2f}")
    print(f"build 2 workers / 1 worker     : {build_1 / build_2:5.2f}  (aim >= 1.7)")
    print(f"plain 2 processes / 1 process  : {plain_1 / plain_2:5.2f}")
    print(f"build / decode only, 1 worker  : {decode / build_1:5.2f}  (the build's own cost)")
    print(f"  the same in CPU seconds      : {decode_cpu / build_cpu:5.2f}")


if __name__ == "__main__":
    main()
