"""What more videos buy: the motion arch trained on nested shares of the training videos (a
quarter, a half, all), the same val videos and steps throughout, scored on val with every
video weighed the same; beside it, two cheap probes fit on the same shares.

    python benchmarks/data_scaling.py [--data datasets/motion] [--steps 600]
        [--fractions 0.25,0.5,1] [--out runs/scaling] [--plot docs/data_scaling.png]

Each run is `scenegan train --stage small --arch motion --adversarial-weight 0
--video-fraction F` (regression alone: three full GAN runs do not fit a CPU's afternoon);
a run already in --out resumes, so the script can be run again after a stop. Per run:
- **per-photo speed factor** of its amount head, refit by ridge on the share's clips as
  `export --calibrate` does, on the val clips' measured motion, beside one speed for every
  photo (the share's median);
- **where corr**, **flow where the real clip stood still** and **motion energy** (x real) of
  its animations of val photos at that amount, measured by DIS as `scenegan evaluate` does.
Probes (no generator): ridge on I3D Mixed_4f features of the photo for the places (where corr)
and for the amount (speed factor), and ridge on the features the motion model's scene prior
reads (I3D up to Mixed_4c as a 2-D network, model/still_inception.py) for the places. The
last lines fit each score against log2(videos) and say what the slope predicts at 2x and 4x.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from where_predictable import at_size, fit_ridge, i3d_features, to_full_size  # noqa: E402

from scenegan.config import TrainConfig  # noqa: E402
from scenegan.evaluation import metrics  # noqa: E402
from scenegan.model.calibrate import amount_features, fit_amount_head, speed_factor  # noqa: E402
from scenegan.model.checkpoint import find_latest, load_generator  # noqa: E402
from scenegan.model.data import nested_videos  # noqa: E402
from scenegan.model.downsample import downsample  # noqa: E402
from scenegan.model.motion import AMOUNT_EPS  # noqa: E402
from scenegan.model.prior_fit import spread_picks  # noqa: E402
from scenegan.model.scene_prior import CONTEXT_SCALE  # noqa: E402
from scenegan.model.still_inception import StillInception, collapse_i3d  # noqa: E402
from scenegan.model.train import train  # noqa: E402
from scenegan.pipeline.shards import read_fields, read_index, read_motion  # noqa: E402

PER_VIDEO = 4  # val and probe clips per video, spread over it


def load(index, split: str, per_video: int = PER_VIDEO) -> dict:
    """Up to `per_video` clips of each video of `split`: clips, sources, rates, motion."""
    sources = np.array(read_fields(index, split, ("source_id",))["source_id"])
    picks = spread_picks(sources, per_video)
    motion = read_motion(index, split)
    places = np.log(motion["motion_map"][picks].astype(np.float32) + metrics.SPEED_FLOOR)
    return {
        "clips": read_fields(index, split, ("clips",), rows=picks)["clips"],
        "sources": sources[picks],
        "fps": motion["fps"][picks],
        "motion": motion["motion"][picks].astype(np.float64),
        "places": places - places.mean(axis=(1, 2), keepdims=True),
    }


def by_video(score, sources: np.ndarray, *arrays) -> float:
    """`score` of each video's rows, averaged over videos (every video weighs the same)."""
    values = [score(*(a[sources == v] for a in arrays)) for v in sorted(set(sources))]
    return float(np.nanmean(values))


def train_run(data: str, fraction: float, steps: int, out: Path, threads: int) -> Path:
    """Train (or finish) the run of one share; its newest training state."""
    config = TrainConfig(
        stage="small", data=data, out=str(out), arch="motion", steps=steps,
        adversarial_weight=0.0, video_fraction=fraction, threads=threads, precision="bf16",
        tensorboard=False, snapshot_every=max(steps // 2, 1), tick_every=100,
    )  # fmt: skip
    latest = find_latest(out)
    if latest is None or int(latest.stem.split("-")[-1]) < steps:
        train(config)
    return find_latest(out)


def amounts(G, train_part: dict, keep: np.ndarray, val: dict) -> tuple[np.ndarray, float]:
    """The head refit on the share's clips: its amounts for the val photos, and the share's
    median (one speed for every photo)."""
    photos = downsample(train_part["clips"][keep][:, 0], G.fmt)
    log_motion = np.log(train_part["motion"][keep] + AMOUNT_EPS)
    features = amount_features(G, photos, train_part["fps"][keep])
    beta, bias, _, _ = fit_amount_head(features, log_motion, list(train_part["sources"][keep]))
    val_features = amount_features(G, downsample(val["clips"][:, 0], G.fmt), val["fps"])
    predicted = np.exp(val_features @ beta + bias) - AMOUNT_EPS
    return np.clip(predicted, 0, None), float(np.median(train_part["motion"][keep]))


def model_scores(G, train_part: dict, keep: np.ndarray, val: dict) -> dict:
    predicted, median = amounts(G, train_part, keep, val)
    real = downsample(val["clips"], G.fmt)
    z = torch.randn(len(real), G.noise_dim, generator=torch.Generator().manual_seed(0))
    photos = torch.from_numpy(real[:, 0]).float().div(127.5).sub(1)[:, None]
    with torch.no_grad():
        clips = G(photos, z, motion=torch.from_numpy(predicted).float(),
                  fps=torch.from_numpy(val["fps"]).float())  # fmt: skip
    clips = ((clips[:, 0].clamp(-1, 1) + 1) * 127.5).round().byte().numpy()
    maps = np.stack([m for _, m in metrics.clip_flow_annotations(clips)])
    real_maps = np.stack([m for _, m in metrics.clip_flow_annotations(real)])
    sources = val["sources"]
    return {
        "speed_factor": by_video(speed_factor, sources, predicted, val["motion"]),
        "constant_factor": by_video(
            lambda m: speed_factor(np.full(len(m), median), m), sources, val["motion"]
        ),
        "where_corr": by_video(metrics.where_correlation, sources, maps, real_maps),
        "still_flow": by_video(metrics.still_area_flow, sources, maps, real_maps),
        "energy": by_video(
            lambda a, b: metrics.motion_energy(a) / metrics.motion_energy(b), sources, clips, real
        ),
    }


def probe_scores(features: dict, train_part: dict, keep: np.ndarray, val: dict) -> dict:
    """Ridge probes fit on the share: I3D for where and for the amount; scene features for
    where."""
    scores = {}
    deep_train, deep_val = features["i3d"]
    size = deep_train.shape[1:3]
    predict = fit_ridge(deep_train[keep], at_size(train_part["places"][keep], size))
    shape = val["places"].shape[1:]
    where = to_full_size(predict(deep_val), shape)
    scores["i3d_where"] = by_video(metrics.mean_correlation, val["sources"], where, val["places"])
    pooled = deep_train[keep].mean(axis=(1, 2))
    log_motion = np.log(train_part["motion"][keep] + AMOUNT_EPS)
    beta, bias, _, _ = fit_amount_head(pooled, log_motion, list(train_part["sources"][keep]))
    amount = np.exp(deep_val.mean(axis=(1, 2)) @ beta + bias) - AMOUNT_EPS
    scores["i3d_amount"] = by_video(speed_factor, val["sources"], amount, val["motion"])
    scene_train, scene_val = features["scene"]
    size = scene_train.shape[1:3]
    predict = fit_ridge(scene_train[keep], at_size(train_part["places"][keep], size))
    where = to_full_size(predict(scene_val), shape)
    scores["scene_where"] = by_video(metrics.mean_correlation, val["sources"], where, val["places"])
    return scores


def prior_features(photos: np.ndarray, end: str = "Mixed_4c") -> np.ndarray:
    """(N, h, w, D) features the motion model's scene prior reads of grey photos: I3D's first
    layers up to `end` as a 2-D network, on the photo at the context's size."""
    from scenegan.evaluation.fvd import load_i3d

    state = {k: v.contiguous() for k, v in load_i3d("cpu", gray=False).state_dict().items()}
    encoder = StillInception(end=end).eval()
    encoder.load_state_dict(collapse_i3d(state, end))
    size = tuple(CONTEXT_SCALE * n for n in photos.shape[1:3])
    out = []
    with torch.inference_mode():
        for start in range(0, len(photos), 32):
            x = torch.from_numpy(photos[start : start + 32]).float()[:, None] / 127.5 - 1
            x = torch.nn.functional.interpolate(x, size=size, mode="bilinear", antialias=True)
            out.append(encoder(x.expand(-1, 3, -1, -1)).permute(0, 2, 3, 1).numpy())
    return np.concatenate(out)


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    videos = [row["videos"] for row in rows]
    figure, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    for name, label in (("where_corr", "motion model"), ("i3d_where", "I3D ridge"),
                        ("scene_where", "prior-feature ridge")):  # fmt: skip
        axes[0].plot(videos, [row[name] for row in rows], "o-", label=label)
    axes[0].set_title("where corr (val)")
    for name, label in (("speed_factor", "motion model head"), ("i3d_amount", "I3D ridge"),
                        ("constant_factor", "one speed for all")):  # fmt: skip
        axes[1].plot(videos, [row[name] for row in rows], "o-", label=label)
    axes[1].set_title("per-photo speed factor (val, lower is better)")
    axes[2].plot(videos, [row["still_flow"] for row in rows], "o-", label="still places, px/frame")
    axes[2].plot(videos, [row["energy"] for row in rows], "o-", label="motion energy (x real)")
    axes[2].set_title("motion model")
    for axis in axes:
        axis.set_xscale("log", base=2)
        axis.set_xlabel("training videos")
        axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="datasets/motion")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--fractions", default="0.25,0.5,1")
    parser.add_argument("--out", default="runs/scaling")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--per-video", type=int, default=PER_VIDEO)
    parser.add_argument("--plot", default="docs/data_scaling.png")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    index = read_index(args.data)
    train_part = load(index, "train", args.per_video)
    val = load(index, "val", args.per_video)
    features = {
        "i3d": (i3d_features(train_part["clips"][:, 0]), i3d_features(val["clips"][:, 0])),
        "scene": (prior_features(train_part["clips"][:, 0]), prior_features(val["clips"][:, 0])),
    }
    rows = []
    for fraction in (float(f) for f in args.fractions.split(",")):
        videos = nested_videos(list(train_part["sources"]), fraction)
        keep = np.isin(train_part["sources"], videos)
        state = train_run(args.data, fraction, args.steps, Path(args.out) / f"{fraction:g}", 
                          args.threads)  # fmt: skip
        G, _ = load_generator(state)
        G.eval()
        row = {"fraction": fraction, "videos": len(videos)}
        row.update(model_scores(G, train_part, keep, val))
        row.update(probe_scores(features, train_part, keep, val))
        rows.append(row)
        print(row, flush=True)
    report(rows, len(set(val["sources"])), args)
    plot(rows, Path(args.plot))


def report(rows: list[dict], n_val: int, args) -> None:
    print(f"\n{args.data}: {n_val} val videos, every video weighed the same; {args.steps} steps")
    columns = ("speed_factor", "constant_factor", "where_corr", "still_flow", "energy",
               "i3d_where", "i3d_amount", "scene_where")  # fmt: skip
    print("| training videos | per-photo factor | one speed | where corr | still px/frame "
          "| energy (x real) | I3D where | I3D amount factor | Mixed_4c where |")  # fmt: skip
    print("|---" * (len(columns) + 1) + "|")
    for row in rows:
        print(f"| {row['videos']} | " + " | ".join(f"{row[c]:.3f}" for c in columns) + " |")
    log_videos = np.log2([row["videos"] for row in rows])
    print("\nslope per doubling of the videos, and what it predicts at 2x and 4x:")
    for column in columns:
        values = np.array([row[column] for row in rows])
        slope, intercept = np.polyfit(log_videos, values, 1)
        at = [intercept + slope * (log_videos[-1] + k) for k in (1, 2)]
        print(f"- {column}: {slope:+.3f} a doubling; 2x: {at[0]:.3f}, 4x: {at[1]:.3f}")


if __name__ == "__main__":
    main()
