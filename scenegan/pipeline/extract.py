"""One source video -> its kept clips: decode once, at every frame rate it can honestly give;
per rate slice at a stride, filter by grey levels and optical flow, keep at most a cap by seeded
reservoir sampling; judge the video once on frames sampled while decoding (people, overlay;
scene_filters) and fingerprint them (duplicates); add seeded crop windows of each kept clip;
annotate every clip's motion and keep its first frame in colour (the context). Runs in a worker
process; never raises for a bad video, it returns the reason instead."""

from __future__ import annotations

import hashlib
from collections import Counter, deque
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from scenegan.clip_format import CLIP, FILTER_FORMAT, ClipFormat
from scenegan.config import BuildConfig, FilterConfig
from scenegan.pipeline.decode import (
    RateFrame,
    SourceFrame,
    VideoError,
    iter_rates,
    source_rates,
    video_fps,
    window_clip,
)
from scenegan.pipeline.filters import (
    CAMERA_REASONS,
    ClipMeasures,
    FlowMeter,
    measure_window,
    reject_reason,
)
from scenegan.pipeline.fingerprint import thumbnails
from scenegan.pipeline.frames import prepare_image
from scenegan.pipeline.motion_fields import (
    ClipMotion,
    annotate_clip,
    summarize_flows,
    window_flows,
)
from scenegan.pipeline.scene_filters import FrameSampler, SceneVerdict, judge_scene
from scenegan.pipeline.shards import clip_details_dtypes
from scenegan.pipeline.sources import Source

# Decode failures after some frames: the frames before them are good and give clips.
DAMAGE_REASONS = ("truncated", "corrupt")
# Crop windows: a side between these fractions of the whole 16:9 frame's.
CROP_SCALES = (0.5, 0.75)
WHOLE_FRAME = (0.0, 0.0, 1.0, 1.0)  # crop box (top, left, height, width) of the whole frame


@dataclass(frozen=True)
class ExtractConfig:
    """Everything that decides which clips one source yields (saved to detect stale parts)."""

    rates: tuple[float | str, ...]  # frames a second, or "native"
    stride: int
    max_per_source: int  # whole-frame clips per source and rate
    min_source_fps: float
    seed: int
    filters: FilterConfig
    fmt: ClipFormat = CLIP
    crops: int = 1  # framings per kept clip: the whole frame and crops - 1 windows
    context_scale: int = 0  # the first frame in colour at this multiple of the clip's size
    decoder_threads: int = 1  # 0: FFmpeg chooses; does not change the clips

    @classmethod
    def of(cls, config: BuildConfig) -> ExtractConfig:
        """The part of a build's options that decides each source's clips."""
        return cls(
            rates=config.rates(),
            crops=config.crops,
            context_scale=config.context_scale,
            stride=config.stride,
            max_per_source=config.max_per_source,
            min_source_fps=config.min_source_fps,
            seed=config.seed,
            filters=config.filters,
            fmt=config.clip_format(),
            decoder_threads=config.decoder_threads,
        )

    def fingerprint(self) -> dict:
        settings = asdict(self)
        settings.pop("decoder_threads")
        settings["rates"] = list(self.rates)
        settings["fmt"] = self.fmt.to_dict()
        return settings


@dataclass
class SourceResult:
    """What one source gave: kept clips with their details, and counts for stats.json."""

    source: Source
    clips: np.ndarray  # uint8 (N, *fmt.shape), sorted by (rate, start, crop)
    start_times: list[float]
    details: dict[str, np.ndarray] = field(default_factory=dict)  # shards.clip_details_dtypes
    n_frames: int = 0  # frames at the target rates, all rates together
    n_candidates: int = 0
    rejected: Counter = field(default_factory=Counter)
    n_over_cap: int = 0  # clips that passed the filters but were beyond max_per_source
    skip_reason: str | None = None
    skip_detail: str = ""
    damage: str = ""  # a file damaged part way: its clips come from the frames before the damage
    # with `rejected_sample`: a few rejected candidates per reason, for `inspect --rejected`
    rejected_clips: list[RejectedClip] = field(default_factory=list)
    scene: dict = field(default_factory=dict)  # the per-video verdict (SceneVerdict.to_dict)
    fingerprint: np.ndarray | None = None  # fingerprint.thumbnails of the sampled frames


@dataclass(frozen=True)
class RejectedClip:
    """A candidate clip the filters dropped, with what they measured."""

    reason: str
    rate: float
    start: int
    measures: ClipMeasures | None  # None: judged per video (`note` says what was seen)
    clip: np.ndarray
    source_id: str = ""
    note: str = ""


@dataclass
class Kept:
    """One kept clip before it is written: where it is from and how it moves. A clip in the
    reservoir holds what its annotations, filters (a window's) and context are made from; they
    are made when the source is done, for the clips that are still in it (`complete`)."""

    rate: float
    start: int  # first frame's index at `rate`
    box: tuple[float, float, float, float]
    clip: np.ndarray | None  # None: a window, cut from `wholes` when complete
    motion: ClipMotion | None = None
    reason: str | None = None  # a crop window the filters reject
    context: np.ndarray | None = None  # the first frame in colour, (h, w, 3)
    flows: np.ndarray | None = None  # the whole frame's (T-1, H, W, 2) flows at FILTER_FORMAT
    first: SourceFrame | None = None  # the decoded first frame, for the context
    wholes: list[np.ndarray] | None = None  # window_source of each frame, for a window's clip


def source_rng(seed: int, source_id: str) -> np.random.Generator:
    """A Generator fixed by (seed, source id), independent of worker and processing order."""
    digest = int(hashlib.sha256(source_id.encode()).hexdigest()[:16], 16)
    return np.random.default_rng([seed, digest])


def crop_boxes(
    seed: int, source_id: str, rate: float, start: int, count: int
) -> list[tuple[float, float, float, float]]:
    """`count` random 16:9 windows (top, left, height, width as fractions of the whole frame),
    sides between CROP_SCALES, fixed by (seed, source, rate, start) alone."""
    rng = source_rng(seed, f"{source_id}@{rate:.6g}#{start}")
    boxes = []
    for _ in range(count):
        side = float(rng.uniform(*CROP_SCALES))
        top, left = (float(v) for v in rng.uniform(0, 1 - side, size=2))
        boxes.append((round(top, 6), round(left, 6), round(side, 6), round(side, 6)))
    return boxes


def extract_source(source: Source, config: ExtractConfig, rejected_sample: int = 0) -> SourceResult:
    """Decode `source` once and return its kept clips, or the reason it was skipped.
    `rejected_sample`: also keep up to this many rejected candidates per reason and rate."""
    empty = np.zeros((0, *config.fmt.shape), np.uint8)
    try:
        return _slice_and_filter(source, config, rejected_sample)
    except VideoError as error:
        return SourceResult(source, empty, [], skip_reason=error.reason, skip_detail=error.detail)


def measured_frame(frame: np.ndarray, fmt: ClipFormat) -> np.ndarray:
    """What the filters see of a stored frame: the same frame at FILTER_FORMAT (gray 80 x 45),
    so their thresholds mean the same at every colour and size."""
    if fmt.color == FILTER_FORMAT.color and fmt.frame_shape == FILTER_FORMAT.frame_shape:
        return frame
    return prepare_image(frame, FILTER_FORMAT)


class RateStream:
    """The frames of one source at one rate: windows, filters, and a reservoir of kept clips."""

    def __init__(
        self, source: Source, rate: float, config: ExtractConfig, rejected_sample: int = 0
    ):
        self.source, self.rate, self.config = source, rate, config
        self.rejected_sample = rejected_sample
        self.rejected_clips: dict[str, list[RejectedClip]] = {}
        self.rejected_rng = source_rng(config.seed, f"{source.source_id}@{rate:.6g} rejected")
        n_frames = config.fmt.n_frames
        self.window: deque[np.ndarray] = deque(maxlen=n_frames)
        self.sources: deque[SourceFrame] = deque(maxlen=n_frames)  # for crops and the context
        self.meter = FlowMeter(config.filters, n_frames)
        self.rng = source_rng(config.seed, f"{source.source_id}@{rate:.6g}")
        self.kept: list[Kept] = []  # reservoir of whole-frame clips, then their crops
        self.crops: dict[int, list[Kept]] = {}  # crop windows of each kept start
        self.n_passed = self.n_candidates = self.count = 0
        self.rejected: Counter = Counter()
        self.same_format = config.fmt == FILTER_FORMAT

    def add(self, output: RateFrame) -> None:
        config, n_frames = self.config, self.config.fmt.n_frames
        self.count += 1
        self.window.append(output.frame)
        if output.source is not None:
            self.sources.append(output.source)
        self.meter.add(measured_frame(output.frame, config.fmt))
        start = self.count - n_frames
        if start < 0 or start % config.stride:
            return
        self.n_candidates += 1
        measures = self.meter.measure(start, n_frames)
        reason = reject_reason(measures, config.filters)
        if reason is not None:
            self.rejected[reason] += 1
            if self.rejected_sample:
                self._sample_rejected(RejectedClip(reason, self.rate, start, measures, None))
            return
        # Reservoir sampling keeps a uniform random max_per_source of the passing clips without
        # holding them all; the Generator makes the choice a function of (seed, source, rate).
        self.n_passed += 1
        if len(self.kept) < config.max_per_source:
            slot = len(self.kept)
        else:
            slot = int(self.rng.integers(self.n_passed))
            if slot >= config.max_per_source:
                return
        # The flows of the clip's frame pairs, for its annotations and its windows' (one array).
        flows = np.stack(self.meter.flows) if self.same_format else None
        first = self.sources[0] if self.sources else None
        clip = Kept(self.rate, start, WHOLE_FRAME, np.stack(self.window), flows=flows, first=first)
        if slot == len(self.kept):
            self.kept.append(clip)
        else:
            self.crops.pop(self.kept[slot].start, None)
            self.kept[slot] = clip
        if config.crops > 1:
            self.crops[start] = self._crop_windows(start, flows, first)

    def _sample_rejected(self, rejected: RejectedClip) -> None:
        """Reservoir of `rejected_sample` rejected clips per reason (seeded like the rest)."""
        sample = self.rejected_clips.setdefault(rejected.reason, [])
        n_seen = self.rejected[rejected.reason]
        slot = len(sample) if len(sample) < self.rejected_sample else None
        if slot is None:
            slot = int(self.rejected_rng.integers(n_seen))
            if slot >= self.rejected_sample:
                return
        clip = RejectedClip(
            rejected.reason, rejected.rate, rejected.start, rejected.measures, np.stack(self.window)
        )
        if slot == len(sample):
            sample.append(clip)
        else:
            sample[slot] = clip

    def _crop_windows(
        self, start: int, flows: np.ndarray | None, first: SourceFrame | None
    ) -> list[Kept]:
        """The crop windows of the clip that starts at `start`: cut, judged, annotated and given
        their context by `complete` if the clip stays in the reservoir, from what its frames
        are cut from (window_source, made once a frame, shared by the clips it is in)."""
        config = self.config
        boxes = crop_boxes(config.seed, self.source.source_id, self.rate, start, config.crops - 1)
        wholes = [source.whole() for source in self.sources]
        return [
            Kept(self.rate, start, box, None, flows=flows, first=first, wholes=wholes)
            for box in boxes
        ]

    def finish(self, with_context: bool = True) -> list[Kept]:
        """The kept clips with their crops that pass the filters too, all annotated (and given
        their context unless `with_context` is False: a video the per-video filters reject)."""
        kept = []
        for clip in sorted(self.kept, key=lambda k: k.start):
            kept.append(self.complete(clip, with_context))
            for crop in self.crops.get(clip.start, []):
                self.n_candidates += 1
                crop = self.complete(crop, with_context)
                if crop.reason is not None:
                    self.rejected[crop.reason] += 1
                    continue
                kept.append(crop)
        return kept

    def complete(self, clip: Kept, with_context: bool = True) -> Kept:
        """A clip that stayed in the reservoir (or its window) with its annotations, the
        filters' verdict (a window's) and its context, the frames and flows let go.

        At the filters' format a window's flow is the whole frame's, cut to the window and
        scaled to its pixels (motion_fields.window_flows): its own DIS would cost as much again
        as the whole build, for scalars within 1% (median) and maps that correlate 0.84."""
        scale = self.config.context_scale if with_context else 0
        context = clip.first.context(clip.box, scale) if scale and clip.first else None
        if clip.clip is None:
            frames = window_clip(clip.wholes, clip.first.limited, clip.box, self.config.fmt)
            clip = replace(clip, clip=frames, wholes=None)
        reason = None
        if clip.flows is None:  # another format than the filters': judged at the clip's size
            if clip.box == WHOLE_FRAME:
                motion = annotate_clip(clip.clip)
            else:
                reason, motion = _judge(clip.clip, self.config)
        elif clip.box == WHOLE_FRAME:
            motion = summarize_flows(clip.flows)
        else:
            cut = window_flows(clip.flows, clip.box)
            speed = np.hypot(cut[..., 0], cut[..., 1])
            measures = measure_window(clip.clip, cut, self.config.filters, speed)
            reason = reject_reason(measures, self.config.filters)
            motion = summarize_flows(cut, speed)
        return replace(clip, motion=motion, reason=reason, context=context, flows=None, first=None)


def _judge(clip: np.ndarray, config: ExtractConfig) -> tuple[str | None, ClipMotion]:
    """A crop window's clip through the same filters, and its motion at the clip's size."""
    meter = FlowMeter(config.filters, len(clip))
    for frame in clip:
        meter.add(measured_frame(frame, config.fmt))
    reason = reject_reason(meter.measure(0, len(clip)), config.filters)
    motion = meter.motion() if config.fmt == FILTER_FORMAT else annotate_clip(clip)
    return reason, motion


def _slice_and_filter(
    source: Source, config: ExtractConfig, rejected_sample: int = 0
) -> SourceResult:
    n_frames = config.fmt.n_frames
    stated = video_fps(source.path)
    rates = source_rates(config.rates, stated, config.min_source_fps)
    if not rates:
        listed = ", ".join(str(r) if r == "native" else f"{r:g}" for r in config.rates)
        raise VideoError("low_fps", f"{stated:g} fps is below every --fps rate ({listed})")
    streams = [RateStream(source, rate, config, rejected_sample) for rate in rates]
    damage: VideoError | None = None
    sampler = FrameSampler.of(source.path)  # a few frames at the source's size, per video
    frames = iter_rates(
        source.path,
        rates,
        config.fmt,
        threads=config.decoder_threads,
        min_source_fps=config.min_source_fps,
        keep_sources=config.crops > 1 or config.context_scale > 0,
        on_frame=sampler.add,
    )
    while True:
        try:
            output = next(frames)
        except StopIteration:
            break
        except VideoError as error:
            if error.reason not in DAMAGE_REASONS or not any(s.count for s in streams):
                raise
            damage = error  # cut short or damaged part way: keep the clips before the damage
            break
        streams[output.rate_index].add(output)
    if all(stream.count < n_frames for stream in streams):
        counts = ", ".join(f"{s.count} frames at {s.rate:g} fps" for s in streams)
        detail = f"{counts}; a clip needs {n_frames}"
        if damage is not None:
            raise VideoError(damage.reason, f"{damage.detail}; {detail} before the damage")
        raise VideoError("too_short", detail)
    verdict = SceneVerdict(None, 0.0, 0.0, "not judged: no clip passed the clip filters")
    # The detectors cost: they judge only a video that has a clip at stake. They judge before
    # the kept clips are completed: a rejected video's windows are still judged (their counts),
    # but no context is made for clips that go.
    if any(s.n_passed for s in streams):
        verdict = judge_scene(
            sampler.chosen(), config.filters, camera_share(streams), sampler.chosen_colours()
        )
    kept = [clip for stream in streams for clip in stream.finish(verdict.reason is None)]
    rejected: Counter = Counter()
    for stream in streams:
        rejected.update(stream.rejected)
    if verdict.reason is not None:  # people, an overlay, a moving camera: no clip is kept
        kept = _reject_video(kept, streams, verdict, rejected, rejected_sample)
    empty = np.zeros((0, *config.fmt.shape), np.uint8)
    return SourceResult(
        source=source,
        clips=np.stack([k.clip for k in kept]) if kept else empty,
        start_times=[round(k.start / k.rate, 6) for k in kept],
        details=clip_details(kept, config.fmt, config.context_scale),
        n_frames=sum(s.count for s in streams),
        n_candidates=sum(s.n_candidates for s in streams),
        rejected=rejected,
        n_over_cap=sum(s.n_passed - len(s.kept) for s in streams),
        damage=str(damage) if damage is not None else "",
        rejected_clips=[
            clip
            for stream in streams
            for reason in sorted(stream.rejected_clips)
            for clip in stream.rejected_clips[reason]
        ],
        scene=verdict.to_dict(),
        fingerprint=thumbnails(sampler.chosen()),
    )


def camera_share(streams: list[RateStream]) -> float:
    """The share of a video's moving whole-frame candidates that the camera filters dropped,
    at the rate where it is highest: those dropped for a pan, shake or zoom against those plus
    the ones that passed (a still, dark or cut candidate says nothing of the camera). Rate by
    rate, because a clip's pan is counted over its own frames: a slow pan that 12 fps clips
    (2.7 s) show is under the limit in 30 fps clips (1.1 s). Read before the crop windows are
    judged: a window cut from a steady frame is no more steady."""
    shares = [0.0]
    for stream in streams:
        moved = sum(stream.rejected[reason] for reason in CAMERA_REASONS)
        if moved + stream.n_passed:
            shares.append(moved / (moved + stream.n_passed))
    return max(shares)


def _reject_video(
    kept: list[Kept],
    streams: list[RateStream],
    verdict: SceneVerdict,
    rejected: Counter,
    sample: int,
) -> list[Kept]:
    """A video the per-video filters reject: every clip that passed the clip filters (kept or
    over the cap) is counted under the verdict's reason, and a few go to the contact sheet.
    Returns the clips kept now: none."""
    passed = len(kept) + sum(s.n_passed - len(s.kept) for s in streams)
    if passed:
        rejected[verdict.reason] += passed
    for stream in streams:
        stream.n_passed = len(stream.kept)  # nothing is over the cap any more
        if sample:
            stream.rejected_clips[verdict.reason] = [
                RejectedClip(verdict.reason, k.rate, k.start, None, k.clip, note=verdict.note)
                for k in kept[:sample]
                if k.rate == stream.rate
            ]
    return []


def clip_details(
    kept: list[Kept], fmt: ClipFormat, context_scale: int = 0
) -> dict[str, np.ndarray]:
    """The per-clip arrays a shard stores beside the clips (shards.clip_details_dtypes)."""
    kinds = clip_details_dtypes(fmt, context_scale)
    if not kept:
        return {name: np.zeros((0, *shape), dtype) for name, (dtype, shape) in kinds.items()}
    details = {
        "fps": np.array([k.rate for k in kept], np.float32),
        "crop_box": np.array([k.box for k in kept], np.float32),
        "mean_flow": np.stack([k.motion.mean_flow for k in kept]),
        "motion_map": np.stack([k.motion.motion_map for k in kept]),
        "motion": np.array([k.motion.motion for k in kept], np.float32),
        "flow_std": np.array([k.motion.flow_std for k in kept], np.float32),
    }
    if context_scale:
        details["context"] = np.stack([k.context for k in kept])
    return details
