"""Sample grids as animated GIFs: one row per fixed photo, the real clip then one clip per noise."""

from __future__ import annotations

import numpy as np

from scenegan.animation_files import tile, upscale
from scenegan.animation_files import write_gif as save_gif  # noqa: F401 - train.py's name
from scenegan.clip_format import from_unit


def tile_clips(rows: np.ndarray, gap: int = 1, scale: int = 2) -> np.ndarray:
    """rows (R, C, T, H, W) float in [-1, 1] -> uint8 frames (T, R*(H+gap), C*(W+gap)), scaled."""
    n_rows, n_cols = rows.shape[:2]
    clips = from_unit(rows.reshape(n_rows * n_cols, *rows.shape[2:]))  # (R * C, T, H, W)
    return upscale(tile(clips, columns=n_cols, gap=gap), scale)
