"""Training throughput (clips/s) per clip format, stage and architecture, split into data /
fwd+bwd / optimizer.

    python benchmarks/train_speed.py [--steps 10] [--batch-size 16] [--threads 2] [--device cpu]
        [--formats gray:80x45,rgb:160x90]

Uses random clips held in memory like the trainer's, so no dataset is needed. Prints a table
with pixels per clip and pixel-frames per second, so rows of different formats compare.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from scenegan.clip_format import ClipFormat, clip_format
from scenegan.model.archs import (
    build_discriminator,
    build_generator,
    default_args,
    gan_step_for,
)
from scenegan.model.data import ClipBank
from scenegan.model.downsample import downsample
from scenegan.model.runtime import Timer
from scenegan.model.steps import StepWeights
from scenegan.model.train import TrainConfig


def measure(
    fmt: ClipFormat, arch: str, stage: str, args: argparse.Namespace, device: torch.device
) -> dict:
    cfg = TrainConfig(arch=arch, stage=stage, batch_size=args.batch_size, out="unused")
    torch.manual_seed(0)
    G_args, D_args = default_args(arch, stage, fmt)
    G, D = build_generator(arch, G_args).to(device), build_discriminator(arch, D_args).to(device)
    opt_G = torch.optim.Adam([p for p in G.parameters() if p.requires_grad], 2e-4, (0.5, 0.99))
    opt_D = torch.optim.Adam([p for p in D.parameters() if p.requires_grad], 2e-4, (0.5, 0.99))
    G_train, D_train = (torch.compile(G), torch.compile(D)) if args.compile else (G, D)
    clips = torch.randint(0, 256, (64, *fmt.shape), dtype=torch.uint8)
    bank = ClipBank(downsample(clips, fmt.stage(stage)), fmt.stage(stage), dataset_fmt=fmt)
    rng = np.random.default_rng(0)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else None
    timer = Timer(device)
    gan_step = gan_step_for(cfg.arch, StepWeights.of(cfg))
    for i in range(args.warmup + args.steps):
        if i == args.warmup:
            timer.seconds.clear()
            start = time.perf_counter()
        timer("data")
        real = bank.sample(rng, args.batch_size).to(device)
        z = torch.randn(args.batch_size, G.noise_dim, device=device)
        gan_step(G_train, D_train, opt_G, opt_D, real, z, autocast, timer)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    total = time.perf_counter() - start
    trained = fmt.stage(stage)
    return {
        "format": f"{fmt.color} {trained.size}",
        "pixels": trained.height * trained.width * trained.channels,  # per frame
        "n_frames": trained.n_frames,
        "arch": arch,
        "stage": stage,
        "clips_per_s": args.steps * args.batch_size / total,
        **{k: v / total for k, v in timer.seconds.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--archs", default="euler,flow,keras2019")
    parser.add_argument("--stages", default="small,large")
    parser.add_argument(
        "--formats", default="gray:80x45,rgb:160x90", help="dataset formats, COLOR:WxH,..."
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    name = torch.cuda.get_device_name(device) if cuda else f"{args.threads} threads"
    print(f"device {device} ({name}), batch {args.batch_size}, {args.steps} timed steps")
    formats = [clip_format(*spec.split(":")) for spec in args.formats.split(",")]
    print(
        f"{'trains at':<12} {'pixels':>6} {'arch':<10} {'stage':<6} {'clips/s':>8} "
        f"{'Mpx/s':>6} {'data':>6} {'fwd+bwd':>8} {'optim':>6}"
    )
    for fmt in formats:
        for stage in args.stages.split(","):
            for arch in args.archs.split(","):
                report(measure(fmt, arch, stage, args, device))


def report(r: dict) -> None:
    """One table row; Mpx/s is clips/s x pixels (rows x columns x channels) x frames / 1e6."""
    mpx = r["clips_per_s"] * r["pixels"] * r["n_frames"] / 1e6
    print(
        f"{r['format']:<12} {r['pixels']:>6} {r['arch']:<10} {r['stage']:<6} "
        f"{r['clips_per_s']:>8.1f} {mpx:>6.2f} "
        f"{r.get('data', 0):>6.0%} {r.get('forward_backward', 0):>8.0%} "
        f"{r.get('optimizer', 0):>6.0%}"
    )


if __name__ == "__main__":
    main()
