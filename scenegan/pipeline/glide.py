"""A camera that glides: the sampled frames, seconds apart, show the same ground shifted.

A drone gliding over a garden or a savanna, a slow pan or tilt moves the frame by a few
pixels a clip, no more than clouds drift past a still camera, so the clip filters let it
through (`camera_pan` allows clouds their drift). Seconds apart, the difference shows: each
pair of consecutive sampled frames is matched by ORB features, and a shift, turn and zoom is
fitted (RANSAC). Where the camera glides, most matches agree on one motion that moves the
frame's corners by many pixels; where it stands still, the agreeing matches stay put (rocks,
the horizon), and what moves by itself (waves, flames, leaves) agrees on nothing.

The motion is fitted twice: closely (matches within GLIDE_CLOSE pixels of it), and loosely
(within GLIDE_LOOSE). A drone flying low over trees or uneven ground sees near things move
faster than far ones, and a fisheye lens bends straight lines, so no single shift, turn and
zoom fits their matches closely; loosely, most of them still agree on one large motion."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

GLIDE_SIZE = (320, 180)  # (width, height): frames are matched at this size
GLIDE_FEATURES = 800
GLIDE_MIN_MATCHES = 10  # a pair with fewer is not judged (a flat sky, a dark night)
GLIDE_MIN_RATIO = 0.6  # the agreeing matches' share of the matches, in the median pair
# (RANSAC tolerance in pixels, agreeing matches needed in the median pair) of each fit
GLIDE_CLOSE = (2.0, 150)
GLIDE_LOOSE = (8.0, 100)


@dataclass(frozen=True)
class Glide:
    """How far the camera glided between consecutive sampled frames: the median over pairs of
    how far the fitted motion moves the frame's corners, in pixels at GLIDE_SIZE, where most
    matches agree on it (GLIDE_MIN_RATIO, and the fit's agreeing matches in the median pair);
    else 0."""

    close: float = 0.0  # the motion most matches follow within GLIDE_CLOSE's pixels
    loose: float = 0.0  # ... within GLIDE_LOOSE's (parallax, a fisheye lens)


def glide(frames: list[np.ndarray]) -> Glide:
    """The camera's Glide between consecutive sampled (H, W) gray frames."""
    features = [_features(_at_size(frame)) for frame in frames]
    pairs = [_matched(features[i], features[i + 1]) for i in range(len(features) - 1)]
    pairs = [pair for pair in pairs if pair is not None]
    if not pairs:
        return Glide()
    return Glide(*(_median_motion(pairs, *fit) for fit in (GLIDE_CLOSE, GLIDE_LOOSE)))


def _median_motion(pairs: list[tuple], tolerance: float, min_agreeing: int) -> float:
    """How far the motion fitted within `tolerance` moves the corners in the median pair, or 0
    where fewer than `min_agreeing` matches (or GLIDE_MIN_RATIO of them) agree on it there."""
    fits = np.array([_fit(a, b, tolerance) for a, b in pairs])
    agreeing, ratio, moved = np.median(fits, axis=0)
    return float(moved) if agreeing >= min_agreeing and ratio >= GLIDE_MIN_RATIO else 0.0


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


def _matched(first: tuple, second: tuple) -> tuple[np.ndarray, np.ndarray] | None:
    """The (N, 2) positions of the features two frames share, in each, or None where fewer than
    GLIDE_MIN_MATCHES match."""
    (points_a, described_a), (points_b, described_b) = first, second
    if described_a is None or described_b is None:
        return None
    matches = _orb()[1].match(described_a, described_b)
    if len(matches) < GLIDE_MIN_MATCHES:
        return None
    a = np.float32([points_a[m.queryIdx].pt for m in matches])
    b = np.float32([points_b[m.trainIdx].pt for m in matches])
    return a, b


def _fit(a: np.ndarray, b: np.ndarray, tolerance: float) -> tuple[int, float, float]:
    """(matches agreeing on one shift, turn and zoom within `tolerance` pixels, their share of
    the matches, how far that motion moves the frame's corners)."""
    motion, inliers = cv2.estimateAffinePartial2D(
        a, b, method=cv2.RANSAC, ransacReprojThreshold=tolerance
    )
    if motion is None:
        return 0, 0.0, 0.0
    width, height = GLIDE_SIZE
    corners = np.array([[0, 0], [width, 0], [0, height], [width, height]], np.float64)
    moved = corners @ motion[:, :2].T + motion[:, 2] - corners
    agreeing = int(inliers.sum())
    return agreeing, agreeing / len(a), float(np.abs(moved).max())
