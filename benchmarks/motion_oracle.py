"""How far does the motion model's warp go if each photo's motion were known? It animates the
held-out photos three ways, side by side, and scores them as `scenegan evaluate` does:

- **head**: the amount from its calibrated head, as `scenegan sample` animates a photo;
- **amount told**: each photo's measured amount (what `--motion` sets), the places its own;
- **amount and places told**: also each pixel's speed set to the real clip's measured
  `motion_map`, so only the kind of motion (direction, oscillation) and the texture are its own.

    python benchmarks/motion_oracle.py --checkpoint motion.pt [--data datasets/default]
        [--split val] [--n-clips 192] [--no-fvd]

The clips, halvings and FVD features are evaluate's for the same --data, --split, --n-clips and
--seed, so the real row and the FVD cache are shared with it. The last row is an upper bound of
what predicting the amount and the places better can buy this renderer.
"""

from __future__ import annotations

import argparse
import functools
from contextlib import contextmanager, nullcontext

import numpy as np
import torch

from scenegan.config import EvaluateConfig
from scenegan.errors import UserError
from scenegan.evaluation import metrics
from scenegan.evaluation.evaluate import (
    cached_features,
    halving_fvd,
    load_real_clips,
    random_halvings,
)
from scenegan.model.animator import animate_photos, draw_noise
from scenegan.model.checkpoint import load_generator

BATCH = 32


@contextmanager
def places_told(G: torch.nn.Module, maps: torch.Tensor):
    """G whose fields move each pixel at the speed `maps` (B, H, W) says, in proportion: its
    `places` input (MotionGenerator.impose_places: raw velocity and amplitude rescaled per
    pixel by the wanted over their own analytic speed; the mean speed is then set to the
    amount as always), for this block only."""
    G.forward = functools.partial(type(G).forward, G, places=(maps + 1e-6).log())
    try:
        yield G
    finally:
        del G.forward  # the instance attribute over the method goes: G is itself again


def animations(G, photos, z, rates, speeds=None, maps=None) -> np.ndarray:
    clips = []
    for start in range(0, len(photos), BATCH):
        part = slice(start, start + BATCH)
        controls = {"fps": torch.as_tensor(rates[part], dtype=torch.float32)}
        if speeds is not None:
            controls["motion"] = torch.as_tensor(speeds[part], dtype=torch.float32)
        told = nullcontext() if maps is None else places_told(G, torch.as_tensor(maps[part]))
        with told:
            clips.append(animate_photos(G, photos[part], z[part], controls))
    return np.concatenate(clips)


def score(clips, real, real_speeds, real_maps, fvd, flow_cache: dict) -> dict:
    annotations = metrics.clip_flow_annotations(clips, flow_cache)
    speeds = np.array([speed for speed, _ in annotations])
    maps = np.stack([speed_map for _, speed_map in annotations])
    row = metrics.speed_columns(speeds, real_speeds)
    row.update(
        still_flow=metrics.still_area_flow(maps, real_maps),
        where_corr=metrics.where_correlation(maps, real_maps),
        motion_ratio=metrics.motion_energy(clips) / metrics.motion_energy(real),
        flicker=metrics.flicker(clips),
    )
    if fvd is not None:
        row["fvd"], row["fvd_std"], _ = fvd(clips)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, help="a motion-arch generator file")
    parser.add_argument("--data", default="datasets/default")
    parser.add_argument("--split", default="val", choices=("train", "select", "val"))
    parser.add_argument("--n-clips", type=int, default=192)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-fvd", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(2)
    G, meta = load_generator(args.checkpoint)
    if meta.get("arch") != "motion":
        raise UserError(f"{args.checkpoint} is a {meta.get('arch')} generator; this needs motion")
    config = EvaluateConfig(
        data=args.data, n_clips=args.n_clips, split=args.split, seed=args.seed, fvd=not args.no_fvd
    )
    real, _, sources, rates = load_real_clips(config, G.fmt)
    flow_cache: dict = {}  # the real clips are measured once, for their row too
    real_annotations = metrics.clip_flow_annotations(real, flow_cache)
    real_speeds = np.array([speed for speed, _ in real_annotations])
    real_maps = np.stack([speed_map for _, speed_map in real_annotations])
    fvd = None
    if config.fvd:
        from scenegan.evaluation.fvd import frechet_distance, fvd_preprocessing, i3d_features

        preprocessing = fvd_preprocessing("gray")
        real_features = cached_features(real, config, i3d_features, preprocessing, "real")
        halves = random_halvings(len(real), config.halvings, config.seed)

        def fvd(clips):
            features = cached_features(clips, config, i3d_features, preprocessing, "row")
            return halving_fvd(features, real_features, halves, frechet_distance)

    z = draw_noise(G, len(real), args.seed)
    photos = real[:, 0]

    def scored(clips: np.ndarray) -> dict:
        return score(clips, real, real_speeds, real_maps, fvd, flow_cache)

    rows = {
        "real": scored(real),
        "head": scored(animations(G, photos, z, rates)),
        "amount told": scored(animations(G, photos, z, rates, real_speeds)),
        "amount and places told": scored(animations(G, photos, z, rates, real_speeds, real_maps)),
    }
    print(
        f"{args.checkpoint} on {len(real)} {args.split} clips of {len(set(sources))} videos "
        f"({args.data})\n"
    )
    print(
        "| row | FVD | flow speed (x real) | per-photo speed off by | motion ratio "
        "| flow where real is still | where corr | flicker |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, row in rows.items():
        fvd_cell = f"{row['fvd']:.1f} +- {row['fvd_std']:.1f}" if "fvd" in row else "-"
        print(
            f"| {name} | {fvd_cell} | {row['flow_speed_ratio']:.2f}x | {row['speed_factor']:.2f} "
            f"| {row['motion_ratio']:.2f} | {row['still_flow']:.3f} | {row['where_corr']:.3f} "
            f"| {row['flicker']:.2f} |"
        )


if __name__ == "__main__":
    main()
