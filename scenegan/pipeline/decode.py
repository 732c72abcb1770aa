"""Streaming video decode with PyAV: one source file -> prepared frames at a fixed fps, (H, W)
gray or (H, W, 3) rgb as the clip format says.

For gray only the luma (Y) plane is read; rgb frames are converted by swscale. Frames are
cropped to 16:9 before the area resize, rotated as the container's display matrix says, and
resampled in time by nearest timestamp. A file that cannot give frames raises `VideoError` with
a short reason, which the build records instead of crashing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from scenegan.clip_format import CLIP, ClipFormat, context_format
from scenegan.pipeline.frames import (
    crop_box_16_9,
    expand_limited_range,
    resample_area,
    resize_area,
    ycbcr_to_rgb,
)

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


# A listed rate may exceed the source's own by this share (24 from 23.976) without faking frames:
# at most one repeated frame in 100.
RATE_TOLERANCE = 0.01


def source_rates(
    rates: tuple[float | str, ...], source_fps: float, min_source_fps: float = 0.0
) -> tuple[float, ...]:
    """The listed rates one source can honestly give, in the listed order: none above its own
    rate (a frame would be shown twice), `native` as its own rate (unless it is below
    `min_source_fps`: a slideshow), and a rate within RATE_TOLERANCE of one before it only once.
    A source whose rate is unknown (0) gives the numeric rates."""
    chosen: list[float] = []
    for rate in rates:
        if rate == "native":
            if not source_fps or source_fps < min_source_fps:
                continue
            rate = source_fps
        elif source_fps and rate > source_fps * (1 + RATE_TOLERANCE):
            continue
        if any(abs(rate - other) <= RATE_TOLERANCE * other for other in chosen):
            continue
        chosen.append(float(rate))
    return tuple(chosen)


def video_fps(path: Path) -> float:
    """The frame rate the container states for `path` (0 when it states none)."""
    container = open_video(path)
    try:
        return stream_info(container.streams.video[0]).fps
    finally:
        container.close()


@dataclass(frozen=True)
class RateFrame:
    """One output frame of one rate: the prepared frame and, if asked, its decoded source frame
    (for crop windows and the context)."""

    rate_index: int  # which of the rates asked for
    index: int  # frame number at that rate
    time: float  # seconds from the first frame
    frame: np.ndarray  # uint8 fmt.image_shape
    source: SourceFrame | None = None  # the same object for every rate that takes the frame


def iter_rates(
    path: Path,
    rates: tuple[float, ...],
    fmt: ClipFormat = CLIP,
    threads: int = 0,
    min_source_fps: float = 0.0,
    keep_sources: bool = False,
    on_frame: Callable[[av.VideoFrame, float], None] | None = None,
) -> Iterator[RateFrame]:
    """Decode `path` once and yield its frames at every rate of `rates` (frames a second).

    Output frame k of a rate is the source frame whose timestamp is nearest to k / rate; frames
    come in decode order, the rates of one source frame in the order given. Source frames that
    no rate takes are decoded but never converted. `threads` = 0 lets FFmpeg choose.
    `keep_sources` also gives each output its SourceFrame (for crop windows and the context).
    `on_frame(frame, time)` sees every decoded frame (the per-video filters sample a few).
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
        fallback_step = 1.0 / (source_fps or max(rates))
        steps = [1.0 / rate for rate in rates]
        start: float | None = None
        held: av.VideoFrame | None = None  # the latest decoded frame not yet passed
        held_time = 0.0
        n_decoded = 0
        next_index = [0] * len(rates)
        last_time = -fallback_step

        def outputs(until: float) -> Iterator[RateFrame]:
            converted = None  # the held frame, converted once for every rate that takes it
            for number, step in enumerate(steps):
                # Output times before `until` take the held frame.
                while next_index[number] * step < until:
                    if converted is None:
                        converted = _convert(held, fmt, keep_sources)
                    index = next_index[number]
                    yield RateFrame(number, index, index * step, *converted)
                    next_index[number] += 1

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
                if on_frame is not None:
                    on_frame(frame, time)
                if held is not None:
                    yield from outputs((held_time + time) / 2)  # up to the midpoint
                held, held_time, last_time = frame, time, time
        except av.error.FFmpegError as error:
            raise VideoError("corrupt", _short(error)) from error
        if stream.frames and n_decoded < 0.9 * stream.frames:
            # The container's index promises more: the data ends early.
            raise VideoError("truncated", f"decoded {n_decoded} of {stream.frames} frames")
        if held is not None:  # the last frame lasts one source frame interval
            yield from outputs(held_time + fallback_step / 2)
    finally:
        container.close()


def iter_frames(
    path: Path,
    fps: float,
    fmt: ClipFormat = CLIP,
    threads: int = 0,
    min_source_fps: float = 0.0,
) -> Iterator[tuple[float, np.ndarray]]:
    """Yield (time in seconds from the first frame, uint8 fmt.image_shape frame) at `fps`
    (iter_rates with one rate)."""
    for output in iter_rates(path, (fps,), fmt, threads, min_source_fps):
        yield output.time, output.frame


# Crop windows are cut from the whole 16:9 frame area-resampled to this many times the clip's
# size (or the source's own, if smaller): a window of half the frame still comes from twice
# the clip's resolution, and each window's resize costs a fraction of one from the source.
WINDOW_SOURCE_SCALE = 4


def _convert(
    frame: av.VideoFrame, fmt: ClipFormat, keep_source: bool = False
) -> tuple[np.ndarray, SourceFrame | None]:
    """The prepared frame and, when asked, the decoded frame held for crop windows and context."""
    rotation = frame.rotation or 0
    if fmt.color == "rgb":  # swscale converts to full-range RGB by the frame's colour matrix
        image, limited = frame.to_ndarray(format="rgb24"), False
    else:
        image, limited = luma_plane(frame)
    prepared = prepare_frame(image, rotation, limited, fmt)
    if not keep_source:
        return prepared, None
    return prepared, SourceFrame(frame, image, limited, rotation, fmt)


class SourceFrame:
    """A decoded source frame, held (not copied: the decoder gives every frame its own buffer)
    while a clip that starts or runs through it may still be kept. What crop windows are cut
    from is made only for frames of kept clips, once however many clips share the frame, and
    the context only for the first frames of kept clips."""

    def __init__(
        self, frame: av.VideoFrame, image: np.ndarray, limited: bool, rotation: int, fmt
    ) -> None:
        self.frame = frame  # keeps `image`'s buffer alive when it is a view of a plane
        self.image, self.limited, self.rotation, self.fmt = image, limited, rotation, fmt
        self._whole: np.ndarray | None = None
        self._planes: tuple[list[np.ndarray], bool, int] | None = None

    def whole(self) -> np.ndarray:
        """window_source of this frame (made once)."""
        if self._whole is None:
            self._whole = window_source(self.image, self.rotation, self.fmt)
        return self._whole

    def window(self, box: tuple[float, float, float, float]) -> np.ndarray:
        """A crop window of this frame as a clip frame of fmt (prepare_window)."""
        return prepare_window(self.whole(), self.limited, box, self.fmt)

    def context(self, box: tuple[float, float, float, float], scale: int) -> np.ndarray:
        """The frame (or the crop window `box` of it) in colour at `scale` times fmt's size:
        the place its clip shows, integrated from window_source's grid (made once a frame).
        Above scale 2 a window would be enlarged from that grid, so the grid is made finer
        (then a window's grey differs from its clip's by the detail the clip's grid lacks)."""
        rows, columns = window_grid(self.image.shape[:2], self.rotation, self.fmt)
        finer = max(1, -(-2 * scale // WINDOW_SOURCE_SCALE))  # windows are >= 1/2 the frame
        if self._planes is None or self._planes[2] != finer:
            planes, limited = context_planes(
                self.frame, self.rotation, rows * finer, columns * finer
            )
            self._planes = planes, limited, finer
        planes, limited, _ = self._planes
        rect = tuple(finer * value for value in window_rect(box, rows, columns))
        return frame_context(planes, limited, rect, context_format(self.fmt, scale))


def window_source(image: np.ndarray, rotation: int, fmt: ClipFormat) -> np.ndarray:
    """The 16:9 box of a stored frame, displayed, area-resampled to at most WINDOW_SOURCE_SCALE
    times fmt's size (window_grid): what prepare_window cuts crop windows from."""
    quarter_turns = (rotation // 90) % 4
    rows, columns = window_grid(image.shape[:2], rotation, fmt)
    top, bottom, left, right = _stored_16_9(image.shape[:2], quarter_turns)
    box = image[top:bottom, left:right]
    grid = _grid_format(fmt, rows, columns, quarter_turns)
    if box.shape[:2] != grid.frame_shape:  # larger than the grid: area-resampled
        box = resize_area(box, grid)
    # A copy (the frame's memory is the decoder's), rotated as displayed.
    return np.ascontiguousarray(np.rot90(box, k=quarter_turns))


def window_grid(stored: tuple[int, int], rotation: int, fmt: ClipFormat) -> tuple[int, int]:
    """(rows, columns) of window_source's output for a stored frame of `stored` (rows,
    columns): the displayed 16:9 box, or WINDOW_SOURCE_SCALE times fmt's size if that is
    smaller."""
    quarter_turns = (rotation // 90) % 4
    top, bottom, left, right = _stored_16_9(stored, quarter_turns)
    rows, columns = (
        (right - left, bottom - top) if quarter_turns % 2 else (bottom - top, right - left)
    )
    if columns > fmt.width * WINDOW_SOURCE_SCALE:
        return fmt.height * WINDOW_SOURCE_SCALE, fmt.width * WINDOW_SOURCE_SCALE
    return rows, columns


def _stored_16_9(stored: tuple[int, int], quarter_turns: int) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) in the stored frame of the box that is 16:9 as displayed."""
    height, width = stored
    if quarter_turns % 2:  # displayed sideways: the stored frame's 9:16 box
        left, right, top, bottom = crop_box_16_9(width, height)
        return top, bottom, left, right
    return crop_box_16_9(height, width)


def _grid_format(fmt: ClipFormat, rows: int, columns: int, quarter_turns: int) -> ClipFormat:
    """fmt at (rows, columns) as displayed, in the stored orientation."""
    if quarter_turns % 2:
        rows, columns = columns, rows
    return ClipFormat(fmt.n_frames, rows, columns, fmt.color)


def window_rect(
    box: tuple[float, float, float, float], rows: int, columns: int
) -> tuple[int, int, int, int]:
    """(row, rows, column, columns) of a crop window `box` (top, left, height, width as
    fractions) in a grid of `rows` x `columns` pixels."""
    return (
        round(box[0] * rows),
        max(1, round(box[2] * rows)),
        round(box[1] * columns),
        max(1, round(box[3] * columns)),
    )


def prepare_window(
    whole: np.ndarray, limited: bool, box: tuple[float, float, float, float], fmt: ClipFormat
) -> np.ndarray:
    """A crop window of a frame's whole 16:9 box (window_source) -> fmt's frame, as
    prepare_frame makes the whole one. `box` is (top, left, height, width) as fractions of the
    16:9 box; (0, 0, 1, 1) is all of it."""
    row, rows, column, columns = window_rect(box, *whole.shape[:2])
    small = resize_area(whole[row : row + rows, column : column + columns], fmt)
    return expand_limited_range(small) if limited else small


def window_clip(
    wholes: Sequence[np.ndarray],
    limited: bool,
    box: tuple[float, float, float, float],
    fmt: ClipFormat,
) -> np.ndarray:
    """The crop window `box` of every frame of a clip, from their window_source: uint8
    (T, *fmt.image_shape), each frame as prepare_window makes it (the video range expanded
    once for the clip)."""
    row, rows, column, columns = window_rect(box, *wholes[0].shape[:2])
    clip = np.stack(
        [resize_area(whole[row : row + rows, column : column + columns], fmt) for whole in wholes]
    )
    return expand_limited_range(clip) if limited else clip


# Planar YUV formats whose chroma planes are read as they are; "j" = full (JPEG) range.
PLANAR_YUV_FORMATS = ("yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p")


def yuv_planes(frame: av.VideoFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """(luma (H, W), Cb, Cr (the chroma's own rows and columns), limited range) uint8 views of a
    frame's planes; other pixel formats are converted to full-range 4:4:4 by swscale."""
    name = frame.format.name
    if name in PLANAR_YUV_FORMATS or name in ("nv12", "nv21"):
        luma, limited = luma_plane(frame)
        if name.startswith("nv"):  # one plane of interleaved chroma: Cb Cr (nv12), Cr Cb (nv21)
            both = _plane(frame.planes[1], 2)
            cb, cr = (
                (both[..., 0], both[..., 1]) if name == "nv12" else (both[..., 1], both[..., 0])
            )
        else:
            cb, cr = _plane(frame.planes[1]), _plane(frame.planes[2])
        return luma, cb, cr, limited
    if name == "gray":
        luma, limited = luma_plane(frame)
        grey = np.full((1, 1), 128, np.uint8)
        return luma, grey, grey, limited
    planes = frame.reformat(format="yuvj444p").planes  # 10-bit, RGB, palette, ...
    return _plane(planes[0]), _plane(planes[1]), _plane(planes[2]), False


def _plane(plane, channels: int = 1) -> np.ndarray:
    """A uint8 view of one plane without its row padding: (rows, columns[, channels])."""
    rows = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
    view = rows[:, : plane.width * channels]
    return view if channels == 1 else view.reshape(plane.height, plane.width, channels)


def context_planes(
    frame: av.VideoFrame, rotation: int, rows: int, columns: int
) -> tuple[list[np.ndarray], bool]:
    """The displayed 16:9 box of a decoded frame as its Y, Cb and Cr planes, each uint8 and
    area-resampled to `rows` x `columns` (chroma from its own resolution), and whether they are
    video range. On window_source's grid the Y plane is window_source itself, so a window's
    context is integrated over the very pixels its clip is."""
    luma, cb, cr, limited = yuv_planes(frame)
    quarter_turns = (rotation // 90) % 4
    top, bottom, left, right = _stored_16_9(luma.shape, quarter_turns)
    grid = _grid_format(CLIP, rows, columns, quarter_turns)  # only its size counts
    planes = []
    for plane in (luma, cb, cr):
        down, across = plane.shape[0] / luma.shape[0], plane.shape[1] / luma.shape[1]
        first, start = int(top * down), int(left * across)
        last = max(first + 1, round(bottom * down))
        stop = max(start + 1, round(right * across))
        box = plane[first:last, start:stop]
        if box.shape != grid.frame_shape:
            box = resize_area(np.ascontiguousarray(box), grid)
        planes.append(np.ascontiguousarray(np.rot90(box, k=quarter_turns)))
    return planes, limited


def frame_context(
    planes: list[np.ndarray], limited: bool, rect: tuple[int, int, int, int], fmt: ClipFormat
) -> np.ndarray:
    """The window `rect` (window_rect) of context_planes in colour at fmt's size: uint8
    (H, W, 3), BT.601 RGB (ycbcr_to_rgb), so that its grey is the clip's grey whatever matrix
    the video states. Integrated exactly (resample_area), enlarging too: averaged back to the
    clip's size it is the clip's frame."""
    row, rows, column, columns = rect
    luma, cb, cr = (
        resample_area(plane, row, row + rows, column, column + columns, fmt.height, fmt.width)
        for plane in planes
    )
    if limited:  # video range: luma 16..235, chroma 16..240 around 128
        chroma = 255 / 224
        return ycbcr_to_rgb((luma - 16) * (255 / 219), (cb - 128) * chroma, (cr - 128) * chroma)
    return ycbcr_to_rgb(luma, cb - 128, cr - 128)


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
