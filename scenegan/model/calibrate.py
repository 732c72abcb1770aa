"""Calibrate how much a motion model moves, on held-out photos (the select split): how far to
trust its amount head (a shrinkage toward the training clips' median amount, fit to the clips'
measured motion), then a gain so that its animations change from frame to frame as much as the
real clips do."""

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
from scenegan.pipeline.shards import read_motion, read_split


def motion_energy(clips: np.ndarray) -> float:
    """Mean |x_t - x_{t-1}| in grey levels of uint8 clips (N, T, ...)."""
    return float(np.abs(np.diff(clips.astype(np.float32), axis=1)).mean())


def fit_gain(G: torch.nn.Module, real: np.ndarray, *, seed: int = 0, rounds: int = 4) -> float:
    """Set G.motion_gain so that G's animations of the real clips' frame 0 have the real clips'
    motion energy; returns the gain. Energy grows about linearly with the gain, so a few
    multiplicative rounds settle it."""
    photos = real[:, 0]
    target = motion_energy(real)
    z = draw_noise(G, len(photos), seed)
    for _ in range(rounds):
        made = motion_energy(animate_photos(G, photos, z))
        ratio = target / max(made, 1e-6)
        G.motion_gain.mul_(float(np.clip(ratio, 0.25, 4.0)))
    return float(G.motion_gain)


def speed_factor(predicted: np.ndarray, real: np.ndarray) -> float:
    """exp(median |ln((predicted + 0.01) / (real + 0.01))|): by what factor an amount per photo
    is typically off (evaluate's per-photo speed factor, on amounts)."""
    return float(np.exp(np.median(np.abs(np.log((predicted + 0.01) / (real + 0.01))))))


def fit_shrink(
    log_predicted: np.ndarray, real_motion: np.ndarray, center: float
) -> tuple[float, float]:
    """The shrinkage of the amount head's log predictions toward `center` (1: as predicted, 0:
    one amount for all) that best matches the measured `real_motion` per photo (the smallest
    speed factor, ties to the larger shrinkage); returns (shrink, its factor)."""
    best = (1.0, float("inf"))
    for shrink in np.linspace(1.0, 0.0, 11):
        amount = np.exp(center + shrink * (log_predicted - center)) - AMOUNT_EPS
        factor = speed_factor(np.clip(amount, 0, None), real_motion)
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
    makes its animations change from frame to frame as much as the clips do. Returns the
    calibration."""
    G, _ = load_generator(path)
    if not isinstance(getattr(G, "motion_gain", None), torch.Tensor):  # what calibration sets
        raise UserError(f"{path}: only a motion model (--arch motion) has a gain to calibrate")
    clips, _ = read_split(data, split)
    if len(clips) == 0:
        raise UserError(
            f"{data} has no {split} clips to calibrate on; build with --select-fraction"
        )
    picks = np.linspace(0, len(clips) - 1, min(n_clips, len(clips))).round().astype(int)
    real = downsample(torch.from_numpy(clips[picks]), G.fmt).numpy()
    center = float(np.median(np.log(read_motion(data, "train")["motion"] + AMOUNT_EPS)))
    real_motion = read_motion(data, split)["motion"][picks]
    log_predicted = amount_predictions(G, real[:, 0])
    shrink, factor = fit_shrink(log_predicted, real_motion, center)
    G.amount_center.fill_(center)
    G.amount_shrink.fill_(shrink)
    G.motion_gain.fill_(1.0)
    gain = fit_gain(G, real)
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
