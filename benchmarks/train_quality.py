"""Flow vs seed after the same wall-clock budget of stage small, scored by `scenegan evaluate`.

    python benchmarks/train_quality.py --data DIR --minutes 30 [--out runs/quality] [--no-fvd]

Trains every architecture at once, one process each with `--threads` threads (so both get the
same share of the machine for the same minutes), then evaluates the flow model on the dataset's
validation clips with the seed model as its baseline row, beside the real clips, the copied
photo and the drifting photo, and prints the table. `--skip-train` re-scores existing runs.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from scenegan.model.checkpoint import find_latest
from scenegan.model.evaluate import EvaluateConfig, evaluate

ARCHS = ("flow", "seed")


def train_all(args: argparse.Namespace) -> None:
    """One `scenegan train --stage small` process per architecture, all running at once."""
    runs = []
    for arch in ARCHS:
        out = Path(args.out) / arch
        command = [
            sys.executable, "-m", "scenegan.cli", "train", "--stage", "small",
            "--data", args.data, "--out", str(out), "--arch", arch,
            "--minutes", str(args.minutes), "--threads", str(args.threads),
            "--batch-size", str(args.batch_size), "--seed", str(args.seed),
            "--resume", "none", "--snapshot-every", "100000", "--tick-every", "100",
        ]  # fmt: skip
        out.mkdir(parents=True, exist_ok=True)
        log = open(out / "train.log", "w")  # noqa: SIM115 - closed after the process ends
        runs.append((arch, subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT), log))
    for arch, process, log in runs:
        if process.wait() != 0:
            sys.exit(f"training {arch} failed; see {log.name}")
        log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--out", default="runs/quality")
    parser.add_argument("--threads", type=int, default=1, help="per architecture")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-clips", type=int, default=256)
    parser.add_argument("--fvd", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--skip-train", action="store_true")
    args = parser.parse_args()
    if not args.skip_train:
        train_all(args)
    flow, seed = (find_latest(Path(args.out) / arch) for arch in ARCHS)
    if flow is None or seed is None:
        sys.exit(f"no checkpoints under {args.out}/flow and {args.out}/seed; train first")
    config = EvaluateConfig(
        data=Path(args.data),
        out=Path(args.out) / "report",
        checkpoint=str(flow),
        baseline=str(seed),
        n_clips=args.n_clips,
        fvd=args.fvd,
        seed=args.seed,
    )
    report = evaluate(config)
    steps = {arch: int(find_latest(Path(args.out) / arch).stem.rsplit("-", 1)[1]) for arch in ARCHS}
    print(
        f"\nstage small, {args.minutes:g} min per architecture at once, {args.threads} thread(s) "
        f"each: flow {steps['flow']} steps, seed {steps['seed']} steps; "
        f"{report['n_clips']} validation clips"
    )
    columns = ("fvd", "scene_corr", "contrast", "motion_ratio", "flicker", "diversity")
    print(f"{'row':<16}" + "".join(f"{c:>14}" for c in columns) + f"{'frame0_err':>12}")
    for label, row in report["rows"].items():
        cells = "".join(f"{row.get(c, float('nan')):>14.3f}" for c in columns)
        print(f"{label:<16}{cells}{row['frame0_err']:>12.3f}")
    print(f"full report: {config.out}/report.md")


if __name__ == "__main__":
    main()
