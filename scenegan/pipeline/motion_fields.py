"""Per-clip motion measured with OpenCV's DIS optical flow (lead's stand-in until issue 24's lands)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class ClipMotion:
    mean_flow: np.ndarray  # (H, W, 2) float16, pixels per frame
    motion_map: np.ndarray  # (H, W) float16
    motion: float
    flow_std: float


def _dis() -> cv2.DISOpticalFlow:
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    dis.setPatchSize(6)
    dis.setPatchStride(2)
    dis.setFinestScale(0)
    return dis


def annotate_clip(frames: np.ndarray) -> ClipMotion:
    if frames.ndim == 4:
        frames = cv2.cvtColor(frames.reshape(-1, frames.shape[2], 3), cv2.COLOR_RGB2GRAY).reshape(frames.shape[:3])
    dis = _dis()
    flows = np.stack([dis.calc(a, b, None) for a, b in zip(frames[:-1], frames[1:])])  # (T-1,H,W,2)
    speed = np.linalg.norm(flows, axis=-1)
    per_step = speed.mean(axis=(1, 2))
    motion_map = speed.mean(axis=0)
    return ClipMotion(
        flows.mean(axis=0).astype(np.float16), motion_map.astype(np.float16),
        float(motion_map.mean()), float(per_step.std()),
    )
