"""Write and read animations: looped GIF (Pillow), H.264 MP4 (PyAV) and raw uint8 `.npy`.

Frames are uint8 (T, H, W) grey; `scale` enlarges GIF and MP4 for viewing, never `.npy`.
Every file is written to a temporary name and renamed.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

FORMATS = ("gif", "mp4", "npy")
RESAMPLING = {"nearest": cv2.INTER_NEAREST, "area": cv2.INTER_AREA, "bicubic": cv2.INTER_CUBIC}


def upscale(frames: np.ndarray, scale: int, resample: str = "nearest") -> np.ndarray:
    """(T, H, W) uint8 -> (T, H * scale, W * scale) uint8."""
    if scale == 1:
        return frames
    height, width = frames.shape[1] * scale, frames.shape[2] * scale
    return np.stack(
        [cv2.resize(f, (width, height), interpolation=RESAMPLING[resample]) for f in frames]
    )


def _tmp(path: Path) -> Path:
    # Keep the real suffix last: PyAV and Pillow pick the container from it.
    return path.with_name(f".{path.stem}.tmp{path.suffix}")


def write_gif(path: Path, frames: np.ndarray, fps: float) -> None:
    """Looped grey GIF. GIF delays are in 1/100 s, so the rate is rounded to that."""
    from PIL import Image

    images = [Image.fromarray(f, mode="L") for f in frames]
    tmp = _tmp(path)
    images[0].save(
        tmp,
        save_all=True,
        append_images=images[1:],
        duration=round(1000 / fps),
        loop=0,
        optimize=False,
    )
    os.replace(tmp, path)


def write_mp4(path: Path, frames: np.ndarray, fps: float, crf: int = 18) -> None:
    """H.264 yuv420p MP4; an odd height or width is padded by repeating the last row/column."""
    import av

    pad_rows, pad_cols = frames.shape[1] % 2, frames.shape[2] % 2
    if pad_rows or pad_cols:
        frames = np.pad(frames, ((0, 0), (0, pad_rows), (0, pad_cols)), mode="edge")
    tmp = _tmp(path)
    with av.open(str(tmp), "w") as container:
        stream = container.add_stream("libx264", rate=round(fps))
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf)}
        for frame in frames:
            video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="gray")
            container.mux(stream.encode(video_frame))
        container.mux(stream.encode())
    os.replace(tmp, path)


def write_npy(path: Path, frames: np.ndarray) -> None:
    tmp = _tmp(path)
    with open(tmp, "wb") as f:
        np.save(f, frames)
    os.replace(tmp, path)


def write_animation(
    path: Path, frames: np.ndarray, *, fps: float, scale: int = 1, resample: str = "nearest"
) -> Path:
    """Write uint8 (T, H, W) frames in the format the suffix of `path` names."""
    kind = path.suffix.lstrip(".")
    if kind == "npy":
        write_npy(path, frames)
    elif kind == "gif":
        write_gif(path, upscale(frames, scale, resample), fps)
    elif kind == "mp4":
        write_mp4(path, upscale(frames, scale, resample), fps)
    else:
        raise ValueError(f"unknown animation format {kind!r}; use one of {FORMATS}")
    return path


def read_animation(path: Path) -> np.ndarray:
    """uint8 (T, H, W) grey frames of a file `write_animation` made (GIF, MP4 or npy).

    GIF note: Pillow merges identical consecutive frames into one longer frame, so a static
    animation reads back with fewer frames.
    """
    path = Path(path)
    kind = path.suffix.lstrip(".")
    if kind == "npy":
        return np.load(path)
    if kind == "gif":
        from PIL import Image, ImageSequence

        with Image.open(path) as image:
            return np.stack([np.asarray(f.convert("L")) for f in ImageSequence.Iterator(image)])
    if kind == "mp4":
        import av

        with av.open(str(path)) as container:
            return np.stack([f.to_ndarray(format="gray") for f in container.decode(video=0)])
    raise ValueError(f"unknown animation format {kind!r}")
