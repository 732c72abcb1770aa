"""Training throughput (clips/s) of the trainer itself, per clip format, stage and architecture,
split into data / fwd+bwd / optimizer / EMA+stats.

    python benchmarks/train_speed.py [--data DATASET] [--steps 10] [--batch-size 16]
        [--threads 2] [--device cpu|cuda] [--precision auto|fp32|bf16|fp32,bf16] [--compile MODE]
        [--formats gray:80x45,rgb:160x90] [--flops] [--against REF]

Each row builds `scenegan.model.train.Trainer` (the clips on the device as the trainer holds
them, its models, optimisers and autocast) and times `Trainer.train_step`, the one step that
`scenegan train` loops over; nothing of the loop is rebuilt here. Without --data a dataset of
random clips of each format is written to a temporary folder. `--flops` adds the FLOPs of a
step per clip (torch's FlopCounterMode) and the TFLOP/s they make.

`--against REF` also runs `scenegan train` itself at git commit REF (a temporary worktree) and
at this tree, the same arguments in alternation, `--repeats` times each, and prints the best
and the median clips/s of each: old against new, through the whole trainer of each commit.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from scenegan.clip_format import ClipFormat, clip_format
from scenegan.model.runtime import Timer
from scenegan.model.train import Log, TrainConfig, Trainer
from scenegan.pipeline.shards import shard_name, write_index, write_shard

REPO = Path(__file__).resolve().parents[1]
PHASES = ("data", "forward_backward", "optimizer", "ema_stats")


def random_dataset(root: Path, fmt: ClipFormat, n_clips: int = 64, seed: int = 0) -> Path:
    """A dataset of `n_clips` uniform random clips of format `fmt` (one train shard)."""
    if (root / "index.json").is_file():
        return root
    root.mkdir(parents=True, exist_ok=True)
    clips = np.random.default_rng(seed).integers(0, 256, (n_clips, *fmt.shape), dtype=np.uint8)
    ids = [f"video{i % 8}" for i in range(n_clips)]
    name = shard_name("train", 0)
    write_shard(root / name, clips, ids, [0.0] * n_clips, {i: {} for i in ids}, fmt)
    write_index(root, fmt, 12.0, [{"file": name, "split": "train", "n_clips": n_clips}], {})
    return root


def train_config(
    data: Path, out: Path, arch: str, stage: str, args, precision: str = "auto"
) -> TrainConfig:
    return TrainConfig(
        data=str(data),
        out=str(out),
        arch=arch,
        stage=stage,
        init="none",
        resume="none",
        batch_size=args.batch_size,
        device=args.device,
        threads=args.threads,
        precision=precision,
        compile=args.compile,
        channels_last=args.channels_last,
        width=args.width,
        tensorboard=False,
    )


def measure(data: Path, arch: str, stage: str, args, precision: str = "auto") -> dict:
    """clips/s of Trainer.train_step over `args.steps` steps after `args.warmup`, and the share
    of each phase; with --flops, the FLOPs of one step per clip."""
    with tempfile.TemporaryDirectory() as out:
        trainer = Trainer(train_config(data, Path(out), arch, stage, args, precision))
        log = Log(trainer.cfg, trainer.rt)
        timer = Timer(trainer.rt.device)
        for _ in range(args.warmup):
            trainer.train_step(log)
        flops = count_flops(trainer, log) if args.flops else None
        timer(None)
        timer.seconds.clear()
        start = time.perf_counter()
        for _ in range(args.steps):
            trainer.train_step(log, timer)
        log.read(trainer.step, None)  # the once-per-tick host read, and a NaN check
        if trainer.rt.cuda:
            torch.cuda.synchronize(trainer.rt.device)
        total = time.perf_counter() - start
        trained = trainer.bank.fmt
    return {
        "format": f"{trained.color} {trained.size}",
        "pixels": trained.height * trained.width * trained.channels,  # per frame
        "n_frames": trained.n_frames,
        "arch": arch,
        "stage": stage,
        "precision": trainer.rt.precision,
        "compile": args.compile,
        "clips_per_s": args.steps * args.batch_size / total,
        "flops_per_clip": flops,
        **{phase: trainer_share(timer, phase, total) for phase in PHASES},
    }


def trainer_share(timer: Timer, phase: str, total: float) -> float:
    return timer.seconds.get(phase, 0.0) / total


def count_flops(trainer: Trainer, log: Log) -> float:
    """FLOPs of one training step per clip (torch's FlopCounterMode: matmuls and convolutions,
    forward and backward)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        trainer.train_step(log)
    return counter.get_total_flops() / trainer.cfg.batch_size


def print_header(args) -> None:
    flops = f" {'GFLOP/clip':>10} {'TFLOP/s':>8}" if args.flops else ""
    print(
        f"| {'trains at':<12} | {'pixels':>6} | {'arch':<9} | {'stage':<5} | {'prec':<4} | "
        f"{'clips/s':>8} | {'Mpx/s':>6} | {'data':>5} | {'fwd+bwd':>7} | {'optim':>5} | "
        f"{'ema+stats':>9} |" + flops
    )


def report(r: dict) -> None:
    """One table row; Mpx/s is clips/s x pixels (rows x columns x channels) x frames / 1e6."""
    mpx = r["clips_per_s"] * r["pixels"] * r["n_frames"] / 1e6
    flops = ""
    if r.get("flops_per_clip"):
        tflops = r["flops_per_clip"] * r["clips_per_s"] / 1e12
        flops = f" {r['flops_per_clip'] / 1e9:>10.2f} {tflops:>8.3f}"
    print(
        f"| {r['format']:<12} | {r['pixels']:>6} | {r['arch']:<9} | {r['stage']:<5} | "
        f"{r['precision']:<4} | {r['clips_per_s']:>8.1f} | {mpx:>6.2f} | {r['data']:>5.0%} | "
        f"{r['forward_backward']:>7.0%} | {r['optimizer']:>5.0%} | {r['ema_stats']:>9.0%} |"
        + flops,
        flush=True,
    )


# ---------------------------------------------------------------- old against new


def trainer_clips_per_s(tree: Path, data: Path, arch: str, stage: str, args) -> float:
    """clips/s of `scenegan train` of the code in `tree`, from its stats.jsonl: the tick after
    the warm-up steps (model building and the first steps excluded)."""
    with tempfile.TemporaryDirectory() as out:
        steps = args.warmup + args.steps
        command = [sys.executable, "-m", "scenegan.cli", "train", "--data", str(data)]
        command += ["--out", out, "--arch", arch, "--stage", stage, "--init", "none"]
        command += ["--steps", str(steps), "--batch-size", str(args.batch_size)]
        command += ["--tick-every", str(args.warmup), "--snapshot-every", str(10**6)]
        command += ["--threads", str(args.threads), "--device", args.device, "--no-tensorboard"]
        env = os.environ | {"PYTHONPATH": str(tree)}
        result = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"{tree}: {result.stderr[-2000:]}")
        rows = [
            json.loads(line) for line in (Path(out) / "stats.jsonl").read_text().split("\n") if line
        ]
        return rows[-1]["clips_per_s"]


def against(ref: str, data_of: dict, args) -> None:
    """clips/s of `scenegan train` at `ref` and at this tree, run in alternation: the best and
    the median of `--repeats` runs each (on a shared machine the best is the steadier)."""
    with tempfile.TemporaryDirectory() as folder:
        old = Path(folder) / "old"
        git = ["git", "-C", str(REPO)]
        subprocess.run([*git, "worktree", "add", "--detach", str(old), ref], check=True)
        try:
            commit = subprocess.run(
                ["git", "-C", str(old), "log", "--format=%h %s", "-1"],
                capture_output=True,
                text=True,
            ).stdout.strip()[:72]
            print(
                f"\nscenegan train, old = {commit}, new = this tree; {args.repeats} runs each in "
                f"alternation; clips/s of steps {args.warmup + 1}-{args.warmup + args.steps}"
            )
            print(
                f"| {'trains at':<12} | {'arch':<9} | {'stage':<5} | {'old best':>8} | "
                f"{'new best':>8} | {'new/old':>7} | {'old median':>10} | {'new median':>10} |"
            )
            for fmt, data in data_of.items():
                for stage in args.stages.split(","):
                    for arch in args.archs.split(","):
                        runs = {"old": [], "new": []}
                        for _ in range(args.repeats):
                            for name, tree in (("old", old), ("new", REPO)):
                                rate = trainer_clips_per_s(tree, data, arch, stage, args)
                                runs[name].append(rate)
                        best = {k: max(v) for k, v in runs.items()}
                        median = {k: statistics.median(v) for k, v in runs.items()}
                        trained = fmt.stage(stage)
                        print(
                            f"| {trained.color + ' ' + trained.size:<12} | {arch:<9} | "
                            f"{stage:<5} | {best['old']:>8.1f} | {best['new']:>8.1f} | "
                            f"{best['new'] / best['old']:>7.2f} | {median['old']:>10.1f} | "
                            f"{median['new']:>10.1f} |",
                            flush=True,
                        )
        finally:
            subprocess.run([*git, "worktree", "remove", "--force", str(old)], check=False)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="a built dataset (default: random clips per --formats)")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--precision", default="auto", help="auto, fp32, bf16, or a list (each row in each)"
    )
    parser.add_argument("--compile", default="none", help="a torch.compile mode, or none")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--width", type=float, default=1.0)
    parser.add_argument("--archs", default="euler,flow,keras2019")
    parser.add_argument("--stages", default="small,large")
    parser.add_argument(
        "--formats", default="gray:80x45,rgb:160x90", help="dataset formats, COLOR:WxH,..."
    )
    parser.add_argument("--flops", action="store_true", help="FLOPs per clip and TFLOP/s")
    parser.add_argument("--against", metavar="REF", help="also time `scenegan train` at REF")
    parser.add_argument("--repeats", type=int, default=3, help="runs per commit (--against)")
    return parser.parse_args(argv)


def datasets(args, folder: Path) -> dict[ClipFormat, Path]:
    """The dataset of each format to train on: --data, or random clips per --formats."""
    if args.data:
        from scenegan.pipeline.shards import read_index

        return {read_index(args.data).fmt: Path(args.data)}
    formats = [clip_format(*spec.split(":")) for spec in args.formats.split(",")]
    return {fmt: random_dataset(folder / f"{fmt.color}-{fmt.size}", fmt) for fmt in formats}


def run(args) -> list[dict]:
    """The table of this tree's trainer (and, with --against, old against new)."""
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    name = (
        torch.cuda.get_device_name(device) if device.type == "cuda" else f"{args.threads} threads"
    )
    print(
        f"device {device} ({name}), batch {args.batch_size}, {args.steps} timed steps after "
        f"{args.warmup}, torch {torch.__version__}",
        flush=True,
    )
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        data_of = datasets(args, Path(folder))
        print_header(args)
        for data in data_of.values():
            for stage in args.stages.split(","):
                for arch in args.archs.split(","):
                    for precision in args.precision.split(","):
                        rows.append(measure(data, arch, stage, args, precision))
                        report(rows[-1])
        if args.against:
            against(args.against, data_of, args)
    return rows


if __name__ == "__main__":
    run(parse_args())
