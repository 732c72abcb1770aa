"""Filters judged once per source video, on a few frames sampled while it is decoded, at the
source's own resolution (at most SAMPLE_SIZE): `people` (faces and people as a subject, by
OpenCV's bundled Haar face cascades and a person detector, person_detector.py) and `overlay`
(captions, logos, watermarks, cards, bars and borders laid over the picture). And `zoom`,
judged per clip like a pan: the clip's optical flow diverges from one point across the whole
frame.

What each looks at, and how its default was chosen, is in docs/filters.md."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from scenegan.config import FilterConfig
from scenegan.pipeline.decode import VideoError, luma_plane, open_video, stream_info
from scenegan.pipeline.frames import at_height, crop_box_16_9, expand_limited_range
from scenegan.pipeline.glide import glide
from scenegan.pipeline.overlay_text import TEXT_MIN_FRAMES, text_frames
from scenegan.pipeline.person_detector import Seen, look

# judged per video: every candidate clip takes the reason
SCENE_REASONS = ("people", "overlay", "moving_camera")
N_SAMPLES = 8  # frames sampled per video
SAMPLE_SIZE = (640, 360)  # (width, height): sampled frames larger than this are area-resized
# Sampling where the container states no duration: a frame every FIRST_INTERVAL seconds at
# first; when the buffer holds twice N_SAMPLES, every other frame goes and the interval doubles.
FIRST_INTERVAL = 0.25
DETECT_HEIGHT = 360  # frames are scaled to this height for the face cascades,
FACE_HEIGHT = 240  # then to this one: a tenth of it is the cascades' own 24-pixel window


@dataclass
class FrameSampler:
    """Takes N_SAMPLES decoded frames spread over a video as gray 16:9 frames at the source's
    resolution (at most SAMPLE_SIZE), and each in colour too (the person detector's). Fed every
    decoded frame (`add`); converts only the frames it keeps. With the video's `duration` it
    takes the first frame at or after each of N_SAMPLES evenly spaced times; without it (a
    container that does not say), one every FIRST_INTERVAL seconds, and each time it holds
    twice N_SAMPLES it drops every other and doubles the interval."""

    duration: float | None = None
    interval: float = FIRST_INTERVAL
    times: list[float] = field(default_factory=list)
    frames: list[np.ndarray] = field(default_factory=list)
    colours: list[np.ndarray] = field(default_factory=list)
    next_time: float = 0.0
    first_time: float | None = None

    @classmethod
    def of(cls, path: Path) -> FrameSampler:
        """A sampler for the video at `path`, told its duration when the container states it."""
        try:
            container = open_video(path)
        except VideoError:
            return cls()
        try:
            duration = stream_info(container.streams.video[0]).duration
        finally:
            container.close()
        return cls(duration if duration and duration > 0 else None)

    def add(self, frame, time: float) -> None:
        """One decoded av.VideoFrame and its time in seconds."""
        if self.first_time is None:
            self.first_time = time
            if self.duration:
                self.next_time = 0.5 * self.duration / N_SAMPLES
        if time - self.first_time < self.next_time or (
            self.duration and len(self.frames) >= N_SAMPLES
        ):
            return
        self.times.append(time - self.first_time)
        gray = sample_luma(frame)
        self.frames.append(gray)
        self.colours.append(sample_colour(frame, gray.shape[::-1]))
        if self.duration:
            self.next_time = (len(self.frames) + 0.5) * self.duration / N_SAMPLES
            return
        self.next_time = self.times[-1] + self.interval
        if len(self.frames) >= 2 * N_SAMPLES:
            self.times, self.frames = self.times[::2], self.frames[::2]
            self.colours = self.colours[::2]
            self.interval *= 2
            self.next_time = self.times[-1] + self.interval

    def chosen(self) -> list[np.ndarray]:
        """N_SAMPLES evenly spread gray frames (all of them for a short video)."""
        return [self.frames[i] for i in self._picks()]

    def chosen_colours(self) -> list[np.ndarray]:
        """The same frames as `chosen`, in RGB (H, W, 3)."""
        return [self.colours[i] for i in self._picks()]

    def _picks(self) -> list[int]:
        if len(self.frames) <= N_SAMPLES:
            return list(range(len(self.frames)))
        return np.linspace(0, len(self.frames) - 1, N_SAMPLES).round().astype(int).tolist()


def sample_luma(frame) -> np.ndarray:
    """An av.VideoFrame -> its displayed 16:9 box as full-range gray, at most SAMPLE_SIZE."""
    image, limited = luma_plane(frame)  # a view of the decoder's luma, or swscale's gray
    box = _displayed_box(image, _quarter_turns(frame))
    if box.shape[1] > SAMPLE_SIZE[0]:
        box = cv2.resize(box, SAMPLE_SIZE, interpolation=cv2.INTER_AREA)
    else:
        box = np.array(box)  # a copy: the decoder reuses the frame's memory
    return expand_limited_range(box) if limited else box


def sample_colour(frame, size: tuple[int, int]) -> np.ndarray:
    """An av.VideoFrame -> its displayed 16:9 box in RGB at `size` (width, height): the gray
    sample's. A large frame is scaled down by swscale as it is converted, not after."""
    quarter_turns = _quarter_turns(frame)
    shown = (frame.width, frame.height) if quarter_turns % 2 else (frame.height, frame.width)
    top, bottom, left, right = crop_box_16_9(*shown)
    scale = size[0] / (right - left)
    if scale < 0.9:
        width, height = (max(2, round(side * scale)) for side in (frame.width, frame.height))
        image = frame.reformat(width, height, "rgb24", interpolation="AREA").to_ndarray()
    else:
        image = frame.to_ndarray(format="rgb24")
    box = _displayed_box(image, quarter_turns)
    return cv2.resize(box, size, interpolation=cv2.INTER_AREA)


def _quarter_turns(frame) -> int:
    return ((frame.rotation or 0) // 90) % 4


def _displayed_box(image: np.ndarray, quarter_turns: int) -> np.ndarray:
    """A stored frame (H, W) or (H, W, 3) turned as displayed, and its 16:9 box (a view)."""
    if quarter_turns:
        image = np.rot90(image, k=quarter_turns)
    top, bottom, left, right = crop_box_16_9(*image.shape[:2])
    return image[top:bottom, left:right]


# ---------------------------------------------------------------- people


# Two of OpenCV's frontal face cascades must agree on a face: the first looks over the frame,
# the second only around what the first found. On the scenery clips each alone fires on
# foliage, rain on glass and snow in a few frames, at weights up to 7 (docs/filters.md);
# together rarely, while real faces gave 5-12.
FACE_CASCADES = ("haarcascade_frontalface_default.xml", "haarcascade_frontalface_alt2.xml")
FACE_MIN_HEIGHT = 0.1  # of the frame's height: a face smaller than this is far away
FACE_SCALE_STEP = 1.2
FACE_NEIGHBOURS = 3
FACE_CHECKED = 3  # the strongest faces of the first cascade that the second one checks
# The sampled frames beyond `people_frames` are searched when a face reaches PEOPLE_NEAR of its
# threshold in those, or a person PERSON_NEAR of its: 2 of the 249 scenery clips' faces did (a
# sky tile, a fire pit), and 11 of their persons (flames, a fountain and its visitor, a kite
# surfer, balloons, a pool's railing; docs/filters.md).
PEOPLE_NEAR = 0.6
PERSON_NEAR = 0.8
# A face belongs to a person: the cascades look only at frames where the person detector sees
# someone, however faintly (a score of FACE_NEEDS_PERSON or more). Every face the cascades found
# in the people videos here was in such a frame, though faces close up score low as persons (a
# picnic of friends' faces 0.19-0.22); 2.4 of the 4.2 frames searched in a scenery clip are, on
# average, and the cascades cost about as much a frame as the detector (docs/filters.md).
FACE_NEEDS_PERSON = 0.15
# A person the detector scores under `people_min_person` in every frame still counts where this
# share of the searched frames score `people_steady_person` or more: people seen from behind or
# side-on that stay in view (two women overlooking a valley, a hiker climbing away: 5 of 8
# frames at 0.45-0.53), where flames and a dust storm score as high in fewer frames or in the
# dark (person_detector.DARK; docs/filters.md).
STEADY_SHARE = 0.6
_DETECTORS: dict = {}


def _detectors():
    """The face cascades, made once per process."""
    if not _DETECTORS:
        folder = cv2.data.haarcascades
        _DETECTORS["faces"] = [cv2.CascadeClassifier(folder + name) for name in FACE_CASCADES]
    return _DETECTORS


def face_weight(gray: np.ndarray) -> float:
    """The strongest face both cascades find in a DETECT_HEIGHT frame (the lower of their two
    confidences), or 0."""
    first, second = _detectors()["faces"]
    side = round(FACE_MIN_HEIGHT * gray.shape[0])
    boxes, _, weights = first.detectMultiScale3(
        gray, scaleFactor=FACE_SCALE_STEP, minNeighbors=FACE_NEIGHBOURS,
        minSize=(side, side), outputRejectLevels=True,
    )  # fmt: skip
    best = 0.0
    for index in np.argsort(np.ravel(weights))[::-1][:FACE_CHECKED] if len(boxes) else []:
        x, y, width, height = (int(v) for v in boxes[index])
        margin = width // 3
        top, left = max(0, y - margin), max(0, x - margin)
        around = gray[top : y + height + margin, left : x + width + margin]
        found, _, checked = second.detectMultiScale3(
            around, scaleFactor=1.1, minNeighbors=FACE_NEIGHBOURS,
            minSize=(width * 2 // 3, width * 2 // 3), outputRejectLevels=True,
        )  # fmt: skip
        if len(found):
            best = max(best, min(float(np.ravel(weights)[index]), float(np.max(checked))))
    return best


def people_share(
    frames: list[np.ndarray], config: FilterConfig, colours: list[np.ndarray] | None = None
) -> tuple[float, str]:
    """The share of sampled frames that show a face or a person as a subject, and a note of
    the strongest of each (for the contact sheet). Faces are looked for in the gray `frames`,
    people in `colours`, the same frames in RGB (gray ones stand in without them). Of them,
    `people_frames`, evenly spread, are searched first; the others only when one of those shows
    a face of PEOPLE_NEAR of its threshold or a person or footwear of PERSON_NEAR of theirs (a
    video of people, or scenery that looks like it). A person scored under `people_min_person`
    counts too where STEADY_SHARE of the searched frames score `people_steady_person`, and so do
    boots or shoes close up at `people_min_footwear` (legs only). The share is the larger of
    the first frames' and all the searched frames', and at least `people_min_share` where one
    frame shows a person at `people_clear_person` (a montage with one shot of people)."""
    if colours is None:
        colours = [cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB) for frame in frames]
    first, rest = _search_order(len(frames), config.people_frames)
    faces, seen = _people_weights([frames[i] for i in first], [colours[i] for i in first])
    strongest = Seen(*np.max(seen, axis=0)) if seen else Seen(0.0, 0.0)
    near = (
        max(faces, default=0) >= PEOPLE_NEAR * config.people_min_face
        or strongest.person >= PERSON_NEAR * config.people_min_person
        or strongest.footwear >= PERSON_NEAR * config.people_min_footwear
    )
    if near and rest:
        more = _people_weights([frames[i] for i in rest], [colours[i] for i in rest])
        faces, seen = faces + more[0], seen + more[1]
    persons, feet = [s.person for s in seen], [s.footwear for s in seen]
    at_steady = [person >= config.people_steady_person for person in persons]
    steady = bool(persons) and np.mean(at_steady) >= STEADY_SHARE
    shown = [
        face >= config.people_min_face
        or s.person >= config.people_min_person
        or (steady and s.person >= config.people_steady_person)
        or s.footwear >= config.people_min_footwear
        for face, s in zip(faces, seen, strict=True)
    ]
    share = max(np.mean(shown[: len(first)]), np.mean(shown)) if shown else 0.0
    if max(persons, default=0) >= config.people_clear_person:  # one clear frame is enough
        share = max(share, config.people_min_share)
    note = (
        f"faces {max(faces, default=0):.1f}, people {max(persons, default=0):.2f}, footwear "
        f"{max(feet, default=0):.2f} in {sum(shown)} of {len(shown)} frames"
    )
    return float(share), note


def _search_order(count: int, first: int) -> tuple[list[int], list[int]]:
    """The indices of `first` evenly spread frames of `count`, and of the others."""
    if count <= first:
        return list(range(count)), []
    picks = sorted(set(np.linspace(0, count - 1, first).round().astype(int).tolist()))
    return picks, [i for i in range(count) if i not in picks]


def _people_weights(
    frames: list[np.ndarray], colours: list[np.ndarray]
) -> tuple[list[float], list[Seen]]:
    """The strongest face of each frame and what the person detector sees in it (no face where
    it sees no person: FACE_NEEDS_PERSON)."""
    seen = [look(colour) for colour in colours]
    faces = [
        face_weight(at_height(at_height(frame, DETECT_HEIGHT), FACE_HEIGHT))
        if s.person >= FACE_NEEDS_PERSON
        else 0.0
        for frame, s in zip(frames, seen, strict=True)
    ]
    return faces, seen


# ---------------------------------------------------------------- overlay


# An overlay's pixels are the same in every sampled frame, seconds apart, and its glyphs and
# outlines are sharper than a camera draws at this size: a 3 x 3 grey range (morphological
# gradient) of OVERLAY_EDGE_CONTRAST or more in every sample, with at most OVERLAY_STILL_LEVELS
# of change. Such pixels count where they are dense (OVERLAY_MIN_DENSITY of a window a
# sixteenth of the frame's height): text, logos, the edge of a card or bar, not a lone sharp
# branch. Judged at OVERLAY_SIZE whatever the source's (a small source's edges are sharper per
# pixel): on the scenery clips still rocks, ridges and lamps drew at most 0.8% of the frame this
# way (and 1.8% in a cinemagraph with a small watermark).
OVERLAY_SIZE = (320, 180)
OVERLAY_STILL_LEVELS = 6
OVERLAY_EDGE_CONTRAST = 160
OVERLAY_MIN_DENSITY = 0.1
_NEIGHBOURS = np.ones((3, 3), np.uint8)


def overlay_frames(frames) -> np.ndarray:
    """(N, H, W) uint8: the sampled (H, W) gray 16:9 frames at OVERLAY_SIZE (frames already
    at that size are taken as they are, and a stack made here is returned as it is)."""
    if isinstance(frames, np.ndarray) and frames.shape[1:][::-1] == OVERLAY_SIZE:
        return frames  # judge_scene's, for each of its measures
    return np.stack([
        f if f.shape[::-1] == OVERLAY_SIZE else
        cv2.resize(f, OVERLAY_SIZE, interpolation=cv2.INTER_AREA if f.shape[1] > OVERLAY_SIZE[0]
                   else cv2.INTER_LINEAR)
        for f in frames
    ])  # fmt: skip


def overlay_area(frames: list[np.ndarray]) -> float:
    """The share of the frame covered by dense, sharp edges that stand still in every sampled
    (H, W) gray 16:9 frame, at OVERLAY_SIZE. Needs two frames or more (0 otherwise)."""
    if len(frames) < 2:
        return 0.0
    stack = overlay_frames(frames)  # (N, H, W)
    spread = stack.max(axis=0).astype(np.int16) - stack.min(axis=0)
    contrast = np.min([cv2.morphologyEx(f, cv2.MORPH_GRADIENT, _NEIGHBOURS) for f in stack], 0)
    still_edges = (spread <= OVERLAY_STILL_LEVELS) & (contrast >= OVERLAY_EDGE_CONTRAST)
    side = OVERLAY_SIZE[1] // 16
    density = cv2.blur(still_edges.astype(np.float32), (side, side))
    return float(np.mean(density > OVERLAY_MIN_DENSITY))


# Bars and borders: letterbox and pillarbox bars (a portrait phone video set in a wide frame),
# plain borders. A bar is a band along one side of the frame of one flat grey (all its lines
# within BAR_FLAT_LEVELS of each other) in every sampled frame, at least BAR_MIN_WIDTH of the
# frame wide, and it ends in a straight edge: the picture's first two lines differ from its grey
# by BAR_EDGE_CONTRAST or more (median along the edge). On the scenery clips the only flat
# bands are the dark around a candle, a fireplace or under a starry sky, fading into the
# picture (edge contrast 0-7); letterbox, pillarbox and border bars made over scenery 44-211.
# A compressed black bar is flat to about 10 levels (ringing next to the picture), not to 4.
BAR_FLAT_LEVELS = 12
BAR_MIN_WIDTH = 0.02
BAR_EDGE_CONTRAST = 20


def bar_area(frames: list[np.ndarray]) -> float:
    """The share of the frame under bars along its four sides (BAR_*), in the sampled (H, W)
    gray 16:9 frames at OVERLAY_SIZE. Needs two frames or more (0 otherwise)."""
    if len(frames) < 2:
        return 0.0
    stack = overlay_frames(frames)
    rows, columns = stack, stack.transpose(0, 2, 1)  # (N, lines, along the line)
    sides = (rows, rows[:, ::-1], columns, columns[:, ::-1])  # top, bottom, left, right
    return sum(_bar_width(lines) / lines.shape[1] for lines in sides)


def _bar_width(lines: np.ndarray) -> int:
    """How many lines, from the first of (N, L, K) `lines`, make a bar (bar_area), or 0."""
    n_lines = lines.shape[1]
    # one grey: from the side inward, the lines so far span at most BAR_FLAT_LEVELS together (a
    # sky shading smoothly row by row is flat along each row but is no bar)
    highest = np.maximum.accumulate(lines.max(axis=(0, 2)).astype(np.int16))
    lowest = np.minimum.accumulate(lines.min(axis=(0, 2)).astype(np.int16))
    flat = np.append(highest - lowest <= BAR_FLAT_LEVELS, False)
    width = int(np.argmin(flat))  # the first line that is not flat
    if width < BAR_MIN_WIDTH * n_lines or width >= n_lines // 2:
        return 0
    level = float(lines[:, :width].mean())
    edge = lines[:, width : width + 2].mean(axis=1)  # (N, K): the picture's first lines
    return width if np.median(np.abs(edge - level)) >= BAR_EDGE_CONTRAST else 0


# Boxes: a card, panel or caption box laid inside the frame (a weather app's panel over storm
# clouds). Its grey is flat in the frame that is the median of the samples (a 5 x 5 grey range
# of at most BOX_FLAT_LEVELS), and it stands nearly still (at most BOX_STILL_LEVELS of change
# over the samples: what moves under a semi-transparent card shows through by 2-21 levels); it
# covers BOX_MIN_AREA of the frame or more and BOX_MIN_FILL of its bounding box, touches none of
# the frame's sides (bars do), and its grey differs from its surroundings by BAR_EDGE_CONTRAST
# or more. On the scenery clips and every negative set here only two cards (110 and 121 levels
# from their surroundings, 30% of the frame) made such a region (docs/filters.md).
BOX_FLAT_LEVELS = 8
BOX_STILL_LEVELS = 25
BOX_MIN_AREA = 0.02
BOX_MIN_FILL = 0.85
_BOX_RING = (np.ones((5, 5), np.uint8), np.ones((9, 9), np.uint8))  # inner, outer


def box_area(frames: list[np.ndarray]) -> float:
    """The share of the frame under flat, still boxes inside it (BOX_*), in the sampled (H, W)
    gray 16:9 frames at OVERLAY_SIZE. Needs two frames or more (0 otherwise)."""
    if len(frames) < 2:
        return 0.0
    stack = overlay_frames(frames)
    spread = stack.max(axis=0) - stack.min(axis=0)
    median = np.median(stack, axis=0).astype(np.uint8)
    grey_range = cv2.morphologyEx(median, cv2.MORPH_GRADIENT, _BOX_RING[0])
    flat = (grey_range <= BOX_FLAT_LEVELS) & (spread <= BOX_STILL_LEVELS)
    count, labels, boxes, _ = cv2.connectedComponentsWithStats(flat.astype(np.uint8), 4)
    height, width = median.shape
    area = 0
    for label in range(1, count):
        left, top, box_width, box_height, pixels = boxes[label]
        inside = left > 0 and top > 0 and left + box_width < width and top + box_height < height
        small = pixels < BOX_MIN_AREA * height * width
        if small or not inside or pixels < BOX_MIN_FILL * box_width * box_height:
            continue
        region = (labels == label).astype(np.uint8)
        ring = cv2.dilate(region, _BOX_RING[1]) > cv2.dilate(region, _BOX_RING[0])
        if abs(float(median[ring].mean()) - float(median[region > 0].mean())) >= BAR_EDGE_CONTRAST:
            area += pixels
    return area / (height * width)


# ---------------------------------------------------------------- the verdict


@dataclass(frozen=True)
class SceneVerdict:
    """What the per-video filters found on a video's sampled frames and its candidates."""

    reason: str | None  # one of SCENE_REASONS, or None (kept)
    people: float  # share of the sampled frames showing a face or a person up close (0: not
    # searched, the video went for its camera or an overlay)
    overlay: float  # share of the frame under a still, sharp overlay
    note: str  # what the detectors saw, for the contact sheet
    camera: float = 0.0  # share of the moving whole-frame candidates the camera filters drop
    bars: float = 0.0  # share of the frame under bars and borders along its sides, and boxes
    text: float = 0.0  # share of the sampled frames showing lines of text
    glide: float = 0.0  # how far the camera glided between sampled frames (pixels, glide.py)
    flight: float = 0.0  # ... fitted loosely (a drone over uneven ground, a fisheye lens)

    def to_dict(self) -> dict:
        return {
            "reason": self.reason,
            "people": round(self.people, 4),
            "overlay": round(self.overlay, 5),
            "camera": round(self.camera, 4),
            "bars": round(self.bars, 4),
            "text": round(self.text, 4),
            "glide": round(self.glide, 2),
            "flight": round(self.flight, 2),
            "note": self.note,
        }


def judge_scene(
    frames: list[np.ndarray],
    config: FilterConfig,
    camera: float = 0.0,
    colours: list[np.ndarray] | None = None,
) -> SceneVerdict:
    """The per-video verdict from a video's sampled (H, W) gray frames, `camera`, the share of
    its moving whole-frame candidates that the camera filters dropped (camera_share), and
    `colours`, the sampled frames in RGB for the person detector (gray ones stand in without).

    The cheapest judge first: the camera's share (already counted), then overlays and bars (a
    few milliseconds), text (about 40 ms of CPU a video), the camera's glide (about 40 ms), then
    the people detectors (about 0.24 s), which run only on a video that none of the others
    rejected."""
    camera_note = f"the camera moved in {camera:.0%} of the moving clips"
    if camera >= config.camera_min_share:
        return SceneVerdict("moving_camera", 0.0, 0.0, camera_note, camera)
    if not frames:
        return SceneVerdict(None, 0.0, 0.0, f"no frames sampled; {camera_note}", camera)
    at_size = overlay_frames(frames)  # resized once for the three measures
    overlay, bars = overlay_area(at_size), bar_area(at_size) + box_area(at_size)
    note = f"overlay {overlay:.2%} of the frame, bars and boxes {bars:.0%}; {camera_note}"
    if overlay > config.overlay_max_area or bars > config.overlay_max_bars:
        return SceneVerdict("overlay", 0.0, overlay, note, camera, bars)
    texts = text_frames(frames, config)
    text = texts / len(frames)
    note = f"text in {texts} frames, {note}"
    if texts >= TEXT_MIN_FRAMES:
        return SceneVerdict("overlay", 0.0, overlay, note, camera, bars, text)
    glided = glide(frames)
    measured = (camera, bars, text, glided.close, glided.loose)
    if glided.close > config.camera_max_glide:
        note = f"the camera glided {glided.close:.0f} px between samples; {note}"
        return SceneVerdict("moving_camera", 0.0, overlay, note, *measured)
    if glided.loose > config.camera_max_flight:
        note = f"the camera glided {glided.loose:.0f} px between samples, fitted loosely; {note}"
        return SceneVerdict("moving_camera", 0.0, overlay, note, *measured)
    people, seen = people_share(frames, config, colours)
    reason = "people" if people >= config.people_min_share else None
    note = f"{seen}; {note}"
    return SceneVerdict(reason, people, overlay, note, *measured)


# ---------------------------------------------------------------- zoom


_GRIDS: dict = {}


def _centred_grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates of an (H, W) frame relative to its centre, made once per size."""
    if (height, width) not in _GRIDS:
        rows, columns = np.mgrid[0:height, 0:width].astype(np.float64)
        _GRIDS[height, width] = (columns - (width - 1) / 2, rows - (height - 1) / 2)
    return _GRIDS[height, width]


def zoom_of(displacement: np.ndarray) -> tuple[float, float]:
    """(scale change, fit) of an (H, W, 2) displacement field, a clip's flows summed.

    The field is fitted by a shift, a zoom and a turn about the frame's centre (a zoom about
    any other point is the same zoom plus a shift): `scale change` is the zoom's displacement
    per pixel of distance (0.1: the frame grew by a tenth), `fit` the share of the field's
    variance the model explains. A zoom or a camera moving forward moves the whole frame this
    way (fit near 1); billowing smoke, clouds and waves swell in places (fit low)."""
    x, y = _centred_grid(*displacement.shape[:2])
    u = displacement[..., 0] - displacement[..., 0].mean()
    v = displacement[..., 1] - displacement[..., 1].mean()
    radius2 = float(np.mean(x * x + y * y))
    scale = float(np.mean(u * x + v * y)) / radius2
    turn = float(np.mean(v * x - u * y)) / radius2
    total = float(np.mean(u * u + v * v))
    if total <= 0:
        return 0.0, 0.0
    residual = float(np.mean((u - scale * x + turn * y) ** 2 + (v - scale * y - turn * x) ** 2))
    return scale, max(0.0, 1.0 - residual / total)
