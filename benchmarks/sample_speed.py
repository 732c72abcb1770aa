"""How long `scenegan sample` takes for one photo, step by step; prints a table.

python benchmarks/sample_speed.py [CHECKPOINT|baseline:drift] [PHOTO]
Without a photo a synthetic 640 x 480 RGB image is used.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

started = time.perf_counter()
import numpy as np  # noqa: E402
import torch  # noqa: E402

from scenegan.animation_files import write_animation  # noqa: E402
from scenegan.model.animator import Animator  # noqa: E402

imported = time.perf_counter()


def main() -> None:
    checkpoint = sys.argv[1] if len(sys.argv) > 1 else "baseline:drift"
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        if len(sys.argv) > 2:
            photo_path = Path(sys.argv[2])
        else:
            from PIL import Image

            photo_path = folder / "photo.jpg"
            rng = np.random.default_rng(0)
            Image.fromarray(rng.integers(0, 255, (480, 640, 3), np.uint8)).save(photo_path)
        rows = [("import torch + scenegan.model.animator", imported - started)]
        t = time.perf_counter()
        animator = Animator.load(checkpoint)
        rows.append(("load generator", time.perf_counter() - t))
        t = time.perf_counter()
        photo = animator.photo(photo_path)
        rows.append(("read + prepare photo", time.perf_counter() - t))
        for attempt in (1, 2, 3):
            t = time.perf_counter()
            frames = animator.animations(photo, 1, attempt)[0]
            rows.append((f"animate (call {attempt})", time.perf_counter() - t))
        for suffix in ("gif", "mp4", "npy"):
            t = time.perf_counter()
            write_animation(folder / f"out.{suffix}", frames, fps=animator.fps, scale=4)
            rows.append((f"write {suffix} (scale 4)", time.perf_counter() - t))
    print(f"checkpoint {checkpoint}, torch threads {torch.get_num_threads()}")
    print(f"{'step':40s} {'seconds':>8s}")
    for name, seconds in rows:
        print(f"{name:40s} {seconds:8.3f}")


if __name__ == "__main__":
    main()
