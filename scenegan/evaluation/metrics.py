"""Clip statistics for `scenegan evaluate`: pure numpy functions on batches of clips.

Every function takes clips as (N, T, H, W) arrays in grey levels (uint8, or float on the same
0..255 scale) and photos as (N, H, W); the README's "evaluate" section states each definition.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

FLOW_PERCENTILES = (50, 90, 99)


def _grey(array: np.ndarray) -> np.ndarray:
    # float32 keeps 256 clips at about 120 MB per copy; sums over one frame stay exact enough.
    return np.asarray(array, dtype=np.float32)


def frame_correlation(clips: np.ndarray, photos: np.ndarray) -> np.ndarray:
    """(N, T) Pearson correlation of each frame with its photo; NaN where a frame is flat."""
    clips, photos = _grey(clips), _grey(photos)
    x = clips - clips.mean(axis=(2, 3), keepdims=True)  # (N, T, H, W)
    y = photos - photos.mean(axis=(1, 2), keepdims=True)  # (N, H, W)
    y = y[:, None]  # (N, 1, H, W)
    numerator = (x * y).sum(axis=(2, 3))
    denominator = np.sqrt((x * x).sum(axis=(2, 3)) * (y * y).sum(axis=(2, 3)))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 1e-9, numerator / denominator, np.nan)


def scene_correlation(clips: np.ndarray, photos: np.ndarray) -> float:
    """Scene preservation: mean correlation of frames 1..T-1 with the photo (1 = same scene)."""
    return float(np.nanmean(frame_correlation(clips, photos)[:, 1:]))


def contrast_ratio(clips: np.ndarray, photos: np.ndarray) -> float:
    """Mean over clips of (mean spatial std of frames 1..T-1) / (spatial std of the photo).

    1 keeps the photo's contrast, 0.5 halves it; real clips score about 1. Flat photos are
    left out (their ratio is undefined).
    """
    clips, photos = _grey(clips), _grey(photos)
    frame_std = clips[:, 1:].std(axis=(2, 3)).mean(axis=1)  # (N,)
    photo_std = photos.std(axis=(1, 2))  # (N,)
    keep = photo_std > 1e-9
    if not keep.any():
        return float("nan")
    return float(np.mean(frame_std[keep] / photo_std[keep]))


def motion_energy_curve(clips: np.ndarray) -> np.ndarray:
    """(N, T-1) mean |x_t - x_{t-1}| over pixels, in grey levels."""
    return np.abs(np.diff(_grey(clips), axis=1)).mean(axis=(2, 3))


def motion_energy(clips: np.ndarray) -> float:
    """Mean |x_t - x_{t-1}| over frames, pixels and clips (grey levels); a static clip is 0."""
    return float(motion_energy_curve(clips).mean())


def loop_seam(clips: np.ndarray) -> float:
    """Mean |last frame - frame 0| over the mean frame-to-frame change: about 1 when a clip
    played on repeat jumps back no more than it moves from frame to frame; nan if it is still."""
    seam = float(np.abs(_grey(clips[:, -1]) - _grey(clips[:, 0])).mean())
    change = motion_energy(clips)
    return seam / change if change > 0 else float("nan")


def flicker(clips: np.ndarray) -> float:
    """Mean |x_{t+1} - 2 x_t + x_{t-1}| (grey levels): the temporal acceleration of each pixel.

    Static clips and pixels that change at a constant rate (smooth motion, fades) score 0;
    frames that jump back and forth score high (alternating 0/255 frames score 510).
    """
    return float(np.abs(np.diff(_grey(clips), n=2, axis=1)).mean())


def frame0_error(clips: np.ndarray, photos: np.ndarray) -> float:
    """Mean |frame 0 - photo| in grey levels: 0 when the animation starts from the photo."""
    return float(np.abs(_grey(clips)[:, 0] - _grey(photos)).mean())


def diversity(animations: np.ndarray) -> float:
    """Mean pairwise mean |a - b| (grey levels) between K animations of the same photo.

    `animations` is (P, K, T, H, W): K >= 2 noise seeds for each of P photos. A model that
    ignores its noise scores 0.
    """
    animations = _grey(animations)
    n_seeds = animations.shape[1]
    if n_seeds < 2:
        raise ValueError("diversity needs at least 2 animations per photo")
    distances = [
        np.abs(animations[:, i] - animations[:, j]).mean()
        for i in range(n_seeds)
        for j in range(i + 1, n_seeds)
    ]
    return float(np.mean(distances))


def flow_magnitudes(clips: np.ndarray) -> np.ndarray:
    """Farneback optical-flow magnitude (pixels per frame) of every pixel of every frame pair."""
    clips = np.asarray(clips)
    if clips.dtype != np.uint8:
        clips = np.clip(np.rint(clips), 0, 255).astype(np.uint8)
    magnitudes = []
    for clip in clips:
        for previous, current in zip(clip[:-1], clip[1:], strict=True):
            # Small windows and pyramids suit 80 x 45 frames; parameters are OpenCV's usual ones.
            flow = cv2.calcOpticalFlowFarneback(
                previous, current, None, 0.5, 2, 9, 3, 5, 1.1, 0
            )  # (H, W, 2)
            magnitudes.append(np.hypot(flow[..., 0], flow[..., 1]).ravel())
    return np.concatenate(magnitudes) if magnitudes else np.zeros(0)


def flow_stats(clips: np.ndarray) -> dict[str, float]:
    """Mean and percentiles (50, 90, 99) of the optical-flow magnitude, pixels per frame."""
    magnitudes = flow_magnitudes(clips)
    stats = {"mean": float(magnitudes.mean())}
    for q, value in zip(FLOW_PERCENTILES, np.percentile(magnitudes, FLOW_PERCENTILES), strict=True):
        stats[f"p{q}"] = float(value)
    return stats


# ------------------------------------------------------------------------- the metric registry


def _photo_free(function):
    return lambda clips, photos: function(clips)


def _flow_columns(clips: np.ndarray, photos: np.ndarray) -> dict[str, float]:
    return {f"flow_{name}": value for name, value in flow_stats(clips).items()}


def _motion_columns(clips: np.ndarray, photos: np.ndarray) -> dict[str, float]:
    return {"motion_energy": motion_energy(clips)}


@dataclass(frozen=True)
class Metric:
    """One column of `scenegan evaluate`'s report: its key in report.json's rows, its header in
    report.md, what it means, and how a row's clips give it.

    `compute(clips, photos)` returns the value, or a dict of values for metrics that fill
    several keys; None for the metrics evaluate works out across rows (FVD, motion ratio,
    diversity). `cell(row)` is the markdown text of the column for one row.
    """

    name: str
    header: str
    definition: str
    compute: Callable | None
    cell: Callable[[dict], str]


def _cell(name: str, digits: int = 2) -> Callable[[dict], str]:
    def cell(row: dict) -> str:
        value = row.get(name)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "-"
        return f"{value:.{digits}f}"

    return cell


METRICS: tuple[Metric, ...] = (
    Metric(
        "fvd",
        "FVD",
        "Frechet distance between Kinetics-400 I3D logits (400-d) of the row's clips made from "
        "one random half of the held-out clips and the real clips of the other half; mean +- "
        "standard deviation over the random halvings. The real row compares the two real "
        "halves (the floor).",
        None,
        lambda row: f"{row['fvd']:.1f} +- {row['fvd_std']:.1f}",
    ),
    Metric(
        "scene_corr",
        "scene corr",
        "mean Pearson correlation of frames 1..T-1 with the photo (frame 0 of the held-out "
        "clip); 1 = the scene is kept.",
        scene_correlation,
        _cell("scene_corr", 3),
    ),
    Metric(
        "contrast",
        "contrast",
        "mean over clips of (mean spatial std of frames 1..T-1) / (spatial std of the photo); "
        "1 = the photo's contrast is kept.",
        contrast_ratio,
        _cell("contrast"),
    ),
    Metric(
        "motion_ratio",
        "motion ratio",
        "motion energy (mean |x_t - x_{t-1}| in grey levels) divided by the real clips' motion "
        "energy; 1 = as much change per frame as real footage.",
        _motion_columns,
        _cell("motion_ratio"),
    ),
    Metric(
        "flow",
        "flow mean / p90",
        "Farneback optical-flow magnitude in pixels per frame over all frame pairs: mean and "
        "90th percentile.",
        _flow_columns,
        lambda row: f"{row['flow_mean']:.2f} / {row['flow_p90']:.2f}",
    ),
    Metric(
        "flicker",
        "flicker",
        "mean |x_{t+1} - 2 x_t + x_{t-1}| in grey levels: 0 for static clips and for change at "
        "a constant rate, high for frames that jump back and forth.",
        _photo_free(flicker),
        _cell("flicker"),
    ),
    Metric(
        "diversity",
        "diversity",
        "mean pairwise mean |a - b| in grey levels between animations of the same photo made "
        "with different noise (0 when the row ignores noise).",
        None,
        _cell("diversity"),
    ),
    Metric(
        "frame0_err",
        "frame-0 err",
        "mean |frame 0 - photo| in grey levels.",
        frame0_error,
        _cell("frame0_err"),
    ),
    Metric(
        "loop_seam",
        "loop seam",
        "mean |frame T-1 - frame 0| over the mean frame-to-frame change: about 1 when the clip "
        "played on repeat joins as smoothly as its frames (see --loop).",
        _photo_free(loop_seam),
        _cell("loop_seam"),
    ),
)


def clip_columns(clips: np.ndarray, photos: np.ndarray) -> dict[str, float]:
    """Every value the registry computes from one row's clips alone."""
    values: dict[str, float] = {}
    for metric in METRICS:
        if metric.compute is None:
            continue
        value = metric.compute(clips, photos)
        values.update(value if isinstance(value, dict) else {metric.name: value})
    return values
