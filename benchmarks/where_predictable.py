"""Can *where* a scene moves be told from its photo? Predictors fit on the training videos,
scored on new videos, side by side with what the videos themselves say.

    python benchmarks/where_predictable.py [--data datasets/default] [--no-i3d] [--context]

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

With `--context` (a dataset of format 3, built with `--context-scale 4`), rows that see more than
the 80 x 45 grey photo: the same hand features of the context's grey at 2x and 4x (area-pooled
to the clip's grid) with its colour (Lab, pooled), and the scene prior's features (I3D up to
Mixed_4c as a 2-D network, model/still_inception.py) of the grey photo enlarged 4x, of the colour
context at 2x (enlarged to 4x) and at 4x.
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


def load_split(index, split: str, context: bool = False) -> dict:
    sources = np.array(read_fields(index, split, ("source_id",))["source_id"])
    picks = spread_picks(sources, PER_VIDEO)
    maps = read_motion(index, split)["motion_map"][picks].astype(np.float32)
    places = np.log(maps + SPEED_FLOOR)
    fields = read_fields(index, split, ("clips", "context") if context else ("clips",), picks)
    return {
        "photos": fields["clips"][:, 0],
        "context": fields.get("context"),
        "places": places - places.mean(axis=(1, 2), keepdims=True),
        "sources": sources[picks],
    }


def context_hand_features(context: np.ndarray, scale: int, grid: tuple[int, int]) -> np.ndarray:
    """(H, W, 31) hand features of a uint8 RGB context seen at `scale` x the clip's size: those
    of its grey at that detail, pooled to the clip's grid, and its Lab colour there."""
    height, width = grid
    seen = cv2.resize(context, (width * scale, height * scale), interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(seen, cv2.COLOR_RGB2GRAY)
    detail = hand_features(grey)
    pooled = cv2.resize(detail, (width, height), interpolation=cv2.INTER_AREA)
    lab = cv2.cvtColor(seen, cv2.COLOR_RGB2LAB).astype(np.float32) / 255.0
    colour = cv2.resize(lab, (width, height), interpolation=cv2.INTER_AREA)
    return np.concatenate([pooled, colour], axis=-1)


def prior_features(images: np.ndarray, grid: tuple[int, int], colour: bool) -> np.ndarray:
    """(N, h, w, 512) scene-prior features (Mixed_4c) of uint8 grey photos or RGB contexts,
    each enlarged (or reduced) to 4x the clip's grid, as the motion model reads them."""
    from scenegan.evaluation.fvd import load_i3d
    from scenegan.model.still_inception import StillInception, collapse_i3d

    state = {k: v.contiguous() for k, v in load_i3d("cpu", gray=False).state_dict().items()}
    encoder = StillInception(end="Mixed_4c").eval()
    encoder.load_state_dict(collapse_i3d(state, "Mixed_4c"))
    size = (4 * grid[0], 4 * grid[1])
    out = []
    with torch.inference_mode():
        for start in range(0, len(images), 32):
            x = torch.from_numpy(images[start : start + 32]).float() / 127.5 - 1
            x = x.permute(0, 3, 1, 2) if colour else x[:, None].expand(-1, 3, -1, -1)
            x = F.interpolate(x, size=size, mode="bilinear", antialias=True)
            out.append(encoder(x).permute(0, 2, 3, 1).numpy())
    return np.concatenate(out)


def grid_ridge_row(name: str, features: dict, train: dict, val: dict) -> tuple[str, float, float]:
    """The row of a ridge fit per cell of a coarser feature grid (features[split]: (N, h, w,
    D)), its predictions enlarged to the clip's size."""
    shape = train["places"].shape[1:]
    predict = fit_ridge(features["train"], at_size(train["places"], features["train"].shape[1:3]))
    return (
        f"ridge on {name}",
        mean_correlation(to_full_size(predict(features["val"]), shape), val["places"]),
        mean_correlation(to_full_size(predict(features["train"]), shape), train["places"]),
    )


def context_rows(train: dict, val: dict) -> list[tuple[str, float, float]]:
    """The rows of --context: hand and prior features of the grey photo and the context."""
    shape = train["places"].shape[1:]
    rows = []
    for scale in (2, 4):
        hand = {
            name: np.stack([context_hand_features(c, scale, shape) for c in split["context"]])
            for name, split in (("train", train), ("val", val))
        }
        predict = fit_ridge(hand["train"], train["places"])
        rows.append(
            (
                f"ridge on hand features of the colour context at {scale}x",
                mean_correlation(predict(hand["val"]), val["places"]),
                mean_correlation(predict(hand["train"]), train["places"]),
            )
        )
    for name, key, colour, scale in (
        ("the grey photo", "photos", False, 1),
        ("the colour context at 2x", "context", True, 2),
        ("the colour context at 4x", "context", True, 4),
    ):
        images = {}
        for split_name, split in (("train", train), ("val", val)):
            source = split[key]
            if colour and scale == 2:  # the 4x context seen at 2x, then enlarged as the model does
                source = np.stack(
                    [cv2.resize(c, (shape[1] * 2, shape[0] * 2), interpolation=cv2.INTER_AREA)
                     for c in source]
                )  # fmt: skip
            images[split_name] = prior_features(source, shape, colour)
        rows.append(
            grid_ridge_row(f"scene-prior (Mixed_4c) features of {name}", images, train, val)
        )
    return rows


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
    parser.add_argument("--context", action="store_true", help="rows of the colour context")
    args = parser.parse_args()
    torch.set_num_threads(2)
    index = read_index(args.data)
    train = load_split(index, "train", args.context)
    val = load_split(index, "val", args.context)
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
        rows.append(grid_ridge_row(f"I3D {I3D_LAYER} features", deep, train, val))
    if args.context:
        rows += context_rows(train, val)
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
