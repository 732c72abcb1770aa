"""Can *where* a scene moves be told from its photo? Predictors fit on the training videos,
scored on new videos, side by side with what the videos themselves say.

    python benchmarks/where_predictable.py [--data datasets/default] [--no-i3d]

Each clip's target is its `motion_map` (per-pixel DIS flow speed, averaged over frame pairs):
log(px a frame + 0.01), minus its mean, so only the places count, not the amount. Every score
is evaluate's `where corr`: the Pearson correlation of a prediction with the real map, averaged
over the val clips (the last column: over the training clips the predictor was fit on). Rows:
- another clip of the same video, and a clip of another video: what the videos themselves say;
- the training clips' mean map: a prior on position alone;
- ridge regression per pixel on hand features of the photo (position, brightness, gradients and
  local variance at four scales);
- ridge regression per pixel on the Kinetics I3D features of the photo (Mixed_4f, 14 x 14, the
  FVD network's weights), the only row that knows more than these videos.
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from scenegan.evaluation.metrics import SPEED_FLOOR, mean_correlation
from scenegan.model.prior_fit import spread_picks
from scenegan.pipeline.shards import read_fields, read_index, read_motion

PER_VIDEO = 6  # clips per video: neighbouring clips of one video are nearly the same
I3D_LAYER, I3D_FRAMES = "Mixed_4f", 9  # a still photo repeated: I3D's shortest input
RIDGE = 1e4  # per-pixel ridge strength on standardised features (a few hundred thousand rows)


def load_split(index, split: str) -> dict:
    sources = np.array(read_fields(index, split, ("source_id",))["source_id"])
    picks = spread_picks(sources, PER_VIDEO)
    maps = read_motion(index, split)["motion_map"][picks].astype(np.float32)
    places = np.log(maps + SPEED_FLOOR)
    return {
        "photos": read_fields(index, split, ("clips",), rows=picks)["clips"][:, 0],
        "places": places - places.mean(axis=(1, 2), keepdims=True),
        "sources": sources[picks],
    }


def pair_corr(places: np.ndarray, sources: np.ndarray, same: bool, rng) -> float:
    """where corr between two clips of one video (`same`) or of two videos."""
    pairs = [rng.choice(len(places), 2, replace=False) for _ in range(400)]
    pairs = np.array([(a, b) for a, b in pairs if (sources[a] == sources[b]) == same])
    return mean_correlation(places[pairs[:, 0]], places[pairs[:, 1]])


def hand_features(photo: np.ndarray) -> np.ndarray:
    """(H, W, 28) per-pixel features of a uint8 photo."""
    gray = photo.astype(np.float32) / 255.0
    height, width = gray.shape
    rows, cols = np.mgrid[0:height, 0:width] / np.array([height, width])[:, None, None]
    features = [rows, cols, gray]
    for sigma in (0.7, 1.5, 3.0, 6.0):
        blurred = cv2.GaussianBlur(gray, (0, 0), sigma)
        gx, gy = cv2.Sobel(blurred, cv2.CV_32F, 1, 0), cv2.Sobel(blurred, cv2.CV_32F, 0, 1)
        gradient = np.sqrt(gx**2 + gy**2)
        variance = cv2.GaussianBlur(gray**2, (0, 0), sigma) - blurred**2
        features += [
            blurred,
            np.log(gradient + 1e-3),
            np.abs(gx) / (gradient + 1e-3),  # how vertical its edges are
            np.log(np.abs(cv2.Laplacian(blurred, cv2.CV_32F)) + 1e-3),
            np.log(np.clip(variance, 0, None) + 1e-5),
            np.log(cv2.GaussianBlur(gradient, (0, 0), 3.0) + 1e-3),
        ]
    features.append(np.full_like(gray, gray.std()))
    return np.stack(features, axis=-1)


def i3d_features(photos: np.ndarray) -> np.ndarray:
    """(N, 14, 14, 832) I3D features of uint8 photos, each shown as a still clip."""
    from scenegan.evaluation.fvd import load_i3d, preprocess

    model, out = load_i3d("cpu", gray=True), []
    with torch.inference_mode():
        for start in range(0, len(photos), 8):
            still = np.repeat(photos[start : start + 8, None], I3D_FRAMES, axis=1)
            x = preprocess(torch.from_numpy(still), channels=1)
            out.append(model.end_point(x, I3D_LAYER).mean(dim=2).permute(0, 2, 3, 1).numpy())
    return np.concatenate(out)


def fit_ridge(features: np.ndarray, targets: np.ndarray):
    """Per-pixel ridge regression: (N, h, w, D) features -> (N, h, w) targets; returns the
    predictor for features shaped alike."""
    x = features.reshape(-1, features.shape[-1]).astype(np.float64)
    mean, std = x.mean(0), x.std(0) + 1e-6
    x = (x - mean) / std
    beta = np.linalg.solve(x.T @ x + RIDGE * np.eye(x.shape[1]), x.T @ targets.ravel())
    return lambda f: ((f.reshape(-1, f.shape[-1]) - mean) / std @ beta).reshape(f.shape[:-1])


def at_size(places: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return F.adaptive_avg_pool2d(torch.from_numpy(places)[:, None], size)[:, 0].numpy()


def to_full_size(predicted: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    resized = F.interpolate(
        torch.from_numpy(predicted).float()[:, None], size=shape, mode="bilinear"
    )
    return resized[:, 0].numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="datasets/default")
    parser.add_argument("--no-i3d", action="store_true", help="skip the I3D row (minutes)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    index = read_index(args.data)
    train, val = load_split(index, "train"), load_split(index, "val")
    shape = train["places"].shape[1:]
    rng = np.random.default_rng(0)
    rows = [
        (
            "another clip of the same video",
            pair_corr(val["places"], val["sources"], True, rng),
            pair_corr(train["places"], train["sources"], True, rng),
        ),
        (
            "a clip of another video",
            pair_corr(val["places"], val["sources"], False, rng),
            pair_corr(train["places"], train["sources"], False, rng),
        ),
    ]
    prior = train["places"].mean(axis=0)
    rows.append(
        (
            "the training clips' mean map",
            mean_correlation(np.broadcast_to(prior, val["places"].shape), val["places"]),
            mean_correlation(np.broadcast_to(prior, train["places"].shape), train["places"]),
        )
    )
    hand = {
        name: np.stack([hand_features(p) for p in split["photos"]])
        for name, split in (("train", train), ("val", val))
    }
    predict = fit_ridge(hand["train"], train["places"])
    rows.append(
        (
            "ridge on hand features",
            mean_correlation(predict(hand["val"]), val["places"]),
            mean_correlation(predict(hand["train"]), train["places"]),
        )
    )
    if not args.no_i3d:
        deep = {"train": i3d_features(train["photos"]), "val": i3d_features(val["photos"])}
        size = deep["train"].shape[1:3]
        predict = fit_ridge(deep["train"], at_size(train["places"], size))
        rows.append(
            (
                f"ridge on I3D {I3D_LAYER} features",
                mean_correlation(to_full_size(predict(deep["val"]), shape), val["places"]),
                mean_correlation(to_full_size(predict(deep["train"]), shape), train["places"]),
            )
        )
    n_videos = {
        name: len(set(split["sources"])) for name, split in (("train", train), ("val", val))
    }
    print(
        f"where corr: {len(val['places'])} val clips of {n_videos['val']} new videos; fit on "
        f"{len(train['places'])} clips of {n_videos['train']} training videos\n"
    )
    print("| predictor of the places that move | val (new videos) | train (fit on) |")
    print("|---|---|---|")
    for name, on_val, on_train in rows:
        print(f"| {name} | {on_val:.3f} | {on_train:.3f} |")


if __name__ == "__main__":
    main()
