"""Sample grids as animated GIFs: one row per fixed photo, the real clip then one clip per noise."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from scenegan.clip_format import DEFAULT_FPS, from_unit


def tile_clips(rows: np.ndarray, gap: int = 1, scale: int = 2) -> np.ndarray:
    """rows (R, C, T, H, W) float in [-1, 1] -> uint8 frames (T, R*(H+gap), C*(W+gap)), scaled."""
    n_rows, n_cols, n_frames, height, width = rows.shape
    canvas = np.full(
        (n_frames, n_rows * (height + gap) - gap, n_cols * (width + gap) - gap), 255, np.uint8
    )
    clips = from_unit(rows)
    for r in range(n_rows):
        for c in range(n_cols):
            top, left = r * (height + gap), c * (width + gap)
            canvas[:, top : top + height, left : left + width] = clips[r, c]
    return canvas.repeat(scale, axis=1).repeat(scale, axis=2)


def save_gif(path: Path, frames: np.ndarray, fps: float = DEFAULT_FPS) -> None:
    """uint8 (T, H, W) -> looping GIF, written to a temporary name and renamed."""
    images = [Image.fromarray(frame, mode="L") for frame in frames]
    tmp = path.with_name(path.name + ".tmp")
    images[0].save(
        tmp,
        format="GIF",
        save_all=True,
        append_images=images[1:],
        duration=round(1000 / fps),
        loop=0,
    )
    os.replace(tmp, path)
