"""The one definition of a scenegan clip: frames, rows, columns and value ranges.

Every stage imports this module; nothing else spells out 32, 45 or 80. On disk a clip is uint8
(T, H, W); in the model it is float in [-1, 1], batched as (B, C, T, H, W) with C = 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ClipFormat:
    """Shape of one grayscale clip: n_frames x height x width."""

    n_frames: int
    height: int
    width: int

    @property
    def shape(self) -> tuple[int, int, int]:
        """(T, H, W), the shape of one clip as stored."""
        return (self.n_frames, self.height, self.width)

    @property
    def frame_shape(self) -> tuple[int, int]:
        """(H, W), the shape of one frame (and of a prepared photo)."""
        return (self.height, self.width)

    @property
    def n_bytes(self) -> int:
        """Bytes of one uint8 clip."""
        return self.n_frames * self.height * self.width

    def to_dict(self) -> dict[str, int]:
        return {"n_frames": self.n_frames, "height": self.height, "width": self.width}


# The stored clip and stage large: 32 frames of 45 rows by 80 columns (16:9).
CLIP = ClipFormat(n_frames=32, height=45, width=80)
# Stage small: the same clips area-downsampled on the fly to 23 rows by 40 columns.
SMALL = ClipFormat(n_frames=32, height=23, width=40)

STAGE_FORMATS: dict[str, ClipFormat] = {"small": SMALL, "large": CLIP}

# Aspect ratio every source frame and photo is centre-cropped to before resizing.
ASPECT = 16 / 9
# Frame rate clips are resampled to by default (frames per second).
DEFAULT_FPS = 12.0


def to_unit(clips: np.ndarray) -> np.ndarray:
    """uint8 [0, 255] -> float32 [-1, 1]."""
    return clips.astype(np.float32) / 127.5 - 1.0


def from_unit(clips: np.ndarray) -> np.ndarray:
    """float [-1, 1] -> uint8 [0, 255], rounded and clipped."""
    return np.clip(np.rint((np.asarray(clips, dtype=np.float32) + 1.0) * 127.5), 0, 255).astype(
        np.uint8
    )
