"""The fixed input on which the PyTorch I3D port is checked against the original JAX model.

numpy only: benchmarks/i3d_reference.py imports it in a venv that has jax but neither torch nor
scenegan's dependencies, and tests/test_i3d.py feeds the same array to the port.
"""

from __future__ import annotations

import numpy as np


def reference_clip(n_frames: int = 16, size: int = 224) -> np.ndarray:
    """(1, T, H, W, 3) float32 in [-1, 1] from sin/cos of the indices (channels last, as JAX)."""
    t, h, w, c = np.meshgrid(
        np.arange(n_frames), np.arange(size), np.arange(size), np.arange(3), indexing="ij"
    )
    clip = np.sin(0.9 * t + 0.13 * h + 2.1 * c) * np.cos(0.17 * w - 0.4 * t + 0.031 * h * c)
    return clip[None].astype(np.float32)
