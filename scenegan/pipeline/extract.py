"""One source video -> its kept clips: stream frames, slice at a stride, filter, and keep at most
a cap per source by seeded reservoir sampling. Runs in a worker process; never raises for a bad
video, it returns the reason instead."""

from __future__ import annotations

import hashlib
from collections import Counter, deque
from dataclasses import asdict, dataclass, field

import numpy as np

from scenegan.clip_format import CLIP, FILTER_FORMAT, ClipFormat
from scenegan.config import BuildConfig, FilterConfig
from scenegan.pipeline.decode import VideoError, iter_frames
from scenegan.pipeline.filters import MotionMeter, reject_reason
from scenegan.pipeline.frames import prepare_image
from scenegan.pipeline.sources import Source

# Decode failures after some frames: the frames before them are good and give clips.
DAMAGE_REASONS = ("truncated", "corrupt")


@dataclass(frozen=True)
class ExtractConfig:
    """Everything that decides which clips one source yields (saved to detect stale parts)."""

    fps: float
    stride: int
    max_per_source: int
    min_source_fps: float
    seed: int
    filters: FilterConfig
    fmt: ClipFormat = CLIP
    decoder_threads: int = 1  # 0: FFmpeg chooses; does not change the clips

    @classmethod
    def of(cls, config: BuildConfig) -> ExtractConfig:
        """The part of a build's options that decides each source's clips."""
        return cls(
            fps=config.fps,
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
        settings["fmt"] = self.fmt.to_dict()
        return settings


@dataclass
class SourceResult:
    """What one source gave: kept clips with start times, and counts for stats.json."""

    source: Source
    clips: np.ndarray  # uint8 (N, *fmt.shape), sorted by start
    start_times: list[float]
    n_frames: int = 0  # frames at the target fps
    n_candidates: int = 0
    rejected: Counter = field(default_factory=Counter)
    n_over_cap: int = 0  # clips that passed the filters but were beyond max_per_source
    skip_reason: str | None = None
    skip_detail: str = ""
    damage: str = ""  # a file damaged part way: its clips come from the frames before the damage


def source_rng(seed: int, source_id: str) -> np.random.Generator:
    """A Generator fixed by (seed, source id), independent of worker and processing order."""
    digest = int(hashlib.sha256(source_id.encode()).hexdigest()[:16], 16)
    return np.random.default_rng([seed, digest])


def extract_source(source: Source, config: ExtractConfig) -> SourceResult:
    """Decode `source` once and return its kept clips, or the reason it was skipped."""
    empty = np.zeros((0, *config.fmt.shape), np.uint8)
    try:
        return _slice_and_filter(source, config)
    except VideoError as error:
        return SourceResult(source, empty, [], skip_reason=error.reason, skip_detail=error.detail)


def measured_frame(frame: np.ndarray, fmt: ClipFormat) -> np.ndarray:
    """What the filters see of a stored frame: the same frame at FILTER_FORMAT (gray 80 x 45),
    so their thresholds mean the same at every colour and size."""
    if fmt.color == FILTER_FORMAT.color and fmt.frame_shape == FILTER_FORMAT.frame_shape:
        return frame
    return prepare_image(frame, FILTER_FORMAT)


def _slice_and_filter(source: Source, config: ExtractConfig) -> SourceResult:
    n_frames = config.fmt.n_frames
    window: deque[np.ndarray] = deque(maxlen=n_frames)
    meter = MotionMeter(config.filters)
    rng = source_rng(config.seed, source.source_id)
    kept: list[tuple[int, np.ndarray]] = []  # reservoir of (start index, clip)
    n_passed = 0
    rejected: Counter = Counter()
    n_candidates = 0
    count = 0
    damage: VideoError | None = None
    frames = iter_frames(
        source.path,
        config.fps,
        config.fmt,
        threads=config.decoder_threads,
        min_source_fps=config.min_source_fps,
    )
    while True:
        try:
            _, frame = next(frames)
        except StopIteration:
            break
        except VideoError as error:
            if error.reason not in DAMAGE_REASONS or count == 0:
                raise
            damage = error  # cut short or damaged part way: keep the clips before the damage
            break
        count += 1
        window.append(frame)
        meter.add(measured_frame(frame, config.fmt))
        start = count - n_frames
        if start < 0 or start % config.stride:
            continue
        n_candidates += 1
        reason = reject_reason(meter.measure(start, n_frames), config.filters)
        if reason is not None:
            rejected[reason] += 1
            continue
        # Reservoir sampling keeps a uniform random max_per_source of the passing clips without
        # holding them all; the Generator makes the choice a function of (seed, source id).
        n_passed += 1
        if len(kept) < config.max_per_source:
            kept.append((start, np.stack(window)))
        else:
            slot = rng.integers(n_passed)
            if slot < config.max_per_source:
                kept[slot] = (start, np.stack(window))
    if count < n_frames:
        detail = f"{count} frames at {config.fps:g} fps, a clip needs {n_frames}"
        if damage is not None:
            raise VideoError(damage.reason, f"{damage.detail}; {detail} before the damage")
        raise VideoError("too_short", detail)
    kept.sort(key=lambda item: item[0])
    empty = np.zeros((0, *config.fmt.shape), np.uint8)
    clips = np.stack([clip for _, clip in kept]) if kept else empty
    return SourceResult(
        source=source,
        clips=clips,
        start_times=[round(start / config.fps, 6) for start, _ in kept],
        n_frames=count,
        n_candidates=n_candidates,
        rejected=rejected,
        n_over_cap=n_passed - len(kept),
        damage=str(damage) if damage is not None else "",
    )
