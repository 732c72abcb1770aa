"""Pure per-frame transforms shared by the dataset build and `scenegan sample`.

A video frame and a photo go through the same steps: centre-crop to 16:9, area-resample to the
clip's width x height; gray clips take full-range BT.601 luma (0..255), rgb clips the RGB.
"""

from __future__ import annotations

import cv2
import numpy as np

from scenegan.clip_format import ASPECT, CLIP, ClipFormat

# No OpenCV thread pool in this process: worker processes forked from it (the build's) would
# inherit the pool's locks and hang at exit; the frames here are small, threads buy nothing.
cv2.setNumThreads(0)


def crop_box_16_9(height: int, width: int) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the largest centred 16:9 box in a height x width frame."""
    if width / height > ASPECT:  # too wide: trim the sides
        new_width = max(1, round(height * ASPECT))
        left = (width - new_width) // 2
        return 0, height, left, left + new_width
    new_height = max(1, round(width / ASPECT))
    top = (height - new_height) // 2
    return top, top + new_height, 0, width


def crop_16_9(image: np.ndarray) -> np.ndarray:
    """Centre-crop an (H, W) or (H, W, C) array to 16:9 (a view, no copy)."""
    top, bottom, left, right = crop_box_16_9(image.shape[0], image.shape[1])
    return image[top:bottom, left:right]


def to_gray(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> (H, W) uint8 full-range BT.601 luma; (H, W) passes through."""
    if rgb.ndim == 2:
        return rgb
    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)


def luma(stored: np.ndarray, fmt: ClipFormat) -> np.ndarray:
    """Stored clips, frames or photos of `fmt` (any leading axes) -> their grey levels: rgb
    becomes full-range BT.601 luma exactly as to_gray makes it; gray passes through."""
    if fmt.color == "gray":
        return stored
    flat = np.ascontiguousarray(stored).reshape(-1, stored.shape[-2], 3)
    return cv2.cvtColor(flat, cv2.COLOR_RGB2GRAY).reshape(stored.shape[:-1])


# Lookup table of expand_limited_range, made once: it runs on every decoded frame.
_LIMITED_TO_FULL = np.clip(np.rint((np.arange(256) - 16) * 255.0 / 219.0), 0, 255).astype(np.uint8)


def expand_limited_range(luma: np.ndarray) -> np.ndarray:
    """Video-range luma (16..235) -> full range (0..255), so videos match photos."""
    return _LIMITED_TO_FULL[luma]


def to_rgb(image: np.ndarray) -> np.ndarray:
    """(H, W) grey -> (H, W, 3) with the grey in every channel; (H, W, 3) passes through."""
    return image if image.ndim == 3 else np.repeat(image[..., None], 3, axis=2)


def resize_area(image: np.ndarray, fmt: ClipFormat = CLIP) -> np.ndarray:
    """Area-resample an (H, W) or (H, W, 3) frame to fmt's rows and columns."""
    return cv2.resize(image, (fmt.width, fmt.height), interpolation=cv2.INTER_AREA)


def prepare_image(image: np.ndarray, fmt: ClipFormat = CLIP) -> np.ndarray:
    """Any RGB or grey uint8 image -> uint8 fmt.image_shape, as clips are made: grey for a gray
    format, RGB for rgb (a grey image in every channel)."""
    convert = to_gray if fmt.color == "gray" else to_rgb
    return resize_area(convert(crop_16_9(image)), fmt)
