"""The default build keeps the same clips with the same annotations as the build of before the
speed work (issue 37): scenery-like colour videos made here (drifting sky, waves, a still rock,
sensor noise, a scene cut and a still stretch; several sizes, rates and a display rotation) are
built with the default recipe, and every kept clip's frames and annotations must hash as they
did. tests/data/build-fingerprint.json was written by the code before the change (commit
742b4f4) under OpenCV 4.14, the project's pin being < 5: the videos are made here with
cv2.remap and cv2.resize, whose output differs between OpenCV versions (5.1 made other videos,
and the first version of this file). To rewrite it (only when a change of what is kept is
meant, and said):

    SCENEGAN_WRITE_FINGERPRINT=1 pytest tests/test_build_fingerprint.py
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import cv2
import h5py
import numpy as np
from media import write_video

from scenegan.pipeline.build import BuildConfig, build_dataset

FINGERPRINT = Path(__file__).parent / "data" / "build-fingerprint.json"
# Per-clip fields whose bytes are pinned (the context, new in format 3, is checked elsewhere).
PINNED = ("clips", "fps", "crop_box", "mean_flow", "motion_map", "motion", "flow_std")
STATS = ("clip_candidates", "clips_rejected", "clips_by_fps", "clips_by_framing", "frames_decoded")


def scenery(n_frames: int, height: int, width: int, seed: int, cut: int = 0, still: tuple = ()):
    """(T, H, W, 3) uint8 RGB: a smooth colour scene whose sky drifts right, whose lower third
    waves sideways and whose middle fifth stands still, with grain. From frame `cut` on it is
    another scene; in the frames of `still` (start, stop) nothing moves but the grain."""
    rng = np.random.default_rng(seed)
    scenes = [_texture(rng, height, width) for _ in range(2)]
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    frames = []
    for t in range(n_frames):
        moving = t if not (still and still[0] <= t < still[1]) else still[0]
        sky = y < 0.4 * height
        water = y > 0.6 * height
        shift = np.where(sky, 0.004 * width * moving, 0.0)
        waves = 0.012 * width * np.sin(2 * np.pi * (y / height * 7 + moving / 13))
        shift = np.where(water, waves, shift).astype(np.float32)
        base = scenes[1 if cut and t >= cut else 0]
        frame = cv2.remap(base, x - shift, y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        grain = rng.normal(0, 2.0, frame.shape).astype(np.float32)
        frames.append(np.clip(frame + grain, 0, 255).astype(np.uint8))
    return np.stack(frames)


def _texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """(H, W, 3) float32: colour blobs over a vertical gradient, detail at two scales."""
    coarse = rng.uniform(40, 220, (6, 10, 3)).astype(np.float32)
    fine = rng.uniform(-30, 30, (height // 8, width // 8, 3)).astype(np.float32)
    image = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    image += cv2.resize(fine, (width, height), interpolation=cv2.INTER_LINEAR)
    image[: height // 3] = 0.5 * image[: height // 3] + np.float32([60, 90, 120])
    return np.clip(image, 0, 255)


def write_videos(folder: Path) -> Path:
    """Three videos: 640 x 360 at 50 fps (longer than the per-source cap of clips, with a cut
    and a still stretch), a 180 x 320 portrait at 30 fps, and 320 x 180 stored sideways
    (display rotation 90) at 24 fps."""
    folder.mkdir(parents=True, exist_ok=True)
    sea = scenery(420, 360, 640, seed=1, cut=300, still=(150, 200))
    write_video(folder / "sea-wide.mp4", sea, fps=50)
    write_video(folder / "lake-portrait.mp4", scenery(150, 320, 180, seed=2), fps=30)
    write_video(folder / "river-rotated.mp4", scenery(120, 180, 320, seed=3), fps=24, rotation=90)
    return folder


def fingerprint(out: Path) -> dict:
    """What the build kept and measured: stats counts and, per clip in shard order, its source,
    start and the sha256 of each pinned field's bytes."""
    stats = json.loads((out / "stats.json").read_text())
    index = json.loads((out / "index.json").read_text())
    clips = []
    for shard in index["shards"]:
        with h5py.File(out / shard["file"], "r") as f:
            fields = {name: f[name][()] for name in PINNED}
            for row, source in enumerate(f["source_id"][()]):
                entry = {"source": source.decode(), "start": float(f["start_time"][row])}
                for name in PINNED:
                    data = np.ascontiguousarray(fields[name][row]).tobytes()
                    entry[name] = hashlib.sha256(data).hexdigest()[:16]
                clips.append(entry)
    return {"stats": {key: stats[key] for key in STATS}, "clips": clips}


def build_fingerprint(tmp: Path) -> dict:
    videos = write_videos(tmp / "videos")
    build_dataset(BuildConfig(videos=videos, out=tmp / "ds", workers=1))
    return fingerprint(tmp / "ds")


def test_default_build_keeps_the_clips_and_annotations_of_before(tmp_path):
    found = build_fingerprint(tmp_path)
    if os.environ.get("SCENEGAN_WRITE_FINGERPRINT") == "1":
        FINGERPRINT.write_text(json.dumps(found, indent=1) + "\n")
    expected = json.loads(FINGERPRINT.read_text())
    assert found["stats"] == expected["stats"]
    assert len(found["clips"]) == len(expected["clips"])
    for clip, before in zip(found["clips"], expected["clips"], strict=True):
        assert clip == before
