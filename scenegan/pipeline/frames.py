"""Pure per-frame transforms shared by the dataset build and `scenegan sample`.

A video frame and a photo go through the same steps: centre-crop to 16:9, area-resample to the
clip's width x height; gray clips take full-range BT.601 luma (0..255), rgb clips the RGB. The
context (dataset format 3) is the same photo in colour at a multiple of the clip's size.
"""

from __future__ import annotations

import cv2
import numpy as np

from scenegan.clip_format import ASPECT, CLIP, ClipFormat, context_format

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
    """Video-range luma (16..235) -> full range (0..255), so videos match photos (any shape;
    cv2's table lookup, a tenth of numpy indexing's time on a clip-sized frame)."""
    flat = np.ascontiguousarray(luma).reshape(-1, luma.shape[-1])
    return cv2.LUT(flat, _LIMITED_TO_FULL).reshape(luma.shape)


def to_rgb(image: np.ndarray) -> np.ndarray:
    """(H, W) grey -> (H, W, 3) with the grey in every channel; (H, W, 3) passes through."""
    return image if image.ndim == 3 else np.repeat(image[..., None], 3, axis=2)


def at_height(frame: np.ndarray, rows: int) -> np.ndarray:
    """A gray frame scaled to `rows` rows, its aspect kept."""
    height, width = frame.shape
    if height == rows:
        return frame
    scale = rows / height
    size = (max(1, round(width * scale)), rows)
    method = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.resize(frame, size, interpolation=method)


def resize_area(image: np.ndarray, fmt: ClipFormat = CLIP) -> np.ndarray:
    """Area-resample an (H, W) or (H, W, 3) frame to fmt's rows and columns."""
    return cv2.resize(image, (fmt.width, fmt.height), interpolation=cv2.INTER_AREA)


def resample_area(
    image: np.ndarray, top: float, bottom: float, left: float, right: float, rows: int, columns: int
) -> np.ndarray:
    """float32 (rows, columns): the mean of an (H, W) uint8 image over each of rows x columns
    equal cells of the rectangle between pixel edges top..bottom and left..right, fractions
    allowed, enlarging too (where cv2's area resampling interpolates instead). Exact, so that
    averaging cells again gives what one resampling would: a context cut between pixels and
    enlarged still turns back into its clip's frame. The image's integral (its sum above and
    to the left of each pixel corner) is bilinear within a pixel, so its value at each cell
    corner is interpolated exactly, and a cell's sum is four of them."""
    first, start = int(np.floor(top)), int(np.floor(left))
    cut = np.ascontiguousarray(image[first : int(np.ceil(bottom)), start : int(np.ceil(right))])
    if (first, start) == (top, left) and cut.shape[0] == bottom - top >= rows:
        if cut.shape[1] == right - left >= columns:  # whole pixels, shrinking: cv2 is exact
            return cv2.resize(np.float32(cut), (columns, rows), interpolation=cv2.INTER_AREA)
    total = cv2.integral(cut, sdepth=cv2.CV_64F)  # (h + 1, w + 1)
    down = _interpolate(total, np.linspace(top - first, bottom - first, rows + 1))
    corners = _interpolate(down.T.copy(), np.linspace(left - start, right - start, columns + 1))
    area = (bottom - top) / rows * (right - left) / columns  # (columns + 1, rows + 1) corners
    return (np.diff(np.diff(corners, axis=0), axis=1).T / area).astype(np.float32)


def _interpolate(values: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The rows of `values` linearly interpolated at the positions `at` (0 .. len - 1)."""
    low = np.minimum(at.astype(np.int64), len(values) - 2)
    weight = (at - low)[:, None]
    return values[low] * (1 - weight) + values[low + 1] * weight


def prepare_image(image: np.ndarray, fmt: ClipFormat = CLIP) -> np.ndarray:
    """Any RGB or grey uint8 image -> uint8 fmt.image_shape, as clips are made: grey for a gray
    format, RGB for rgb (a grey image in every channel)."""
    convert = to_gray if fmt.color == "gray" else to_rgb
    return resize_area(convert(crop_16_9(image)), fmt)


def prepare_context(image: np.ndarray, fmt: ClipFormat, scale: int) -> np.ndarray:
    """A user's photo (RGB or grey uint8) -> the context a dataset of `fmt` keeps at `scale`:
    uint8 (scale * H, scale * W, 3), through prepare_image (the build's own steps)."""
    return prepare_image(image, context_format(fmt, scale))


# BT.601 full-range YCbCr -> RGB (rows R, G, B; columns Y, Cb, Cr). The chroma columns have no
# BT.601 luma (0.299 * 1.402 = 0.587 * 0.714136, 0.587 * 0.344136 = 0.114 * 1.772), so moving
# along the chroma never changes the grey.
_YCBCR_TO_RGB = np.float32([[1.0, 0.0, 1.402], [1.0, -0.344136, -0.714136], [1.0, 1.772, 0.0]])


def ycbcr_to_rgb(luma: np.ndarray, cb: np.ndarray, cr: np.ndarray) -> np.ndarray:
    """Full-range BT.601 planes (H, W) float32 (luma 0..255, chroma centred on 0) -> uint8
    (H, W, 3) RGB whose to_gray is the luma (within rounding). A colour outside the RGB cube
    keeps its luma and hue and loses saturation until it fits (clipping each channel would
    change its grey by up to 16 levels on fire and neon)."""
    luma = np.clip(luma, 0.0, 255.0)
    rgb = cv2.transform(cv2.merge([luma, cb, cr]), _YCBCR_TO_RGB)  # (H, W, 3)
    flat = rgb.reshape(-1, 3)
    outside = np.flatnonzero(cv2.inRange(rgb, (0, 0, 0), (255, 255, 255)).reshape(-1) == 0)
    if len(outside):  # the largest share t <= 1 of the chroma that keeps R, G, B in 0..255
        grey = luma.reshape(-1)[outside, None]
        chroma = flat[outside] - grey
        with np.errstate(divide="ignore", invalid="ignore"):
            room = np.where(chroma > 0, (255 - grey) / chroma, -grey / chroma)
        share = np.where(chroma != 0, room, 1).min(axis=1, keepdims=True)
        flat[outside] = grey + np.minimum(share, 1) * chroma
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)
