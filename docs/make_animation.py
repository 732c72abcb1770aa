"""Rebuild docs/animation.gif: every shipped example photo, then two animations of it.

    python docs/make_animation.py [CHECKPOINT]

Runs `scenegan sample --grid --n 2 --seed 0 --scale 2` on scenegan/examples/ and stacks the
per-photo grids into one looping GIF, one photo per row.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

from scenegan.animation_files import read_animation, tile, write_gif
from scenegan.model.sample import SampleConfig, sample

GAP = 4  # white rows between photos


def main() -> None:
    checkpoint = sys.argv[1] if len(sys.argv) > 1 else None
    with tempfile.TemporaryDirectory() as tmp:
        config = SampleConfig(checkpoint=checkpoint, out=Path(tmp), n=2, seed=0, grid=True, scale=2)
        rows = np.stack([read_animation(path) for path in sample(config)])  # (photos, T, H, W)
    frames = tile(rows, columns=1, gap=GAP)
    n_frames = len(frames)
    out = Path(__file__).parent / "animation.gif"
    write_gif(out, frames)
    print(f"wrote {out} ({frames.shape[2]} x {frames.shape[1]}, {n_frames} frames)")


if __name__ == "__main__":
    main()
