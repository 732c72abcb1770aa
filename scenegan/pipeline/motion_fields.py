"""Motion annotations of a clip: dense optical flow between neighbouring frames (OpenCV DIS, at the
clip's own size) summed up as an average velocity field, a per-pixel speed map and two scalars.

Pure functions on uint8 frames; the dataset build stores the result per clip (docs/dataset.md),
training and evaluation read it. Flow is in pixels per frame at the clip's size, [dx, dy] with
x to the right and y down: content moving right has dx > 0.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np

# No OpenCV thread pool in this process: worker processes forked from it (the build's) would
# inherit the pool's locks and hang at exit; the frames here are small, threads buy nothing.
cv2.setNumThreads(0)

# DIS at 80 x 45: the ULTRAFAST preset (8 x 8 patches) with its finest scale set to 0, so the
# flow is estimated at the clip's own size (left at the preset's 2, OpenCV picks the scales
# itself for frames this small), patches every 6 pixels and 8 descent iterations (the preset's
# 4 and 12 give the same answers within 1% on known motion at 1.8x the time). Checked on known
# motion (tests/test_motion_fields.py): 1.50 px/frame for a 1.5 px/frame pan of fine or coarse
# texture, 0.31 for 0.3, 5.97 for 6; a still clip with 1.5 grey levels of noise reads 0.03.
# About 0.25 ms a frame pair on one core; per-pixel speed maps correlate 0.92 with DIS MEDIUM's
# at scale 0 (1.2 ms a pair) on real clips.
DIS_PRESET = cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST
DIS_FINEST_SCALE = 0
DIS_PATCH_STRIDE = 6
DIS_ITERATIONS = 8
# pixels per frame: below this mean flow speed, a place of a real clip stands still (rock,
# trunks, buildings), for evaluate's still-place flow and the motion arch's still term
STILL_FLOW = 0.05
# Names the measurement: annotations cached for old datasets are recomputed when it changes.
ANNOTATION_METHOD = (
    f"opencv-dis-{DIS_PRESET}-finest-{DIS_FINEST_SCALE}-stride-{DIS_PATCH_STRIDE}"
    f"-iterations-{DIS_ITERATIONS}"
)


@dataclass(frozen=True)
class ClipMotion:
    """How one clip moves, from the optical flow of its T-1 neighbouring frame pairs."""

    mean_flow: np.ndarray  # (H, W, 2) float16, [dx, dy] pixels per frame, averaged over the steps
    motion_map: np.ndarray  # (H, W) float16, mean over steps of the flow magnitude at each pixel
    motion: float  # mean of motion_map: the clip's mean flow speed, pixels per frame
    flow_std: float  # std over the T-1 steps of the per-step mean magnitude


def flow_estimator() -> cv2.DISOpticalFlow:
    """A DIS optical-flow estimator set up for clip-sized frames (see DIS_PRESET)."""
    dis = cv2.DISOpticalFlow_create(DIS_PRESET)
    dis.setFinestScale(DIS_FINEST_SCALE)
    dis.setPatchStride(DIS_PATCH_STRIDE)
    dis.setGradientDescentIterations(DIS_ITERATIONS)
    return dis


def gray_frames(frames: np.ndarray) -> np.ndarray:
    """uint8 (T, H, W) gray or (T, H, W, 3) RGB -> (T, H, W) full-range BT.601 luma."""
    frames = np.asarray(frames)
    if frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8, got {frames.dtype}")
    if frames.ndim == 3:
        return frames
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be (T, H, W) or (T, H, W, 3), got {frames.shape}")
    flat = np.ascontiguousarray(frames).reshape(-1, frames.shape[2], 3)
    return cv2.cvtColor(flat, cv2.COLOR_RGB2GRAY).reshape(frames.shape[:3])


def pair_flow(
    previous: np.ndarray, current: np.ndarray, dis: cv2.DISOpticalFlow | None = None
) -> np.ndarray:
    """(H, W, 2) float32 flow from one (H, W) uint8 gray frame to the next, pixels per frame."""
    dis = dis or flow_estimator()
    return dis.calc(np.ascontiguousarray(previous), np.ascontiguousarray(current), None)


def clip_flows(frames: np.ndarray, dis: cv2.DISOpticalFlow | None = None) -> np.ndarray:
    """(T-1, H, W, 2) float32 flow between each pair of neighbouring frames of a clip."""
    gray = gray_frames(frames)
    dis = dis or flow_estimator()
    if len(gray) < 2:
        raise ValueError(f"a clip needs at least 2 frames for its flow, got {len(gray)}")
    return np.stack([pair_flow(a, b, dis) for a, b in zip(gray[:-1], gray[1:], strict=True)])


def summarize_flows(
    flows: np.ndarray | Iterable[np.ndarray], speed: np.ndarray | None = None
) -> ClipMotion:
    """ClipMotion of a clip from its (T-1, H, W, 2) per-step flows (and their (T-1, H, W)
    magnitudes, when the caller has them already)."""
    flows = np.asarray(flows if isinstance(flows, np.ndarray) else np.stack(list(flows)))
    flows = flows.astype(np.float32, copy=False)  # (S, H, W, 2), S = T-1 steps
    if speed is None:
        speed = np.hypot(flows[..., 0], flows[..., 1])  # (S, H, W)
    motion_map = speed.mean(axis=0)  # (H, W)
    return ClipMotion(
        mean_flow=flows.mean(axis=0).astype(np.float16),
        motion_map=motion_map.astype(np.float16),
        motion=float(motion_map.mean()),
        flow_std=float(speed.mean(axis=(1, 2)).std()),
    )


def window_flows(flows: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """(S, H, W, 2) flows of a whole frame -> the flows of a crop window of it, as a clip of the
    same size: the window (top, left, height, width as fractions of the frame) resampled
    bilinearly to H x W and the vectors scaled to the window's pixels (divided by its side)."""
    top, left, rows, columns = box
    height, width = flows.shape[1:3]
    # output pixel (x, y) sits at input (left*W + (x + 0.5) * columns - 0.5, ...) in pixel centres
    warp = np.float32(
        [
            [columns, 0, left * width + 0.5 * columns - 0.5],
            [0, rows, top * height + 0.5 * rows - 0.5],
        ]
    )
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    cut = np.stack(
        [
            cv2.warpAffine(f, warp, (width, height), flags=flags, borderMode=cv2.BORDER_REPLICATE)
            for f in np.asarray(flows, np.float32)
        ]
    )
    cut *= np.float32([1 / columns, 1 / rows])
    return cut


def annotate_clip(frames: np.ndarray) -> ClipMotion:
    """Motion annotations of one clip: uint8 (T, H, W) gray or (T, H, W, 3) RGB (taken as luma)."""
    return summarize_flows(clip_flows(frames))


def mean_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over i of the Pearson correlation of a[i] and b[i] over their pixels, skipping the
    pairs where either is uniform; nan if every pair is."""
    values = []
    for x, y in zip(a, b, strict=True):
        x, y = np.ravel(x), np.ravel(y)
        if x.std() > 1e-6 and y.std() > 1e-6:
            values.append(float(np.corrcoef(x, y)[0, 1]))
    return float(np.mean(values)) if values else float("nan")


def frame_change(grey: np.ndarray, real_maps: np.ndarray, moved: bool) -> float:
    """Mean |x_t - x_{t-1}| in grey levels of clips (N, T, H, W) where their real clip moved
    (`moved`: its mean flow above STILL_FLOW, real_maps (N, H, W)) or stood still; nan where no
    clip has such places."""
    change = np.abs(np.diff(np.asarray(grey, np.float32), axis=1)).mean(axis=1)  # (N, H, W)
    places = real_maps > STILL_FLOW if moved else real_maps <= STILL_FLOW
    return float(change[places].mean()) if places.any() else float("nan")
