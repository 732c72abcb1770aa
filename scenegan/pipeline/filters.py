"""Clip filters: measure a stream of frames once per frame and per frame pair, then say for each
window of a clip's length why it is rejected (scene cut, no motion, dark, blown out, camera pan
or shake), or None when it is kept. Overlapping clips share the per-frame work."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from scenegan.clip_format import FILTER_FORMAT
from scenegan.config import FilterConfig

REJECT_REASONS = ("scene_cut", "static", "dark", "blown_out", "camera_pan", "camera_shake")


@dataclass(frozen=True)
class ClipMeasures:
    """What the filters look at, for one (T, H, W) clip."""

    max_diff: float  # largest frame-to-frame mean absolute difference
    motion: float  # median frame-to-frame mean absolute difference
    dark_fraction: float
    bright_fraction: float
    pan_pixels: float  # length of the summed global shift over the clip
    shake_pixels: float  # standard deviation of the frame-to-frame shift (both axes pooled)


class MotionMeter:
    """Per-frame and per-pair measures of a stream of (H, W) uint8 frames, fed one at a time.

    Frame t gets its dark and bright fractions; the pair (t-1, t) its mean absolute difference
    and the global shift found by phase correlation (with the peak's response).
    """

    def __init__(
        self, config: FilterConfig, frame_shape: tuple[int, int] = FILTER_FORMAT.frame_shape
    ):
        self.config = config
        # OpenCV pads to its optimal DFT size and then reports a spurious half-pixel shift along
        # an axis padded to an odd size (45 rows, even 44 -> 45): use a centred even, optimal box.
        height, width = _even_dft_size(frame_shape[0]), _even_dft_size(frame_shape[1])
        top, left = (frame_shape[0] - height) // 2, (frame_shape[1] - width) // 2
        self._box = (slice(top, top + height), slice(left, left + width))
        self._window = cv2.createHanningWindow((width, height), cv2.CV_32F)
        self._previous: np.ndarray | None = None  # previous frame as int16
        self._previous_windowed: np.ndarray | None = None
        self.dark: list[float] = []
        self.bright: list[float] = []
        self.diff: list[float] = []
        self.shift: list[tuple[float, float]] = []
        self.response: list[float] = []

    def add(self, frame: np.ndarray) -> None:
        n_pixels = frame.size
        self.dark.append(np.count_nonzero(frame < self.config.dark_level) / n_pixels)
        self.bright.append(np.count_nonzero(frame > self.config.bright_level) / n_pixels)
        as_int = frame.astype(np.int16)
        # Pre-windowed copy: cv2.phaseCorrelate given a window overwrites its inputs (OpenCV 5).
        windowed = frame[self._box].astype(np.float32) * self._window
        if self._previous is not None:
            self.diff.append(float(np.abs(as_int - self._previous).mean()))
            (dx, dy), response = cv2.phaseCorrelate(self._previous_windowed, windowed)
            self.shift.append((dx, dy))
            self.response.append(response)
        self._previous, self._previous_windowed = as_int, windowed

    def measure(self, start: int, n_frames: int = FILTER_FORMAT.n_frames) -> ClipMeasures:
        """Measures of the clip of frames start .. start + n_frames - 1 (all already added)."""
        frames = slice(start, start + n_frames)
        pairs = slice(start, start + n_frames - 1)
        diffs = np.asarray(self.diff[pairs])
        shifts = np.asarray(self.shift[pairs], np.float64)
        coherent = np.asarray(self.response[pairs]) >= self.config.camera_min_response
        camera = shifts * coherent[:, None]  # incoherent pairs count as no camera motion
        return ClipMeasures(
            max_diff=float(diffs.max()),
            motion=float(np.median(diffs)),
            dark_fraction=float(np.mean(self.dark[frames])),
            bright_fraction=float(np.mean(self.bright[frames])),
            pan_pixels=float(np.hypot(*camera.sum(axis=0))),
            shake_pixels=float(np.sqrt(camera.var(axis=0).sum() / 2)),
        )


def _even_dft_size(size: int) -> int:
    """Largest even n <= size that OpenCV's DFT uses unpadded."""
    n = size // 2 * 2
    while cv2.getOptimalDFTSize(n) != n:
        n -= 2
    return n


def measure_clip(clip: np.ndarray, config: FilterConfig) -> ClipMeasures:
    """Every measure the filters need, from one (T, H, W) uint8 clip."""
    meter = MotionMeter(config, clip.shape[1:])
    for frame in clip:
        meter.add(frame)
    return meter.measure(0, len(clip))


def reject_reason(measures: ClipMeasures, config: FilterConfig) -> str | None:
    """The first filter a clip fails, in the order of REJECT_REASONS, or None to keep it."""
    if measures.max_diff >= max(config.cut_min_diff, config.cut_ratio * measures.motion):
        return "scene_cut"
    if measures.motion < config.static_max_motion:
        return "static"
    if measures.dark_fraction > config.exposure_max_fraction:
        return "dark"
    if measures.bright_fraction > config.exposure_max_fraction:
        return "blown_out"
    if measures.pan_pixels > config.pan_max_pixels:
        return "camera_pan"
    if measures.shake_pixels > config.shake_max_pixels:
        return "camera_shake"
    return None


def filter_clip(clip: np.ndarray, config: FilterConfig) -> str | None:
    """Reject reason of one (T, H, W) uint8 clip, or None when it is kept."""
    return reject_reason(measure_clip(clip, config), config)
