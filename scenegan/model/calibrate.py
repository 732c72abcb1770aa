"""Calibrate how much a motion model moves, on held-out photos (the select split): how far to
trust its amount head (a shrinkage toward the training clips' median amount, fit to the clips'
measured motion), then a gain so that its animations move at the real clips' optical-flow
speed. Every source video weighs the same."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from scenegan.clip_format import channels_first, to_unit
from scenegan.errors import UserError
from scenegan.model.animator import animate_photos, draw_noise
from scenegan.model.checkpoint import atomic_save, load_generator, read_checkpoint
from scenegan.model.downsample import downsample
from scenegan.model.motion import AMOUNT_EPS
from scenegan.pipeline.motion_fields import annotate_clip
from scenegan.pipeline.shards import read_motion, read_split


def video_weights(sources: list[str]) -> np.ndarray:
    """One weight per clip so that every source video counts the same (a split of a few
    videos is often mostly one of them)."""
    counts = {source: sources.count(source) for source in set(sources)}
    return np.array([1.0 / counts[source] for source in sources])


def weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, cumulative[-1] / 2)])


def clip_speeds(clips: np.ndarray) -> np.ndarray:
    """Each uint8 clip's mean DIS flow speed, pixels per frame (the dataset's `motion`)."""
    return np.array([annotate_clip(clip).motion for clip in clips])


def fit_gain(
    G: torch.nn.Module, real: np.ndarray, weights: np.ndarray, *, seed: int = 0, rounds: int = 3
) -> float:
    """Set G.motion_gain so that G's animations of the real clips' frame 0 move at the real
    clips' median optical-flow speed (each video weighing the same); returns the gain. Speed
    grows about linearly with the gain, so a few multiplicative rounds settle it.

    Flow speed, not pixel change: a select split of a few videos can be mostly rain on a window,
    change without flow, and matching its pixel change made a model move ten times too fast."""
    photos = real[:, 0]
    target = weighted_median(clip_speeds(real), weights)
    z = draw_noise(G, len(photos), seed)
    for _ in range(rounds):
        made = weighted_median(clip_speeds(animate_photos(G, photos, z)), weights)
        G.motion_gain.mul_(float(np.clip(target / max(made, 1e-4), 0.25, 4.0)))
    return float(G.motion_gain)


def speed_factor(
    predicted: np.ndarray, real: np.ndarray, weights: np.ndarray | None = None
) -> float:
    """exp(median |ln((predicted + 0.01) / (real + 0.01))|): by what factor an amount per photo
    is typically off (evaluate's per-photo speed factor, on amounts); `weights` per clip."""
    errors = np.abs(np.log((predicted + 0.01) / (real + 0.01)))
    weights = np.ones(len(errors)) if weights is None else weights
    return float(np.exp(weighted_median(errors, weights)))


def fit_shrink(
    log_predicted: np.ndarray,
    real_motion: np.ndarray,
    center: float,
    weights: np.ndarray | None = None,
) -> tuple[float, float]:
    """The shrinkage of the amount head's log predictions toward `center` (1: as predicted, 0:
    one amount for all) that best matches the measured `real_motion` per photo (the smallest
    speed factor, ties to the larger shrinkage); returns (shrink, its factor)."""
    best = (1.0, float("inf"))
    for shrink in np.linspace(1.0, 0.0, 11):
        amount = np.exp(center + shrink * (log_predicted - center)) - AMOUNT_EPS
        factor = speed_factor(np.clip(amount, 0, None), real_motion, weights)
        if factor < best[1] - 1e-9:
            best = (float(shrink), factor)
    return best


def amount_predictions(G: torch.nn.Module, photos: np.ndarray) -> np.ndarray:
    """The amount head's log predictions (N,) for uint8 photos at G's format."""
    unit = channels_first(torch.from_numpy(to_unit(photos)), G.fmt).contiguous()
    with torch.no_grad():
        encoded = G.encode(unit.float())
        return G.predict_amount(encoded, G.fps.expand(len(photos))).numpy()


def calibrate_file(path: Path | str, data: Path | str, split: str, n_clips: int) -> dict:
    """Calibrate the exported motion generator at `path` on up to `n_clips` clips of `split` in
    `data` and write it into the file: first the amount head's shrinkage toward the training
    clips' median amount (fit to the measured motion of the split's clips), then the gain that
    makes its animations move at the clips' median flow speed. Returns the calibration."""
    G, _ = load_generator(path)
    if not isinstance(getattr(G, "motion_gain", None), torch.Tensor):  # what calibration sets
        raise UserError(f"{path}: only a motion model (--arch motion) has a gain to calibrate")
    clips, sources = read_split(data, split)
    if len(clips) == 0:
        raise UserError(
            f"{data} has no {split} clips to calibrate on; build with --select-fraction"
        )
    picks = np.linspace(0, len(clips) - 1, min(n_clips, len(clips))).round().astype(int)
    real = downsample(torch.from_numpy(clips[picks]), G.fmt).numpy()
    weights = video_weights([sources[i] for i in picks])
    center = float(np.median(np.log(read_motion(data, "train")["motion"] + AMOUNT_EPS)))
    real_motion = read_motion(data, split)["motion"][picks]
    log_predicted = amount_predictions(G, real[:, 0])
    shrink, factor = fit_shrink(log_predicted, real_motion, center, weights)
    G.amount_center.fill_(center)
    G.amount_shrink.fill_(shrink)
    G.motion_gain.fill_(1.0)
    gain = fit_gain(G, real, weights)
    obj = read_checkpoint(path)
    calibration = {
        "split": split,
        "n_clips": len(picks),
        "amount_center": center,
        "amount_shrink": shrink,
        "amount_factor": factor,
        "gain": gain,
    }
    for name in ("amount_center", "amount_shrink", "motion_gain"):
        obj["G_ema"][name] = getattr(G, name).clone()
    obj["calibration"] = calibration
    atomic_save(obj, Path(path))
    return calibration
