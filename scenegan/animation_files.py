"""Write and read animations: looped GIF (Pillow), H.264 MP4 (PyAV) and raw uint8 `.npy`.

Frames are uint8 (T, H, W) grey or (T, H, W, 3) RGB; `scale` enlarges GIF and MP4 for
viewing, never `.npy`. An RGB GIF has one palette for all its frames (no dithering), so a
still region keeps its colours from frame to frame instead of shimmering.
Every file is written to a temporary name and renamed; `animation_bytes` makes the same file
in memory (`scenegan serve` answers with it). `tile` lays clips side by side for the sample
grids, the training grids and the dataset preview.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np

from scenegan.clip_format import DEFAULT_FPS
from scenegan.files import atomic_path, atomic_write

FORMATS = ("gif", "mp4", "npy")
GAP = 2  # pixels of white between tiled clips
RESAMPLING = {"nearest": cv2.INTER_NEAREST, "area": cv2.INTER_AREA, "bicubic": cv2.INTER_CUBIC}


# What one animation file can hold: a GIF's sides are 16-bit numbers; libx264 refuses a side
# over 16384; the scaled frames are held in memory (twice while a GIF is made), so 1 GiB of them.
MAX_SIDE = {"gif": 65535, "mp4": 16384}
MAX_FRAME_BYTES = 2**30


def size_problem(kind: str, shape: tuple[int, ...], scale: int = 1) -> str | None:
    """What stops frames of `shape` ((T, H, W) or (T, H, W, 3)) enlarged `scale` times from
    becoming a `kind` file, or None. npy is never scaled."""
    if kind == "npy":
        scale = 1
    n_frames, height, width = shape[0], shape[1] * scale, shape[2] * scale
    n_bytes = n_frames * height * width * (shape[3] if len(shape) > 3 else 1)
    if kind in MAX_SIDE and max(height, width) > MAX_SIDE[kind]:
        return (
            f"frames of {width} x {height} pixels; {kind.upper()} allows at most "
            f"{MAX_SIDE[kind]} a side"
        )
    if n_bytes > MAX_FRAME_BYTES:
        limit = MAX_FRAME_BYTES / 2**30
        return f"{n_bytes / 2**30:.1f} GiB of frames; at most {limit:g} GiB are made at once"
    return None


def tiled_shape(clip_shape: tuple[int, ...], n_clips: int, columns: int, gap: int = GAP):
    """The shape `tile` gives `n_clips` clips of `clip_shape` in `columns` columns."""
    n_frames, height, width = clip_shape[:3]
    rows = math.ceil(n_clips / columns)
    return (n_frames, rows * (height + gap) - gap, columns * (width + gap) - gap, *clip_shape[3:])


def upscale(frames: np.ndarray, scale: int, resample: str = "nearest") -> np.ndarray:
    """(T, H, W) or (T, H, W, 3) uint8 -> the same with H * scale rows and W * scale columns."""
    if scale == 1:
        return frames
    height, width = frames.shape[1] * scale, frames.shape[2] * scale
    return np.stack(
        [cv2.resize(f, (width, height), interpolation=RESAMPLING[resample]) for f in frames]
    )


def tile(clips: np.ndarray, columns: int, gap: int = GAP) -> np.ndarray:
    """uint8 (N, T, H, W) clips -> uint8 (T, rows * (H + gap) - gap, columns * (W + gap) - gap),
    and (N, T, H, W, 3) rgb clips likewise with 3 channels last.

    Left to right, then top to bottom, on white; cells after the last clip stay white.
    """
    n_clips, n_frames, height, width = clips.shape[:4]
    rows = math.ceil(n_clips / columns)
    canvas = np.full(
        (n_frames, rows * (height + gap) - gap, columns * (width + gap) - gap, *clips.shape[4:]),
        255,
        np.uint8,
    )  # (T, H, W) or (T, H, W, 3)
    for i, clip in enumerate(clips):
        top, left = (i // columns) * (height + gap), (i % columns) * (width + gap)
        canvas[:, top : top + height, left : left + width] = clip
    return canvas


def write_gif(path: Path, frames: np.ndarray, fps: float = DEFAULT_FPS) -> None:
    """Looped grey or RGB GIF. GIF delays are in 1/100 s, so the rate is rounded to that."""
    with atomic_path(path) as tmp:
        _save_gif(tmp, frames, fps)


def _save_gif(target: Path | BinaryIO, frames: np.ndarray, fps: float) -> None:
    from PIL import Image

    if is_rgb(frames):
        # One adaptive palette from all frames together, applied to each without dithering.
        palette = Image.fromarray(frames.reshape(-1, *frames.shape[2:])).quantize(
            256, method=Image.Quantize.MEDIANCUT
        )
        images = [
            Image.fromarray(f).quantize(palette=palette, dither=Image.Dither.NONE) for f in frames
        ]
    else:
        images = [Image.fromarray(f, mode="L") for f in frames]
    images[0].save(
        target,
        format="GIF",
        save_all=True,
        append_images=images[1:],
        duration=round(1000 / fps),
        loop=0,
        optimize=False,
    )


def write_mp4(path: Path, frames: np.ndarray, fps: float, crf: int = 18) -> None:
    """H.264 yuv420p MP4; an odd height or width is padded by repeating the last row/column."""
    with atomic_path(path) as tmp:
        _save_mp4(str(tmp), frames, fps, crf)


def _save_mp4(target: str | BinaryIO, frames: np.ndarray, fps: float, crf: int = 18) -> None:
    import av

    pad_rows, pad_cols = frames.shape[1] % 2, frames.shape[2] % 2
    if pad_rows or pad_cols:
        pads = ((0, 0), (0, pad_rows), (0, pad_cols)) + ((0, 0),) * (frames.ndim - 3)
        frames = np.pad(frames, pads, mode="edge")
    pixels = "rgb24" if is_rgb(frames) else "gray"
    with av.open(target, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=round(fps))
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        # cpu-independent: without it this x264 build gave different bytes (up to 14 grey
        # levels apart once decoded) for the same frames from one encode to the next.
        stream.options = {"crf": str(crf), "x264-params": "cpu-independent=1"}
        for frame in frames:
            video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format=pixels)
            container.mux(stream.encode(video_frame))
        container.mux(stream.encode())


def animation_bytes(
    kind: str, frames: np.ndarray, *, fps: float, scale: int = 1, resample: str = "nearest"
) -> bytes:
    """uint8 (T, H, W) or (T, H, W, 3) frames as the bytes of a `kind` file (gif, mp4 or npy),
    in memory."""
    buffer = io.BytesIO()
    if kind == "npy":
        np.save(buffer, frames)
    elif kind == "gif":
        _save_gif(buffer, upscale(frames, scale, resample), fps)
    elif kind == "mp4":
        _save_mp4(buffer, upscale(frames, scale, resample), fps)
    else:
        raise ValueError(f"unknown animation format {kind!r}; use one of {FORMATS}")
    return buffer.getvalue()


def write_animation(
    path: Path, frames: np.ndarray, *, fps: float, scale: int = 1, resample: str = "nearest"
) -> Path:
    """Write uint8 (T, H, W) or (T, H, W, 3) frames in the format the suffix of `path` names."""
    data = animation_bytes(path.suffix.lstrip("."), frames, fps=fps, scale=scale, resample=resample)
    with atomic_write(path) as handle:
        handle.write(data)
    return path


def is_rgb(frames: np.ndarray) -> bool:
    """Whether frames (T, H, W) or (T, H, W, 3) are colour."""
    return frames.ndim == 4


def read_animation(path: Path, color: str = "gray") -> np.ndarray:
    """uint8 (T, H, W) grey frames, or (T, H, W, 3) with `color` rgb, of a file
    `write_animation` made (GIF, MP4 or npy; npy holds what was written).

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
            mode = "RGB" if color == "rgb" else "L"
            return np.stack([np.asarray(f.convert(mode)) for f in ImageSequence.Iterator(image)])
    if kind == "mp4":
        import av

        with av.open(str(path)) as container:
            pixels = "rgb24" if color == "rgb" else "gray"
            return np.stack([f.to_ndarray(format=pixels) for f in container.decode(video=0)])
    raise ValueError(f"unknown animation format {kind!r}")
