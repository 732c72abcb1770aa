"""A camera that glides: the sampled frames, seconds apart, show the same ground shifted.

A drone gliding over a garden or a savanna, a slow pan or tilt moves the frame by a few
pixels a clip, no more than clouds drift past a still camera, so the clip filters let it
through (`camera_pan` allows clouds their drift). Seconds apart, the difference shows: each
pair of consecutive sampled frames is matched by ORB features, and a shift, turn and zoom is
fitted (RANSAC). Where the camera glides, most matches agree on one motion that moves the
frame's corners by many pixels; where it stands still, the agreeing matches stay put (rocks,
the horizon), and what moves by itself (waves, flames, leaves) agrees on nothing."""

from __future__ import annotations

import cv2
import numpy as np

GLIDE_SIZE = (320, 180)  # (width, height): frames are matched at this size
GLIDE_FEATURES = 800
GLIDE_MIN_MATCHES = 10  # a pair with fewer is not judged (a flat sky, a dark night)
GLIDE_RANSAC_PIXELS = 2.0
GLIDE_MIN_AGREEING = 150  # matches that agree on the motion, in the median pair
GLIDE_MIN_RATIO = 0.6  # ... and their share of the matches


def glide(frames: list[np.ndarray]) -> float:
    """The camera's glide between consecutive sampled (H, W) gray frames: the median over pairs
    of how far the fitted motion moves the frame's corners, in pixels at GLIDE_SIZE, where most
    matches agree on it (GLIDE_MIN_AGREEING, GLIDE_MIN_RATIO in the median pair); else 0."""
    features = [_features(_at_size(frame)) for frame in frames]
    pairs = [_pair(features[i], features[i + 1]) for i in range(len(features) - 1)]
    pairs = [pair for pair in pairs if pair is not None]
    if not pairs:
        return 0.0
    agreeing, ratio, moved = np.median(np.array(pairs), axis=0)
    return float(moved) if agreeing >= GLIDE_MIN_AGREEING and ratio >= GLIDE_MIN_RATIO else 0.0


def _at_size(frame: np.ndarray) -> np.ndarray:
    if frame.shape[::-1] == GLIDE_SIZE:
        return frame
    return cv2.resize(frame, GLIDE_SIZE, interpolation=cv2.INTER_AREA)


_ORB: dict = {}


def _orb() -> tuple:
    """The ORB detector and its cross-checked Hamming matcher, made once per process."""
    if not _ORB:
        _ORB["orb"] = cv2.ORB_create(nfeatures=GLIDE_FEATURES, fastThreshold=10)
        _ORB["matcher"] = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True)
    return _ORB["orb"], _ORB["matcher"]


def _features(frame: np.ndarray) -> tuple:
    """A frame's ORB keypoints and descriptors (None where it has none)."""
    return _orb()[0].detectAndCompute(frame, None)


def _pair(first: tuple, second: tuple) -> tuple[int, float, float] | None:
    """(matches agreeing on one motion, their share of the matches, how far it moves the
    corners) between two frames' features, or None where too few of them match."""
    (points_a, described_a), (points_b, described_b) = first, second
    if described_a is None or described_b is None:
        return None
    matches = _orb()[1].match(described_a, described_b)
    if len(matches) < GLIDE_MIN_MATCHES:
        return None
    a = np.float32([points_a[m.queryIdx].pt for m in matches])
    b = np.float32([points_b[m.trainIdx].pt for m in matches])
    motion, inliers = cv2.estimateAffinePartial2D(
        a, b, method=cv2.RANSAC, ransacReprojThreshold=GLIDE_RANSAC_PIXELS
    )
    if motion is None:
        return 0, 0.0, 0.0
    width, height = GLIDE_SIZE
    corners = np.array([[0, 0], [width, 0], [0, height], [width, height]], np.float64)
    moved = corners @ motion[:, :2].T + motion[:, 2] - corners
    agreeing = int(inliers.sum())
    return agreeing, agreeing / len(matches), float(np.abs(moved).max())
