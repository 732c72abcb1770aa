"""Flow vs seed after the same wall-clock budget of stage small, on a dataset's validation clips.

    python benchmarks/train_quality.py --data DIR --minutes 5 [--out /tmp/quality] [--threads 2]

Trains each architecture for `--minutes`, then prints for each, for the copied photo and for
the real clips: scene preservation (mean correlation of frames 1..31 with frame 0), contrast
ratio (frame std / photo std), motion energy ratio to real, and frame-0 error.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from scenegan.clip_format import SMALL
from scenegan.model.checkpoint import find_latest, load_generator
from scenegan.model.data import downsample_clips
from scenegan.model.train import TrainConfig, train
from scenegan.pipeline.shards import read_split


def scene_preservation(clips: torch.Tensor) -> float:
    """Mean Pearson correlation of frames 1..T-1 with frame 0; clips (N, T, H, W)."""
    x = clips.flatten(2)
    x = x - x.mean(-1, keepdim=True)
    x = x / x.norm(dim=-1, keepdim=True).clamp_min(1e-8)
    return float((x[:, 1:] * x[:, :1]).sum(-1).mean())


def contrast_ratio(clips: torch.Tensor) -> float:
    """Mean spatial std of frames 1..T-1 over the std of frame 0."""
    std = clips.flatten(2).std(-1)
    return float((std[:, 1:].mean(1) / std[:, 0].clamp_min(1e-8)).mean())


def motion_energy(clips: torch.Tensor) -> float:
    return float((clips[:, 1:] - clips[:, :-1]).abs().mean())


def figures(clips: torch.Tensor, photos: torch.Tensor, real_motion: float) -> dict:
    return {
        "scene": scene_preservation(clips),
        "contrast": contrast_ratio(clips),
        "motion": motion_energy(clips) / real_motion,
        "frame0_err": float((clips[:, 0] - photos).abs().mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--out", default="/tmp/scenegan-quality")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--archs", default="flow,seed")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    clips, _ = read_split(args.data, "val")
    if len(clips) == 0:
        clips, _ = read_split(args.data, "train")
        print("no validation clips: measuring on training clips")
    real = downsample_clips(torch.from_numpy(clips), SMALL).float() / 127.5 - 1  # (N, T, H, W)
    photos = real[:, 0]
    real_motion = motion_energy(real)
    rows = {
        "real": figures(real, photos, real_motion),
        "copied photo": figures(photos[:, None].expand_as(real), photos, real_motion),
    }
    for arch in args.archs.split(","):
        out = Path(args.out) / arch
        cfg = TrainConfig(
            data=args.data,
            out=str(out),
            arch=arch,
            steps=10**9,
            minutes=args.minutes,
            batch_size=args.batch_size,
            resume="none",
            seed=args.seed,
            threads=args.threads,
            snapshot_every=10**9,
            tick_every=100,
            tensorboard=False,
        )
        summary = train(cfg)
        G, _ = load_generator(find_latest(out))
        generator = torch.Generator().manual_seed(args.seed)
        with torch.no_grad():
            samples = []
            for start in range(0, len(photos), 64):
                p = photos[start : start + 64, None]
                z = torch.randn(len(p), G.noise_dim, generator=generator)
                samples.append(G(p, z)[:, 0])
        name = f"{arch} ({summary['step']} steps)"
        rows[name] = figures(torch.cat(samples), photos, real_motion)
    print(f"\n{len(real)} clips, stage small, {args.minutes} min per architecture")
    print(f"{'':<24} {'scene':>7} {'contrast':>9} {'motion':>8} {'frame0 err':>11}")
    for name, r in rows.items():
        print(
            f"{name:<24} {r['scene']:>7.3f} {r['contrast']:>9.3f} {r['motion']:>7.2f}x "
            f"{r['frame0_err']:>11.4f}"
        )


if __name__ == "__main__":
    main()
