"""Clip statistics for `scenegan evaluate`: pure numpy functions on batches of clips.

Every function takes clips as (N, T, H, W) arrays in grey levels (uint8, or float on the same
0..255 scale) and photos as (N, H, W); the README's "evaluate" section states each definition.
"""

from __future__ import annotations

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
