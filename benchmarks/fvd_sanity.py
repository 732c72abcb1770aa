"""Does FVD order real and broken animations sensibly on real scenery? Prints a table.

    python benchmarks/fvd_sanity.py [--per-set 16]

Cuts 32-frame clips (native frame rate, first frames of each video) from the scenery videos in
$SCENEGAN_SCENERY (default ../shared/scenery), splits them by video into sets A and B, and
reports FVD(A, X) for X = B (real vs real), B's first frame copied 32 times (static), and B with
its frames shuffled in time (flicker). Small sets make FVD biased upwards: compare rows, not
with published numbers.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import av
import numpy as np
import torch

from scenegan.clip_format import CLIP
from scenegan.evaluation.fvd import frechet_distance, i3d_features
from scenegan.pipeline.frames import prepare_image

REPO = Path(__file__).resolve().parents[1]


def scenery_dir() -> Path:
    return Path(os.environ.get("SCENEGAN_SCENERY") or REPO / ".." / "shared" / "scenery")


def first_clips(path: Path, n_clips: int) -> list[np.ndarray]:
    """Up to n_clips consecutive 32-frame clips from the start of one video, prepared as data."""
    frames = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            frames.append(prepare_image(frame.to_ndarray(format="rgb24")))
            if len(frames) == n_clips * CLIP.n_frames:
                break
    usable = len(frames) // CLIP.n_frames * CLIP.n_frames
    return list(np.stack(frames[:usable]).reshape(-1, *CLIP.shape)) if usable else []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-set", type=int, default=16)
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    videos = sorted(scenery_dir().glob("*.mp4"))
    sets: tuple[list, list] = ([], [])
    for number, path in enumerate(videos):  # alternate videos between A and B: split by source
        target = sets[number % 2]
        if len(target) < args.per_set:
            target.extend(first_clips(path, 1))
    n = min(len(sets[0]), len(sets[1]), args.per_set)
    real_a, real_b = np.stack(sets[0][:n]), np.stack(sets[1][:n])
    rng = np.random.default_rng(0)
    candidates = {
        "real B (another set of videos)": real_b,
        "B's first frame x 32 (static)": np.repeat(real_b[:, :1], CLIP.n_frames, axis=1),
        "B shuffled in time (flicker)": np.stack([c[rng.permutation(len(c))] for c in real_b]),
    }
    start = time.perf_counter()
    feats_a = i3d_features(real_a, progress=True)
    rows = [(name, frechet_distance(feats_a, i3d_features(x))) for name, x in candidates.items()]
    seconds = time.perf_counter() - start
    print(f"{n} clips per set, {4 * n} clips through I3D in {seconds:.0f} s")
    print(f"{'A vs':<32} {'FVD':>8}")
    for name, value in rows:
        print(f"{name:<32} {value:>8.1f}")


if __name__ == "__main__":
    main()
