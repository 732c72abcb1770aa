"""The architectures after the same wall-clock budget of stage small, scored by `scenegan
evaluate`: the 2019 baseline, flow, euler, the motion model trained by regression on measured
flow alone, and the full motion model (regression + adversary).

    python benchmarks/train_quality.py --data DIR --minutes 30 [--out runs/quality] [--no-fvd]
        [--split select] [--archs keras2019,flow,euler,motion] [--precision bf16]
        [--variant "euler-no-motion=--arch euler --motion-weight 0" ...]

Trains every architecture at once, one process each with `--threads` threads (so all get the
same share of the machine for the same minutes), plus any `--variant NAME=OPTIONS` (extra
`scenegan train` options; `--arch` among them picks the architecture, default euler), then
evaluates each run on the dataset's `--split` clips (select: the split for choosing designs;
val: the one for reported numbers) with the keras2019 model as its baseline row, beside the
real clips, the copied photo and the drifting photo, and prints one table. `--skip-train`
re-scores existing runs.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from pathlib import Path

from scenegan.evaluation.evaluate import EvaluateConfig, evaluate
from scenegan.model.checkpoint import find_latest, read_checkpoint

ARCHS = "keras2019,flow,euler,motion"
BASELINE = "keras2019"
# Always run beside the architectures: the motion model without its adversary.
VARIANTS = ("motion-regression=--arch motion --adversarial-weight 0",)


def runs_of(args: argparse.Namespace) -> dict[str, tuple[str, list[str]]]:
    """name -> (arch, extra train options): one per architecture, then the variants."""
    runs = {arch: (arch, []) for arch in args.archs.split(",")}
    variants = [*VARIANTS, *args.variant] if "motion" in runs else args.variant
    for variant in variants:
        name, _, options = variant.partition("=")
        if not name or name in runs:
            sys.exit(f"--variant {variant!r}: give NAME=OPTIONS with a new NAME")
        words = shlex.split(options)
        arch = words[words.index("--arch") + 1] if "--arch" in words else "euler"
        runs[name] = (arch, [w for w in words if w not in ("--arch", arch)])
    return runs


def train_all(args: argparse.Namespace) -> None:
    """One `scenegan train --stage small` process per run, all running at once."""
    started = []
    for name, (arch, extra) in runs_of(args).items():
        out = Path(args.out) / name
        command = [
            sys.executable, "-m", "scenegan.cli", "train", "--stage", "small",
            "--data", args.data, "--out", str(out), "--arch", arch,
            "--minutes", str(args.minutes), "--threads", str(args.threads),
            "--batch-size", str(args.batch_size), "--seed", str(args.seed),
            "--precision", args.precision,
            "--resume", "none", "--snapshot-every", "100000", "--tick-every", "100",
            "--no-tensorboard", *extra,
        ]  # fmt: skip
        out.mkdir(parents=True, exist_ok=True)
        log = open(out / "train.log", "w")  # noqa: SIM115 - closed after the process ends
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        started.append((name, process, log))
    for name, process, log in started:
        if process.wait() != 0:
            sys.exit(f"training {name} failed; see {log.name}")
        log.close()


def cell(value) -> str:
    """A table cell: a number to 3 places, or - where the row has none."""
    return "-" if not isinstance(value, int | float) else f"{value:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument(
        "--archs", default=ARCHS, help="comma-separated; keras2019 is the baseline row"
    )
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--out", default="runs/quality")
    parser.add_argument("--threads", type=int, default=1, help="per architecture")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument(
        "--precision", choices=("auto", "fp32", "bf16"), default="auto", help="of every run"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-clips", type=int, default=256)
    parser.add_argument("--split", choices=("select", "val"), default="select")
    parser.add_argument("--fvd", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--skip-train", action="store_true")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME=OPTIONS",
        help='a run with extra train options, e.g. "no-motion=--arch flow --motion-weight 0"',
    )
    args = parser.parse_args()
    if not args.skip_train:
        train_all(args)
    runs = runs_of(args)
    latest = {name: find_latest(Path(args.out) / name) for name in runs}
    missing = [name for name, path in latest.items() if path is None]
    if missing:
        sys.exit(f"no checkpoints under {args.out}/{missing[0]}; train first")
    rows, n_clips = {}, 0
    for name, (arch, _) in runs.items():
        if arch == BASELINE:
            continue
        config = EvaluateConfig(
            data=Path(args.data),
            out=Path(args.out) / "report" / name,
            checkpoint=str(latest[name]),
            baseline=str(latest[BASELINE]) if BASELINE in latest else None,
            split=args.split,
            n_clips=args.n_clips,
            fvd=args.fvd,
            seed=args.seed,
        )
        report = evaluate(config)  # the real and baseline rows are cached after the first
        n_clips = report["n_clips"]
        for label, row in report["rows"].items():
            rows[name if label.startswith("model") else label] = row
    steps = ", ".join(f"{name} {read_checkpoint(path)['step']}" for name, path in latest.items())
    print(
        f"\nstage small, {args.minutes:g} min per run, all at once, {args.threads} thread(s) "
        f"each; steps: {steps}; {n_clips} clips of the {args.split} split"
    )
    columns = ("fvd", "flow_speed_ratio", "speed_w1", "speed_factor", "motion_ratio", "flicker")
    header = f"{'row':<18}" + "".join(f"{c:>17}" for c in columns)
    print(header + f"{'diversity':>11}{'frame0_err':>12}")
    for label, row in rows.items():
        cells = "".join(f"{cell(row.get(c)):>17}" for c in columns)
        print(
            f"{label:<18}{cells}{cell(row.get('diversity')):>11}{cell(row.get('frame0_err')):>12}"
        )
    print(f"full reports: {Path(args.out) / 'report'}/<run>/report.md")


if __name__ == "__main__":
    main()
