"""Calibrate how much a motion model moves: its gain, set so that on held-out photos (the
select split) its animations change from frame to frame as much as the real clips do."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from scenegan.errors import UserError
from scenegan.model.animator import animate_photos, draw_noise
from scenegan.model.checkpoint import atomic_save, load_generator, read_checkpoint
from scenegan.model.downsample import downsample
from scenegan.pipeline.shards import read_split


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


def calibrate_file(path: Path | str, data: Path | str, split: str, n_clips: int) -> float:
    """Fit the gain of the exported motion generator at `path` on up to `n_clips` clips of
    `split` in `data` and write it into the file; returns the gain."""
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
    G.motion_gain.fill_(1.0)
    gain = fit_gain(G, real)
    obj = read_checkpoint(path)
    obj["G_ema"]["motion_gain"] = torch.tensor(gain)
    obj["calibration"] = {"split": split, "n_clips": len(picks), "gain": gain}
    atomic_save(obj, Path(path))
    return gain
