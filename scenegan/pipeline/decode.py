"""Streaming video decode with PyAV: one source file -> prepared frames at a fixed fps, (H, W)
gray or (H, W, 3) rgb as the clip format says.

For gray only the luma (Y) plane is read; rgb frames are converted by swscale. Frames are
cropped to 16:9 before the area resize, rotated as the container's display matrix says, and
resampled in time by nearest timestamp. A file that cannot give frames raises `VideoError` with
a short reason, which the build records instead of crashing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from scenegan.clip_format import CLIP, ClipFormat
from scenegan.pipeline.frames import crop_box_16_9, expand_limited_range, resize_area

# Pixel formats whose first plane is full-range luma ("j" = JPEG range) or plain gray.
FULL_RANGE_FORMATS = ("yuvj", "gray")
# 8-bit pixel formats whose first plane is the luma, so it is read without any conversion.
LUMA_FIRST_FORMATS = (
    "yuv420p",
    "yuvj420p",
    "yuv422p",
    "yuvj422p",
    "yuv444p",
    "yuvj444p",
    "gray",
    "nv12",
    "nv21",
)


class VideoError(Exception):
    """A source that cannot be used; `reason` is a short key counted in stats.json."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video stream before decoding."""

    width: int
    height: int
    fps: float
    duration: float | None  # seconds, if the container knows


def open_video(path: Path) -> av.container.InputContainer:
    """Open `path` with PyAV, mapping every way a file can fail to open onto a VideoError."""
    if not path.is_file():
        raise VideoError("missing", str(path))
    if path.stat().st_size == 0:
        raise VideoError("empty_file")
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as error:
        # A known container header that FFmpeg cannot open is a damaged video (often one cut
        # short before its index); anything else was never a video.
        reason = "corrupt" if _looks_like_video(path) else "not_a_video"
        raise VideoError(reason, _short(error)) from error
    if not container.streams.video:
        kinds = sorted({s.type for s in container.streams})
        container.close()
        raise VideoError("no_video_stream", "streams: " + (", ".join(kinds) or "none"))
    return container


# Leading bytes of common video containers: (offset, signature).
_CONTAINER_SIGNATURES = (
    (4, b"ftyp"),  # MP4, MOV, 3GP
    (0, b"\x1a\x45\xdf\xa3"),  # Matroska, WebM
    (0, b"RIFF"),  # AVI
    (0, b"FLV"),
    (0, b"\x00\x00\x01\xba"),  # MPEG program stream
    (0, b"\x47"),  # MPEG transport stream
)


def _looks_like_video(path: Path) -> bool:
    with path.open("rb") as file:
        head = file.read(12)
    return any(head[offset : offset + len(sig)] == sig for offset, sig in _CONTAINER_SIGNATURES)


def stream_info(stream: av.video.stream.VideoStream) -> VideoInfo:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    duration = None
    if stream.duration is not None and stream.time_base is not None:
        duration = float(stream.duration * stream.time_base)
    return VideoInfo(
        width=stream.codec_context.width,
        height=stream.codec_context.height,
        fps=float(rate) if rate else 0.0,
        duration=duration,
    )


def luma_plane(frame: av.VideoFrame) -> tuple[np.ndarray, bool]:
    """(H, W) uint8 view of the frame's luma and whether it is limited (video) range."""
    name = frame.format.name
    if name in LUMA_FIRST_FORMATS:
        plane = frame.planes[0]
        # The plane's rows are padded to `line_size`; view the buffer, then drop the padding.
        luma = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
        luma = luma[:, : plane.width]
        full = name.startswith(FULL_RANGE_FORMATS) or frame.color_range == 2  # 2 = JPEG range
        return luma, not full
    # Anything else (10-bit, RGB, palette): let swscale convert to full-range gray.
    return frame.to_ndarray(format="gray"), False


def prepare_frame(
    image: np.ndarray, rotation: int, limited: bool, fmt: ClipFormat = CLIP
) -> np.ndarray:
    """Stored-orientation luma (H, W) or RGB (H, W, 3) -> fmt's displayed frame, full range.

    Cropping and resizing happen in the stored orientation (on a view, no copy), and only the
    small result is rotated: rotating the full-size frame would cost a copy per frame.
    """
    quarter_turns = (rotation // 90) % 4
    height, width = image.shape[:2]
    if quarter_turns % 2:  # displayed sideways: crop the stored frame to 9:16
        left, right, top, bottom = crop_box_16_9(width, height)
        small = resize_area(image[top:bottom, left:right], _transposed(fmt))
    else:
        top, bottom, left, right = crop_box_16_9(height, width)
        small = resize_area(image[top:bottom, left:right], fmt)
    if quarter_turns:
        small = np.ascontiguousarray(np.rot90(small, k=quarter_turns))  # anticlockwise, (H, W)
    if limited:
        # Range expansion after the resize works on 3600 pixels instead of millions; the area
        # average commutes with this affine map except where it clips (below 16 or above 235).
        small = expand_limited_range(small)
    return small


def _transposed(fmt: ClipFormat) -> ClipFormat:
    return ClipFormat(n_frames=fmt.n_frames, height=fmt.width, width=fmt.height, color=fmt.color)


def iter_frames(
    path: Path,
    fps: float,
    fmt: ClipFormat = CLIP,
    threads: int = 0,
    min_source_fps: float = 0.0,
) -> Iterator[tuple[float, np.ndarray]]:
    """Yield (time in seconds from the first frame, uint8 fmt.image_shape frame) at `fps`.

    Output frame k is the source frame whose timestamp is nearest to k / fps; source frames
    between output times are decoded but never converted. `threads` = 0 lets FFmpeg choose.
    Raises VideoError when the file cannot be opened, its stated frame rate is below
    `min_source_fps` (a slideshow, which resampling would only repeat) or decoding fails.
    """
    container = open_video(path)
    try:
        stream = container.streams.video[0]
        source_fps = stream_info(stream).fps
        if source_fps and source_fps < min_source_fps:
            raise VideoError(
                "low_fps", f"{source_fps:g} fps is below --min-source-fps {min_source_fps:g}"
            )
        if threads != 1:  # frame and slice threads; with one worker per core, one is best
            stream.thread_type = "AUTO"
            stream.thread_count = threads
        fallback_step = 1.0 / (source_fps or fps)
        step = 1.0 / fps
        start: float | None = None
        held: av.VideoFrame | None = None  # the latest decoded frame not yet passed
        held_time = 0.0
        n_decoded = 0
        next_index = 0
        last_time = -fallback_step
        try:
            for frame in container.decode(stream):
                n_decoded += 1
                time = frame.time
                if time is None:  # no timestamps: count frames at the stream's nominal rate
                    time = last_time + fallback_step
                if start is None:
                    start = time
                time -= start
                if time <= last_time:  # out-of-order or duplicate timestamp: keep the earlier
                    continue
                if held is not None:
                    # Output times before the midpoint of the held and this frame take the held.
                    midpoint = (held_time + time) / 2
                    while next_index * step < midpoint:
                        yield next_index * step, _convert(held, fmt)
                        next_index += 1
                held, held_time, last_time = frame, time, time
        except av.error.FFmpegError as error:
            raise VideoError("corrupt", _short(error)) from error
        if stream.frames and n_decoded < 0.9 * stream.frames:
            # The container's index promises more: the data ends early.
            raise VideoError("truncated", f"decoded {n_decoded} of {stream.frames} frames")
        if held is not None:  # the last frame lasts one source frame interval
            while next_index * step < held_time + fallback_step / 2:
                yield next_index * step, _convert(held, fmt)
                next_index += 1
    finally:
        container.close()


def _convert(frame: av.VideoFrame, fmt: ClipFormat) -> np.ndarray:
    if fmt.color == "rgb":  # swscale converts to full-range RGB by the frame's colour matrix
        return prepare_frame(frame.to_ndarray(format="rgb24"), frame.rotation or 0, False, fmt)
    luma, limited = luma_plane(frame)
    return prepare_frame(luma, frame.rotation or 0, limited, fmt)


def decode_video(path: Path, fps: float, fmt: ClipFormat = CLIP, threads: int = 0) -> np.ndarray:
    """All frames of `path` at `fps` as one uint8 (T, *fmt.image_shape) array (tests, previews)."""
    frames = [frame for _, frame in iter_frames(path, fps, fmt, threads)]
    if not frames:
        return np.zeros((0, *fmt.image_shape), np.uint8)
    return np.stack(frames)


def _short(error: BaseException) -> str:
    """One short line about an error, without the file's path (stats.json names the file)."""
    text = getattr(error, "strerror", None) or str(error).strip() or type(error).__name__
    return text.splitlines()[0][:160]
