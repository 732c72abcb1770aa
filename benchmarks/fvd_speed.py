"""I3D feature throughput for scenegan clips (32 x 45 x 80 uint8): clips per second, as a table.

    python benchmarks/fvd_speed.py [--clips 8] [--batch-sizes 1,4,8]

Compares the model as `i3d_features` runs it (batch norm folded, one gray input channel,
channels_last_3d) with the plain port fed gray repeated to RGB. Random clips: speed does not
depend on the content. Uses as many threads as the machine has cores.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from scenegan.clip_format import CLIP
from scenegan.evaluation.fvd import i3d_features, preprocess
from scenegan.evaluation.i3d import InceptionI3d
from scenegan.evaluation.i3d_weights import load_state_dict


def plain_features(model: InceptionI3d, clips: np.ndarray, batch_size: int) -> None:
    with torch.inference_mode():
        for start in range(0, len(clips), batch_size):
            model(preprocess(torch.from_numpy(clips[start : start + batch_size])))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--batch-sizes", default="1,4,8")
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    rng = np.random.default_rng(0)
    clips = rng.integers(0, 256, (args.clips, *CLIP.shape), dtype=np.uint8)
    plain = InceptionI3d().eval()
    plain.load_state_dict(load_state_dict())
    i3d_features(clips[:1])  # load and warm up
    print(f"threads {torch.get_num_threads()}, {args.clips} clips of {CLIP.shape} per row")
    print(f"{'model':<34} {'batch':>5} {'clips/s':>8} {'s/256 clips':>12}")
    for batch_size in (int(b) for b in args.batch_sizes.split(",")):
        runs = {
            "i3d_features (fused, gray, cl3d)": lambda b=batch_size: i3d_features(clips, b),
            "plain port, RGB, contiguous": lambda b=batch_size: plain_features(plain, clips, b),
        }
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            rate = args.clips / (time.perf_counter() - start)
            print(f"{name:<34} {batch_size:>5} {rate:>8.3f} {256 / rate:>12.0f}", flush=True)


if __name__ == "__main__":
    main()
