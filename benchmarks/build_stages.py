"""Where the time of `scenegan build-dataset` goes, stage by stage (issue 37).

    python benchmarks/build_stages.py [--videos ../shared/scenery] [--every 1] [--options JSON]

One build with the defaults and one worker, in this process, with the functions of each stage
wrapped by a timer that counts each call's own time (the time of wrapped calls inside it goes to
their own stage), on the CPU clock of this process (the wall clock too). Decoding is the time
spent inside the frame generator that is not spent in a wrapped conversion inside it. Whatever
no wrapper sees (the build's bookkeeping, the reservoir, Python between the calls) is "the rest".
Prints a markdown table: CPU seconds, share, and CPU ms per source frame and per written clip.
"""

from __future__ import annotations

import argparse
import importlib
import json
import tempfile
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import av
import cv2

from scenegan.config import BuildConfig
from scenegan.pipeline.build import build_dataset
from scenegan.pipeline.sources import folder_sources

DEFAULT_VIDEOS = Path(__file__).resolve().parents[1] / ".." / "shared" / "scenery"

# The filters judged once per video on sampled frames, and the duplicate search (issue 36).
SCENE = "per-video filters (people, overlay, duplicates)"
STAGES = (
    "decode",
    "resample per rate",
    "crop windows",
    "context",
    "DIS optical flow",
    "filter measures",
    "annotations",
    SCENE,
    "HDF5 compression and writing",
)
# (module, attribute, stage): the attribute is replaced by a timed copy where the build looks
# it up. "Class.method" wraps a method; a generator function is timed at each of its steps.
# Names the code does not have are skipped, so one table serves the build before and after
# issue 37 (run the old one with PYTHONPATH pointing at its checkout).
WRAPPED = (
    ("scenegan.pipeline.decode", "open_video", "decode"),
    ("scenegan.pipeline.extract", "video_fps", "decode"),
    ("scenegan.pipeline.extract", "iter_rates", "decode"),
    ("scenegan.pipeline.decode", "luma_plane", "decode"),
    ("scenegan.pipeline.decode", "prepare_frame", "resample per rate"),
    ("scenegan.pipeline.extract", "measured_frame", "resample per rate"),
    ("scenegan.pipeline.decode", "window_source", "crop windows"),  # before: every frame
    ("scenegan.pipeline.extract", "_window_clip", "crop windows"),  # before
    ("scenegan.pipeline.decode", "SourceFrame.window", "crop windows"),
    ("scenegan.pipeline.extract", "window_clip", "crop windows"),
    ("scenegan.pipeline.decode", "SourceFrame.context", "context"),
    ("scenegan.pipeline.extract", "window_flows", "filter measures"),
    ("scenegan.pipeline.filters", "FlowMeter.add", "filter measures"),
    ("scenegan.pipeline.filters", "FlowMeter.measure", "filter measures"),
    ("scenegan.pipeline.extract", "measure_window", "filter measures"),
    ("scenegan.pipeline.extract", "reject_reason", "filter measures"),
    ("scenegan.pipeline.filters", "FlowMeter.motion", "annotations"),
    ("scenegan.pipeline.extract", "summarize_flows", "annotations"),
    ("scenegan.pipeline.extract", "annotate_clip", "annotations"),
    ("scenegan.pipeline.scene_filters", "open_video", "decode"),  # the sampler's duration
    ("scenegan.pipeline.scene_filters", "sample_luma", SCENE),
    ("scenegan.pipeline.extract", "judge_scene", SCENE),
    ("scenegan.pipeline.extract", "thumbnails", SCENE),
    ("scenegan.pipeline.build", "find_duplicates", SCENE),
    ("scenegan.pipeline.build", "save_part", "HDF5 compression and writing"),
    ("scenegan.pipeline.build", "_write_split", "HDF5 compression and writing"),
)
# The optical-flow estimator: its `calc` is timed as the DIS stage.
ESTIMATORS = (("scenegan.pipeline.filters", "flow_estimator"),)


class StageClock:
    """Own time per stage: a call's elapsed time less that of the timed calls inside it."""

    def __init__(self) -> None:
        self.cpu: dict[str, float] = defaultdict(float)
        self.wall: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.stack: list[list[float]] = []  # per open call: [cpu inside children, wall inside]

    def run(self, stage: str, function, *args, **kwargs):
        self.stack.append([0.0, 0.0])
        cpu, wall = time.process_time(), time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            inside = self.stack.pop()
            self.cpu[stage] += cpu - inside[0]
            self.wall[stage] += wall - inside[1]
            self.calls[stage] += 1
            if self.stack:
                self.stack[-1][0] += cpu
                self.stack[-1][1] += wall

    def wrap(self, stage: str, function):
        clock = self

        def timed(*args, **kwargs):
            result = clock.run(stage, function, *args, **kwargs)
            if hasattr(result, "__next__") and hasattr(result, "send"):  # a generator
                return clock.steps(stage, result)
            return result

        return timed

    def steps(self, stage: str, generator):
        while True:
            try:
                item = self.run(stage, next, generator)
            except StopIteration:
                return
            yield item

    def estimator(self, make):
        clock = self

        class Timed:
            def __init__(self, *args):
                self.dis = make(*args)

            def calc(self, *args):
                return clock.run("DIS optical flow", self.dis.calc, *args)

        return Timed


def patched(clock: StageClock) -> list[tuple[object, str, object]]:
    """Install the timers; returns what to put back."""
    originals = []
    for module_name, attribute, stage in WRAPPED:
        owner = importlib.import_module(module_name)
        *classes, name = attribute.split(".")
        for part in classes:
            owner = getattr(owner, part, None)
        original = getattr(owner, name, None)
        if original is None:
            continue
        originals.append((owner, name, original))
        setattr(owner, name, clock.wrap(stage, original))
    for module_name, name in ESTIMATORS:
        module = importlib.import_module(module_name)
        original = getattr(module, name)
        originals.append((module, name, original))
        setattr(module, name, clock.estimator(original))
    return originals


def profile(videos: Path, every: int, options: dict) -> tuple[StageClock, dict, float, float]:
    clock = StageClock()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "videos"
        folder.mkdir()
        for source in folder_sources(videos)[::every]:
            (folder / source.path.name).symlink_to(source.path.resolve())
        config = replace(BuildConfig(videos=folder, out=Path(tmp) / "ds"), workers=1, **options)
        originals = patched(clock)
        try:
            cpu, wall = time.process_time(), time.perf_counter()
            stats = build_dataset(config)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        finally:
            for owner, name, original in originals:
                setattr(owner, name, original)
    return clock, stats, cpu, wall


def plain_decode_cpu(videos: Path, every: int) -> float:
    """CPU seconds of plain PyAV decode of the same files, every frame to gray and area-resized
    to 80 x 45 (benchmarks/build_dataset.py's reference)."""
    cpu = time.process_time()
    for source in folder_sources(videos)[::every]:
        with av.open(str(source.path)) as container:
            for frame in container.decode(container.streams.video[0]):
                gray = frame.to_ndarray(format="gray")
                cv2.resize(gray, (80, 45), interpolation=cv2.INTER_AREA)
    return time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=Path, default=DEFAULT_VIDEOS)
    parser.add_argument("--every", type=int, default=1, help="every Nth video of --videos")
    parser.add_argument("--options", default="{}", help="BuildConfig fields as JSON")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    clock, stats, cpu, wall = profile(args.videos, args.every, json.loads(args.options))
    frames = stats["frames_decoded"]
    clips = stats["clips_written"]["total"]
    print(
        f"\n{stats['videos_found']} videos, {frames} frames at the clip rates, {clips} clips "
        f"written; build {cpu:.1f} CPU s ({wall:.1f} s wall), one worker\n"
    )
    print("| stage | CPU s | share | CPU ms per frame | CPU ms per clip | calls |")
    print("|---|---|---|---|---|---|")
    rest = cpu - sum(clock.cpu.values())
    rows = [(stage, clock.cpu.get(stage, 0.0), clock.calls.get(stage, 0)) for stage in STAGES]
    for stage, seconds, calls in [*rows, ("the rest", rest, 0)]:
        print(
            f"| {stage} | {seconds:.2f} | {seconds / cpu:.0%} | {1000 * seconds / frames:.3f} | "
            f"{1000 * seconds / max(clips, 1):.2f} | {calls or ''} |"
        )
    print(f"| all | {cpu:.2f} | 100% | {1000 * cpu / frames:.3f} | {1000 * cpu / clips:.2f} | |")
    plain = plain_decode_cpu(args.videos, args.every)
    print(
        f"\nplain PyAV decode + resize of the same files: {plain:.2f} CPU s; "
        f"build / plain {plain / cpu:.2f}"
    )


if __name__ == "__main__":
    main()
