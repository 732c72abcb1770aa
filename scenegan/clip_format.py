"""The one definition of a scenegan clip: frames, rows, columns, colour and value ranges.

Every stage imports this module; nothing else spells out 32, 45 or 80. On disk a gray clip is
uint8 (T, H, W) and an rgb clip uint8 (T, H, W, 3); in the model a clip is float in [-1, 1],
batched as (B, C, T, H, W) with C = 1 or 3, and a photo as (B, C, H, W). A dataset records its
format in index.json (and every shard); a checkpoint records the format it was trained on, so
train, export, sample and evaluate take it from the file, never from an option.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

COLORS = {"gray": 1, "rgb": 3}  # colour name -> channels
# Sizes are 16:9, the width a multiple of 16 so the height is whole; these bound --size.
MIN_WIDTH, MAX_WIDTH = 64, 640


@dataclass(frozen=True)
class ClipFormat:
    """Shape of one clip: n_frames x height x width, gray (1 channel) or rgb (3)."""

    n_frames: int
    height: int
    width: int
    color: str = "gray"

    def __post_init__(self) -> None:
        if self.color not in COLORS:
            raise ValueError(f"color must be one of {sorted(COLORS)}, not {self.color!r}")

    @property
    def channels(self) -> int:
        return COLORS[self.color]

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of one clip as stored: (T, H, W) gray, (T, H, W, 3) rgb."""
        return (self.n_frames, *self.image_shape)

    @property
    def image_shape(self) -> tuple[int, ...]:
        """The shape of one stored frame (and of a prepared photo): (H, W) or (H, W, 3)."""
        return self.frame_shape if self.color == "gray" else (*self.frame_shape, 3)

    @property
    def frame_shape(self) -> tuple[int, int]:
        """(H, W): the rows and columns of a frame."""
        return (self.height, self.width)

    @property
    def volume(self) -> tuple[int, int, int]:
        """(T, H, W): what 3-D convolutions see, whatever the colour."""
        return (self.n_frames, self.height, self.width)

    @property
    def size(self) -> str:
        """`80x45`: width x height, as `--size` takes it."""
        return f"{self.width}x{self.height}"

    @property
    def n_bytes(self) -> int:
        """Bytes of one uint8 clip."""
        return self.n_frames * self.height * self.width * self.channels

    def half(self) -> ClipFormat:
        """Stage small's format: half the rows and columns (rounded up), the same frames and
        colour: 40 x 23 for 80 x 45, 80 x 45 for 160 x 90."""
        return ClipFormat(self.n_frames, (self.height + 1) // 2, (self.width + 1) // 2, self.color)

    def stage(self, stage: str) -> ClipFormat:
        """The format a stage trains at, for a dataset of this format."""
        if stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}, not {stage!r}")
        return self.half() if stage == "small" else self

    def to_dict(self) -> dict:
        """What index.json, shards and checkpoints record. A gray format is written without
        `color`, so every gray dataset and checkpoint is byte-identical to those written
        before colour existed, and they all read back as gray."""
        out: dict = {"n_frames": self.n_frames, "height": self.height, "width": self.width}
        if self.color != "gray":
            out["color"] = self.color
        return out

    @classmethod
    def from_dict(cls, data: dict) -> ClipFormat:
        return cls(
            n_frames=int(data["n_frames"]),
            height=int(data["height"]),
            width=int(data["width"]),
            color=str(data.get("color", "gray")),
        )

    def describe(self) -> str:
        """`gray 80x45, 32 frames`: how error lines name a format."""
        return f"{self.color} {self.size}, {self.n_frames} frames"


def parse_size(text: str) -> tuple[int, int]:
    """`160x90` -> (160, 90); ValueError unless 16:9 with a width that is a multiple of 16."""
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"--size must be WIDTHxHEIGHT such as 160x90, not {text!r}") from None
    if width % 16 or height * 16 != width * 9 or not MIN_WIDTH <= width <= MAX_WIDTH:
        raise ValueError(
            f"--size must be 16:9 with a width that is a multiple of 16 from {MIN_WIDTH} to "
            f"{MAX_WIDTH} (80x45, 160x90, 320x180, ...), not {text}"
        )
    return width, height


def clip_format(color: str = "gray", size: str = "80x45", n_frames: int = 32) -> ClipFormat:
    """The format of `build-dataset --color --size --frames`."""
    width, height = parse_size(size)
    if color not in COLORS:
        raise ValueError(f"--color must be one of {', '.join(COLORS)}, not {color!r}")
    if n_frames < 8:
        raise ValueError(f"--frames must be at least 8, not {n_frames}")
    return ClipFormat(n_frames=n_frames, height=height, width=width, color=color)


def context_format(fmt: ClipFormat, scale: int) -> ClipFormat:
    """The format of a clip's context (dataset format 3): its first frame in colour at `scale`
    times the clip's rows and columns; image_shape is (scale * H, scale * W, 3)."""
    return ClipFormat(fmt.n_frames, fmt.height * scale, fmt.width * scale, "rgb")


STAGES = ("small", "large")
# The default clip (and stage large): 32 gray frames of 45 rows by 80 columns (16:9).
CLIP = ClipFormat(n_frames=32, height=45, width=80)
# The default stage small: the same clips area-downsampled on the fly to 23 rows by 40 columns.
SMALL = CLIP.half()
# Every clip is also measured by the build's filters at this format, whatever it is stored at,
# so a dataset of any colour and size holds the clips the default one does.
FILTER_FORMAT = CLIP

# Aspect ratio every source frame and photo is centre-cropped to before resizing.
ASPECT = 16 / 9
# Frame rate clips are resampled to by default (frames per second).
DEFAULT_FPS = 12.0


def stage_formats(
    stage: str, clip_format: dict | None
) -> tuple[ClipFormat, ClipFormat, ClipFormat]:
    """A network's (stage format, stage small's format, dataset format) from the dataset format
    its constructor arguments record; None (checkpoints written before colour and size existed)
    is the default gray 80 x 45."""
    clip = CLIP if clip_format is None else ClipFormat.from_dict(clip_format)
    return clip.stage(stage), clip.half(), clip


def to_unit(clips: np.ndarray) -> np.ndarray:
    """uint8 [0, 255] -> float32 [-1, 1]."""
    return clips.astype(np.float32) / 127.5 - 1.0


def from_unit(clips: np.ndarray) -> np.ndarray:
    """float [-1, 1] -> uint8 [0, 255], rounded and clipped."""
    return np.clip(np.rint((np.asarray(clips, dtype=np.float32) + 1.0) * 127.5), 0, 255).astype(
        np.uint8
    )


def channels_first(stored, fmt: ClipFormat, batched: bool = True):
    """Stored layout -> model layout, for numpy arrays and torch tensors alike: clips
    (N, *fmt.shape) -> (N, C, T, H, W); with `batched` False, one photo fmt.image_shape ->
    (C, H, W). Photos batched as (N, *fmt.image_shape) -> (N, C, H, W) also work."""
    axis = 1 if batched else 0
    if fmt.color == "gray":
        return stored[:, None] if batched else stored[None]
    return _moveaxis(stored, -1, axis)


def channels_last(model, fmt: ClipFormat):
    """Model layout -> stored layout: (N, C, T, H, W) -> (N, *fmt.shape), and (N, C, H, W)
    photos -> (N, *fmt.image_shape)."""
    if fmt.color == "gray":
        return model[:, 0]
    return _moveaxis(model, 1, -1)


def _moveaxis(x, source: int, destination: int):
    if isinstance(x, np.ndarray):
        return np.moveaxis(x, source, destination)
    return x.movedim(source, destination)


# What a recorded format or frame rate may be: a file claiming 0 x 0 pixels, 10**6 frames or
# 1e-9 frames per second is damaged or crafted, and would fail deep inside a network or a writer.
FRAMES_RANGE = (8, 1024)
SIDE_RANGE = (16, MAX_WIDTH)  # rows and columns, stage small's halves included
FPS_RANGE = (0.01, 1000.0)  # GIF delays are 1/100 s .. 655 s


def format_problem(fmt: ClipFormat) -> str | None:
    """What is wrong with a format read from a file, or None if it is one scenegan can make."""
    low, high = FRAMES_RANGE
    if not low <= fmt.n_frames <= high:
        return f"{fmt.n_frames} frames (a clip has {low} to {high})"
    low, high = SIDE_RANGE
    if not (low <= fmt.height <= high and low <= fmt.width <= high):
        return f"{fmt.width} x {fmt.height} pixels (each side is {low} to {high})"
    return None


def fps_problem(fps: object) -> str | None:
    """What is wrong with a recorded frame rate, or None."""
    low, high = FPS_RANGE
    if isinstance(fps, bool) or not isinstance(fps, int | float):
        return f"a frame rate of {fps!r} (not a number)"
    if not low <= fps <= high:  # nan fails too
        return f"a frame rate of {fps:g} fps (frames per second are {low:g} to {high:g})"
    return None
