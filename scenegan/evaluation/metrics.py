"""Clip statistics for `scenegan evaluate`: pure numpy functions on batches of clips.

Every function takes clips as (N, T, H, W) arrays in grey levels (uint8, or float on the same
0..255 scale) and photos as (N, H, W); docs/evaluation.md states each definition.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from scenegan.pipeline.motion_fields import (
    STILL_FLOW,
    frame_change,
    mean_correlation,
)

# No OpenCV thread pool in this process: worker processes forked from it (the build's) would
# inherit the pool's locks and hang at exit; the frames here are small, threads buy nothing.
cv2.setNumThreads(0)

FLOW_PERCENTILES = (50, 90, 99)
# Flow speeds (pixels per frame) are compared on a log scale with this floor, so a still clip
# (speed 0) has a finite distance (issue 25's per-photo factor uses the same 0.01).
SPEED_FLOOR = 0.01


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


def clip_flow_speeds(clips: np.ndarray, cache: dict | None = None) -> np.ndarray:
    """(N,) each clip's flow speed: its mean DIS optical-flow magnitude over pixels and frame
    pairs, pixels per frame (pipeline/motion_fields.py, as the dataset's `motion`). `cache`
    (clip bytes -> speed and map) saves measuring the same clip twice (evaluate's groups)."""
    return np.array([speed for speed, _ in clip_flow_annotations(clips, cache)])


def clip_flow_maps(clips: np.ndarray, cache: dict | None = None) -> np.ndarray:
    """(N, H, W) each clip's DIS flow speed per pixel, averaged over its frame pairs (the
    dataset's `motion_map`), pixels per frame; `cache` as clip_flow_speeds'."""
    return np.stack([speed_map for _, speed_map in clip_flow_annotations(clips, cache)])


def clip_flow_annotations(clips: np.ndarray, cache: dict | None = None) -> list[tuple]:
    """(flow speed, flow speed map) of each clip, measured once per clip bytes in `cache`."""
    from scenegan.pipeline.motion_fields import annotate_clip

    clips = np.asarray(clips)
    if clips.dtype != np.uint8:
        clips = np.clip(np.rint(clips), 0, 255).astype(np.uint8)
    annotations = []
    for clip in clips:
        key = clip.tobytes() if cache is not None else None
        if key is None or key not in cache:
            motion = annotate_clip(clip)
            value = (float(motion.motion), np.asarray(motion.motion_map, np.float32))
            if key is None:
                annotations.append(value)
                continue
            cache[key] = value
        annotations.append(cache[key])
    return annotations


def still_area_flow(maps: np.ndarray, real_maps: np.ndarray, still: float = STILL_FLOW) -> float:
    """Mean flow speed (pixels per frame) of a row's clips where their photo's real clip stood
    still (its mean flow under `still`): rock, buildings, trunks. Over the clips with at least
    5% of such pixels; nan if none has. The real row reads how still those places really were."""
    values = [
        float(speed_map[place].mean())
        for speed_map, real_map in zip(maps, real_maps, strict=True)
        if (place := real_map < still).mean() >= 0.05
    ]
    return float(np.mean(values)) if values else float("nan")


def texture_change(clips: np.ndarray, real_maps: np.ndarray, moved: bool) -> float:
    """Mean |x_t - x_{t-1}| in grey levels of a row's clips in the places where their photo's
    real clip moved (its mean flow above STILL_FLOW, `moved`) or stood still: how much the
    picture changes there, warp and texture together; nan where no clip has such places."""
    return frame_change(_grey(clips), real_maps, moved)


def where_correlation(maps: np.ndarray, real_maps: np.ndarray) -> float:
    """Mean over clips of the Pearson correlation between the log flow-speed map (log(speed +
    SPEED_FLOOR), per pixel) of a row's clip and that of its photo's real continuation: 1 when
    it moves in the places its scene moved and stands still where it stood, 0 or below when it
    moves elsewhere. Motion everywhere alike scores a little above 0, as DIS reads flow best
    where there is texture, in both clips alike. Clips whose map is uniform (a copied photo)
    are skipped; nan if every one is."""
    return mean_correlation(np.log(maps + SPEED_FLOOR), np.log(real_maps + SPEED_FLOOR))


def speed_ratio(speeds: np.ndarray, real_speeds: np.ndarray) -> float:
    """Median flow speed of a row's clips over the real clips' median: 1 = as fast as real."""
    real = float(np.median(real_speeds))
    return float(np.median(speeds)) / real if real > 0 else float("nan")


def wasserstein_1d(a: np.ndarray, b: np.ndarray) -> float:
    """Wasserstein-1 distance between two 1-D samples: the area between their CDFs."""
    a, b = np.sort(np.asarray(a, np.float64)), np.sort(np.asarray(b, np.float64))
    points = np.concatenate([a, b])
    points.sort()
    widths = np.diff(points)
    cdf_a = np.searchsorted(a, points[:-1], side="right") / len(a)
    cdf_b = np.searchsorted(b, points[:-1], side="right") / len(b)
    return float(np.sum(np.abs(cdf_a - cdf_b) * widths))


def log_speed_distance(speeds: np.ndarray, real_speeds: np.ndarray) -> float:
    """Wasserstein-1 distance between the log10(speed + SPEED_FLOOR) distributions of a row's
    clips and the real clips: 0 = the same spread of slow and fast clips; 1 = a factor of ten."""
    return wasserstein_1d(np.log10(speeds + SPEED_FLOOR), np.log10(real_speeds + SPEED_FLOOR))


def per_photo_speed_factor(speeds: np.ndarray, real_speeds: np.ndarray) -> float:
    """By what factor each animation's flow speed is typically off from its own photo's real
    continuation: exp(median over clips of |ln((s_gen + 0.01) / (s_real + 0.01))|); 1 = exact."""
    ratios = np.log((np.asarray(speeds) + SPEED_FLOOR) / (np.asarray(real_speeds) + SPEED_FLOOR))
    return float(np.exp(np.median(np.abs(ratios))))


def constant_speed_factor(real_speeds: np.ndarray) -> float:
    """per_photo_speed_factor of one speed for every photo, the real median: what knowing only
    the typical amount of motion scores."""
    constant = np.full(len(real_speeds), np.median(real_speeds))
    return per_photo_speed_factor(constant, real_speeds)


def speed_columns(speeds: np.ndarray, real_speeds: np.ndarray) -> dict[str, float]:
    """The flow-speed columns of one row against the real clips of the same photos."""
    return {
        "flow_speed": float(np.median(speeds)),
        "flow_speed_ratio": speed_ratio(speeds, real_speeds),
        "speed_w1": log_speed_distance(speeds, real_speeds),
        "speed_factor": per_photo_speed_factor(speeds, real_speeds),
    }


def kernel_distance(x: np.ndarray, y: np.ndarray, degree: int = 3) -> float:
    """Unbiased squared MMD between feature sets (N, d) and (M, d) with the polynomial kernel
    k(a, b) = (a . b / d + 1) ** degree: KID on Inception features, KVD on I3D features."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    n, m, dim = len(x), len(y), x.shape[1]
    if n < 2 or m < 2:
        return float("nan")
    k_xx = (x @ x.T / dim + 1) ** degree
    k_yy = (y @ y.T / dim + 1) ** degree
    k_xy = (x @ y.T / dim + 1) ** degree
    within_x = (k_xx.sum() - np.trace(k_xx)) / (n * (n - 1))
    within_y = (k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(within_x + within_y - 2 * k_xy.mean())


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


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _cell(name: str, digits: int = 2) -> Callable[[dict], str]:
    def cell(row: dict) -> str:
        value = row.get(name)
        return "-" if _missing(value) else f"{value:.{digits}f}"

    return cell


def _spread_cell(name: str, digits: int = 1) -> Callable[[dict], str]:
    """`mean +- std` of a halved metric (FVD, KVD); `-` for a row without it."""

    def cell(row: dict) -> str:
        if _missing(row.get(name)):
            return "-"
        return f"{row[name]:.{digits}f} +- {row.get(name + '_std', float('nan')):.{digits}f}"

    return cell


def _speed_cell(row: dict) -> str:
    if _missing(row.get("flow_speed")):
        return "-"
    ratio = row.get("flow_speed_ratio")
    return f"{row['flow_speed']:.2f}" + ("" if _missing(ratio) else f" ({ratio:.2f}x)")


METRICS: tuple[Metric, ...] = (
    Metric(
        "fvd",
        "FVD",
        "Frechet distance between Kinetics-400 I3D logits (400-d) of the row's clips made from "
        "one random half of the held-out clips and the real clips of the other half; mean +- "
        "standard deviation over the random halvings. The real row compares the two real "
        "halves (the floor).",
        None,
        _spread_cell("fvd"),
    ),
    Metric(
        "kvd",
        "KVD",
        "unbiased squared MMD between the same I3D logits as FVD with the cubic polynomial "
        "kernel (a . b / 400 + 1)^3, as KID on Inception features; the same halvings as FVD "
        "(mean +- standard deviation). Less biased than FVD at a few hundred clips; about 0 "
        "for real vs real.",
        None,
        _spread_cell("kvd"),
    ),
    Metric(
        "flow_speed",
        "flow speed (x real)",
        "median over clips of each clip's mean OpenCV DIS optical-flow magnitude (pixels per "
        "frame, the dataset's `motion`), and that median over the real clips' median.",
        None,
        _speed_cell,
    ),
    Metric(
        "speed_w1",
        "speed W1",
        "Wasserstein-1 distance between the log10(flow speed + 0.01) distributions of the "
        "row's clips and the real clips (0 = the same mix of slow and fast clips).",
        None,
        _cell("speed_w1"),
    ),
    Metric(
        "speed_factor",
        "per-photo speed off by",
        "exp(median over clips of |ln((s_gen + 0.01) / (s_real + 0.01))|), s the flow speed of "
        "a photo's animation and of its own real continuation: 1 = every photo moves as fast "
        "as its scene did. The row 'one speed (real median)' gives every photo the real "
        "median speed: what knowing only the typical amount scores.",
        None,
        _cell("speed_factor"),
    ),
    Metric(
        "still_flow",
        "flow where real is still",
        "mean DIS flow speed (pixels per frame) of the row's clips in the places where the "
        "photo's real clip moved less than 0.05 px a frame (rock, buildings, trunks), over the "
        "clips with at least 5% of such places: about the real row's value when what stands "
        "still stays still.",
        None,
        _cell("still_flow", 3),
    ),
    Metric(
        "where_corr",
        "where corr",
        "mean over clips of the Pearson correlation between the per-pixel log DIS flow speed "
        "(averaged over frame pairs, log(px a frame + 0.01)) of the row's clip and of its "
        "photo's real continuation: does it move where its scene moved? 1 for the real row by "
        "construction, 0 or below for motion elsewhere; motion everywhere alike (the drifting "
        "photo) scores a little above 0, as DIS reads flow best where there is texture. "
        "Uniform maps (a copied photo) are skipped.",
        None,
        _cell("where_corr", 3),
    ),
    Metric(
        "texture_moved",
        "change where moved / still",
        "mean |x_t - x_{t-1}| in grey levels of the row's clips where the photo's real clip "
        "moved (its mean DIS flow above 0.05 px a frame) / where it stood still: the real row "
        "says how much real footage changes in each; warp and texture change together.",
        None,
        lambda row: (
            "-"
            if _missing(row.get("texture_moved"))
            else f"{row['texture_moved']:.2f} / {row['texture_still']:.2f}"
        ),
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
        lambda row: (
            "-"
            if _missing(row.get("flow_mean"))
            else f"{row['flow_mean']:.2f} / {row['flow_p90']:.2f}"
        ),
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
