"""Clip filters: measure a stream of frames once per frame and per frame pair (grey levels and
DIS optical flow), then say for each window of frames why it is rejected (scene cut, no motion,
dark, blown out, camera pan, shake or zoom), or None when it is kept. Overlapping clips share the
per-frame work, and a kept clip's motion annotations come from the same flow."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from scenegan.clip_format import FILTER_FORMAT
from scenegan.config import FilterConfig
from scenegan.pipeline.motion_fields import ClipMotion, flow_estimator, summarize_flows
from scenegan.pipeline.scene_filters import zoom_of

REJECT_REASONS = ("scene_cut", "static", "dark", "blown_out", "camera_pan", "camera_shake", "zoom")
CAMERA_REASONS = ("camera_pan", "camera_shake", "zoom")  # the camera moved during the clip
# Share of the pixels whose speed decides `static`: the fastest tenth of the frame must move.
STATIC_QUANTILE = 0.9


@dataclass(frozen=True)
class ClipMeasures:
    """What the filters look at, for one (T, H, W) clip."""

    max_diff: float  # largest frame-to-frame mean absolute difference (grey levels)
    median_diff: float  # median frame-to-frame mean absolute difference (grey levels)
    dark_fraction: float
    bright_fraction: float
    moving_speed: float  # STATIC_QUANTILE of the per-pixel mean flow speed, pixels per frame
    pan_pixels: float  # length of the summed camera shift over the clip
    shake_pixels: float  # standard deviation of the frame-to-frame camera shift (axes pooled)
    zoom: float = 0.0  # scale change of the clip's summed flow (scene_filters.zoom_of)
    zoom_fit: float = 0.0  # share of the summed flow a zoom (with shift and turn) explains


class FlowMeter:
    """Per-frame and per-pair measures of a stream of (H, W) uint8 gray frames, fed one at a time.

    Frame t gets its dark and bright fractions; the pair (t-1, t) its mean absolute difference,
    its DIS flow (the last `n_frames` - 1 are kept) and the camera's shift: the median flow,
    counted only where at least `camera_min_agreement` of the pixels move with it (found for
    the pairs added since the last `measure`, all at once: one median over many pairs costs
    about what one costs alone).
    """

    def __init__(self, config: FilterConfig, n_frames: int = FILTER_FORMAT.n_frames):
        self.config = config
        self.dis = flow_estimator()
        self.flows: deque[np.ndarray] = deque(maxlen=n_frames - 1)
        self.speeds: deque[np.ndarray] = deque(maxlen=n_frames - 1)  # |flow| of each pair
        self._previous: np.ndarray | None = None  # the previous frame as int16, and as it is
        self._previous_frame: np.ndarray | None = None
        self.count = 0
        self.dark: list[float] = []
        self.bright: list[float] = []
        self.diff: list[float] = []
        self.camera: list[np.ndarray] = []  # (2,) per pair; (0, 0) where it does not agree

    def add(self, frame: np.ndarray) -> None:
        n_pixels = frame.size
        self.dark.append(np.count_nonzero(frame < self.config.dark_level) / n_pixels)
        self.bright.append(np.count_nonzero(frame > self.config.bright_level) / n_pixels)
        as_int = frame.astype(np.int16)
        if self._previous is not None:
            self.diff.append(float(np.abs(as_int - self._previous).mean()))
            flow = self.dis.calc(self._previous_frame, frame, None)  # (H, W, 2)
            self.flows.append(flow)
            self.speeds.append(np.hypot(flow[..., 0], flow[..., 1]))
        self._previous, self._previous_frame = as_int, frame
        self.count += 1

    def measure(self, start: int, n_frames: int) -> ClipMeasures:
        """Measures of the clip of the last `n_frames` frames added, which start at `start`."""
        assert start == self.count - n_frames and len(self.flows) == n_frames - 1
        self._find_cameras()
        frames = slice(start, start + n_frames)
        pairs = slice(start, start + n_frames - 1)
        diffs = np.asarray(self.diff[pairs])
        camera = np.asarray(self.camera[pairs], np.float64)  # (T-1, 2)
        zoom, zoom_fit = zoom_of(np.sum(self.flows, axis=0))
        return ClipMeasures(
            max_diff=float(diffs.max()),
            median_diff=float(np.median(diffs)),
            dark_fraction=float(np.mean(self.dark[frames])),
            bright_fraction=float(np.mean(self.bright[frames])),
            moving_speed=moving_speed(self.speeds),
            pan_pixels=float(np.hypot(*camera.sum(axis=0))),
            shake_pixels=float(np.sqrt(camera.var(axis=0).sum() / 2)),
            zoom=zoom,
            zoom_fit=zoom_fit,
        )

    def _find_cameras(self) -> None:
        """The camera shifts of the pairs added since they were last found."""
        missing = self.count - 1 - len(self.camera)
        held = min(missing, len(self.flows))
        self.camera += [np.zeros(2)] * (missing - held)  # gone already: in no clip measured
        if held > 0:
            flows = list(self.flows)[len(self.flows) - held :]
            self.camera += list(camera_shifts(np.stack(flows), self.config.camera_min_agreement))

    def motion(self) -> ClipMotion:
        """The motion annotations of the clip of the last frames added (its T-1 flows)."""
        return summarize_flows(np.stack(self.flows), np.stack(self.speeds))


def camera_shifts(flows: np.ndarray, min_agreement: float) -> np.ndarray:
    """(K, 2) float64: each (H, W, 2) flow's global shift (median flow, pixels) when at least
    `min_agreement` of the pixels move with it (within half a pixel and a quarter of its
    length), else (0, 0): flowing water, flames and swaying trees are no camera. Every third
    row and column (a ninth of the pixels) decide: the median is the costly part, and one
    median over many frame pairs costs about what one pair's does."""
    vectors = flows[:, ::3, ::3].reshape(len(flows), -1, 2)  # (K, N, 2) float32
    shift = np.median(vectors, axis=1)  # (K, 2)
    # float32 like the vectors, as a Python number compared with them would be
    tolerance = (0.5 + 0.25 * np.hypot(shift[:, 0], shift[:, 1]).astype(np.float64)).astype(
        vectors.dtype
    )
    distance = np.hypot(*(vectors - shift[:, None]).transpose(2, 0, 1))  # (K, N)
    agree = np.count_nonzero(distance <= tolerance[:, None], axis=1) / vectors.shape[1]
    return np.where((agree >= min_agreement)[:, None], shift.astype(np.float64), 0.0)


def camera_shift(flow: np.ndarray, min_agreement: float) -> tuple[float, float]:
    """The camera shift of one (H, W, 2) flow (camera_shifts)."""
    shift = camera_shifts(flow[None], min_agreement)[0]
    return float(shift[0]), float(shift[1])


def moving_speed(speeds) -> float:
    """STATIC_QUANTILE of the per-pixel mean flow speed, from (H, W) speed maps of the pairs."""
    return float(np.quantile(np.mean(speeds, axis=0), STATIC_QUANTILE))


def measure_window(
    frames: np.ndarray, flows: np.ndarray, config: FilterConfig, speed: np.ndarray | None = None
) -> ClipMeasures:
    """The measures of a (T, H, W) gray clip whose T-1 flows (and their (T-1, H, W) lengths,
    `speed`) are already known (a crop window: the whole frame's flow cut to it)."""
    if speed is None:
        speed = np.hypot(flows[..., 0], flows[..., 1])
    as_int = frames.astype(np.int16)
    diffs = np.abs(np.diff(as_int, axis=0)).mean(axis=(1, 2))
    n_pixels = frames[0].size
    dark = np.count_nonzero(frames < config.dark_level, axis=(1, 2)) / n_pixels
    bright = np.count_nonzero(frames > config.bright_level, axis=(1, 2)) / n_pixels
    camera = camera_shifts(flows, config.camera_min_agreement)
    zoom, zoom_fit = zoom_of(flows.sum(axis=0))
    return ClipMeasures(
        max_diff=float(diffs.max()),
        median_diff=float(np.median(diffs)),
        dark_fraction=float(np.mean(dark)),
        bright_fraction=float(np.mean(bright)),
        moving_speed=moving_speed(speed),
        pan_pixels=float(np.hypot(*camera.sum(axis=0))),
        shake_pixels=float(np.sqrt(camera.var(axis=0).sum() / 2)),
        zoom=zoom,
        zoom_fit=zoom_fit,
    )


def measure_clip(clip: np.ndarray, config: FilterConfig) -> ClipMeasures:
    """Every measure the filters need, from one (T, H, W) uint8 gray clip."""
    meter = FlowMeter(config, len(clip))
    for frame in clip:
        meter.add(frame)
    return meter.measure(0, len(clip))


def reject_reason(measures: ClipMeasures, config: FilterConfig) -> str | None:
    """The first filter a clip fails, in the order of REJECT_REASONS, or None to keep it."""
    if measures.max_diff >= max(config.cut_min_diff, config.cut_ratio * measures.median_diff):
        return "scene_cut"
    if measures.moving_speed < config.static_max_flow:
        return "static"
    if measures.dark_fraction > config.exposure_max_fraction:
        return "dark"
    if measures.bright_fraction > config.exposure_max_fraction:
        return "blown_out"
    if measures.pan_pixels > config.pan_max_pixels:
        return "camera_pan"
    if measures.shake_pixels > config.shake_max_pixels:
        return "camera_shake"
    zoom, fit = abs(measures.zoom), measures.zoom_fit
    if (zoom > config.zoom_max_scale and fit >= config.zoom_min_fit) or (
        zoom > config.zoom_fast_scale and fit >= config.zoom_fast_fit
    ):
        return "zoom"
    return None


def filter_clip(clip: np.ndarray, config: FilterConfig) -> str | None:
    """Reject reason of one (T, H, W) uint8 gray clip, or None when it is kept."""
    return reject_reason(measure_clip(clip, config), config)
