"""The config dataclass of every command, in one light module (no torch, PyAV or flickrapi).

Each command parses its options into one of these frozen dataclasses and hands it to one library
function. The click options are generated from the fields (cli.py), so every default is written
here and only here. This module imports nothing above it (tests/test_layers.py): it checks
values against the plain names of clip_format.py and the arch registry, archs.py.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from scenegan.archs import AUGMENTATIONS, arch_names, canonical_arch, get_arch
from scenegan.clip_format import DEFAULT_FPS, FPS_RANGE, STAGES, ClipFormat
from scenegan.clip_format import clip_format as format_of_options
from scenegan.errors import UserError

LOSSES = ("lsgan", "wgan-gp")
# Training precision: auto is bf16 autocast on CUDA and float32 on the CPU.
PRECISIONS = ("auto", "fp32", "bf16")
# torch.compile modes of `train --compile MODE` ("none": eager; `--compile` alone: "default").
COMPILE_MODES = ("none", "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
# A dataset's splits, by source video: train, val (reported numbers), select (choosing weights).
SPLITS = ("train", "val", "select")
# what build-dataset does with near-duplicate sources (--dedup)
DEDUP_MODES = ("split", "drop")
# how `export --calibrate` chooses the motion model's amount spread (model.calibrate)
CALIBRATION_SPREADS = ("closest", "matched")
TEXTURES = ("grain", "flutter", "carried", "none")  # how a scene prior draws texture change
# export's defaults for it (model/prior_fit.TextureChoice), chosen on the select videos
DEFAULT_TEXTURE, DEFAULT_TEXTURE_GATE, DEFAULT_TEXTURE_SCALE = "carried", 1.0, 0.5
# What `export` writes: safetensors (the default; no pickle) or a torch file (pt).
EXPORT_FORMATS = ("safetensors", "pt")
# Flickr's REST endpoint (tests and the demo point --api-url at a local stand-in).
DEFAULT_API_URL = "https://api.flickr.com/services/rest/"
# Licenses fetched by default: reuse allowed with attribution, or without any condition.
DEFAULT_LICENSES = ("cc-by", "cc-by-sa", "cc0", "pdm")


@dataclass(frozen=True)
class FetchConfig:
    tags: tuple[str, ...]
    tag_mode: str = "any"
    licenses: tuple[str, ...] = DEFAULT_LICENSES  # short names or Flickr license ids
    since: str | None = None  # YYYY-MM-DD, upload date
    until: str | None = None
    out: Path = Path("datasets")
    api_url: str = DEFAULT_API_URL
    limit: int | None = None
    workers: int = 2
    calls_per_second: float = 1.0
    max_retries: int = 4
    backoff_seconds: float = 2.0
    per_page: int = 500
    max_video_width: int = 640
    download_retries: int = 3
    rate_limit: float | None = None  # download bytes per second
    min_duration: float = 0.0
    max_duration: float = float("inf")
    retry_failed: bool = False
    dry_run: bool = False
    result_cap: int = 4000  # Flickr's; smaller only in tests against the stand-in


@dataclass(frozen=True)
class FilterConfig:
    """Thresholds of the clip filters, measured on the gray 80 x 45 clip (FILTER_FORMAT).

    Cuts and exposure are judged on the 0..255 grey scale (frame-to-frame mean absolute
    difference); motion and the camera by DIS optical flow between neighbouring frames, in
    pixels per frame of the 80-pixel-wide frame.
    """

    # A cut: one frame-to-frame difference this large, and `cut_ratio` times the clip's median.
    cut_min_diff: float = 25.0
    cut_ratio: float = 4.0
    # No motion: the fastest tenth of the frame moves slower than this on average, pixels per
    # frame. Chosen from `inspect --rejected` on ../shared/scenery: still shots with codec noise
    # read 0.01-0.03, slow cumulus at 24 fps 0.05, storm clouds and drizzle 0.08.
    static_max_flow: float = 0.04
    # Mostly dark / blown out: this fraction of pixels is below `dark_level` / above `bright_level`.
    # At 0.7 a candle (83% of the frame dark) and a fireplace (81-95%) were dropped: fire in
    # the dark is a scene to learn, so only an all but black (or white) frame is.
    dark_level: int = 24
    bright_level: int = 240
    exposure_max_fraction: float = 0.95
    # Camera motion: a frame's median flow counts as the camera's only where at least this share
    # of the pixels moves with it; flowing water, flames and swaying trees agree less.
    camera_min_agreement: float = 0.6
    # Pan: the camera drifts this many pixels in total over the clip (30% of the width). What
    # fills the frame and moves one way reads as a camera too: at 16, clouds drifting 0.6 px a
    # frame, breaking waves and ripples (19-24 px) were dropped with the real pans (40-100 px).
    pan_max_pixels: float = 24.0
    # Shake: the frame-to-frame camera shift jitters by this many pixels (standard deviation).
    shake_max_pixels: float = 1.0
    # Zoom (a camera zooming or moving forward): the clip's summed flow grows or shrinks the
    # frame by more than this share (scene_filters.zoom_of), and a zoom explains at least
    # `zoom_min_fit` of that flow (billowing clouds and smoke swell in places; docs/filters.md).
    zoom_max_scale: float = 0.03
    zoom_min_fit: float = 0.8
    # ... or a fast zoom fitted loosely: a camera moving forward among near trees and rocks sees
    # them move faster than far ones, so a zoom explains less of its flow (a mountain biker
    # followed down a forest path: +0.7 a clip at a fit of 0.69-0.75), while clouds swelling
    # toward a still camera reach -0.33 at 0.60 (docs/filters.md).
    zoom_fast_scale: float = 0.3
    zoom_fast_fit: float = 0.65
    # A moving camera, judged once per video: the camera moves (a pan, shake or zoom) in at
    # least this share of the video's whole-frame candidates that move at all (those the camera
    # filters drop and those that pass) at one of its rates, so its clips that pass are the
    # camera's pauses or misreadings, and they go too (a handheld or drone video; filters.md).
    camera_min_share: float = 0.3
    # ... or when its camera glides: consecutive sampled frames, seconds apart, show the same
    # ground moved by more than this many pixels at 320 x 180 (a drone, a slow pan; glide.py).
    camera_max_glide: float = 14.0
    # ... or by more than this many, where the same motion is fitted loosely (within 8 pixels):
    # a drone low over trees sees near things move faster than far ones, a fisheye lens bends
    # the ground, so their matches agree with one motion only loosely (glide.py).
    camera_max_flight: float = 20.0
    # People, judged once per video on sampled frames at the source's resolution: a frame shows
    # a person when both face cascades agree on a face of weight `people_min_face` (a tenth of
    # the frame high or more) or the person detector scores a person a fifth of the frame high
    # or more at `people_min_person` (person_detector.py), or at `people_steady_person` where
    # STEADY_SHARE of the searched frames score that (a person seen from behind all along); the
    # video goes when `people_min_share` of its frames show one, or one frame shows a person at
    # `people_clear_person` (a montage with one shot of people; docs/filters.md).
    people_min_face: float = 4.5
    people_min_person: float = 0.55
    people_steady_person: float = 0.45
    people_clear_person: float = 0.6
    # ... or where the detector scores boots or shoes a tenth of the frame high or more at this:
    # a hiker's legs close up, people round a fire seen from the knees down (0.50-0.58), where
    # the scenery clips without people read 0.43 at most (rocks, logs, a smoke column).
    people_min_footwear: float = 0.5
    people_min_share: float = 0.25
    # of the 8 sampled frames, this many (evenly spread) are searched, and the others only when
    # one of these comes near a threshold; the detectors cost about 75 ms of CPU a frame, so 2
    # halve this filter's cost and miss more (docs/build-speed.md)
    people_frames: int = 4
    # Overlay (captions, logos, cards, bars), judged once per video: more than this share of the
    # frame is covered by dense sharp edges that stand still in every sampled frame.
    overlay_max_area: float = 0.01
    # ... or bars and borders along the frame's sides (letterbox, pillarbox) cover more than this.
    overlay_max_bars: float = 0.05
    # ... or lines of text (captions, subtitles, titles, watermarks) cover more than this share of
    # the frame in two of its sampled frames or more, each frame judged alone.
    overlay_max_text: float = 0.005

    def to_dict(self) -> dict:
        return asdict(self)


def parse_rates(text: str) -> tuple[float | str, ...]:
    """`--fps` text -> its rates: `12,24` -> (12.0, 24.0); `native` is the source's own rate.

    Raises ValueError, with the message a user sees, for anything else or a rate not above 0.
    """
    rates: list[float | str] = []
    for part in str(text).split(","):
        part = part.strip().lower()
        if part == "native":
            rate: float | str = "native"
        else:
            try:
                rate = float(part)
            except ValueError:
                raise ValueError(
                    f"--fps {text}: {part!r} is not a frame rate; give numbers above 0 or "
                    "`native`, comma-separated (e.g. 12,native)"
                ) from None
            if not math.isfinite(rate):
                raise ValueError(f"--fps {text}: {part} is not a finite frame rate")
            low, high = FPS_RANGE  # what a GIF's frame delay can hold
            if not (low <= rate <= high):
                raise ValueError(
                    f"--fps {text}: {part} is not a frame rate; give rates from {low:g} to "
                    f"{high:g} frames a second, or `native`"
                )
        if rate in rates:
            raise ValueError(f"--fps {text}: {part} is listed twice")
        rates.append(rate)
    return tuple(rates)


# The largest --context-scale: 8 x 80 x 45 is 640 x 360, the size fetched videos have at most.
MAX_CONTEXT_SCALE = 8


@dataclass(frozen=True)
class BuildConfig:
    """Options of `scenegan build-dataset`; see `scenegan build-dataset --help`."""

    out: Path = Path("datasets/clips")
    videos: Path | None = None  # a folder of videos; None: read the fetch manifest
    manifest: Path = Path("datasets/manifest.sqlite")
    color: str = "gray"  # gray or rgb
    size: str = "80x45"  # width x height of the stored clips, 16:9
    frames: int = 32  # frames per clip
    # frame rates, comma-separated: frames a second, or `native` (each source's own rate)
    fps: str = f"{DEFAULT_FPS:g},native"
    crops: int = 2  # framings of each kept clip: the whole frame and crops - 1 random windows
    # each clip's first frame in colour at this multiple of its size (`context`); 0: none
    context_scale: int = 2
    stride: int = 8
    clips: int = 7000
    max_per_source: int = 32
    min_source_fps: float = 8.0
    val_fraction: float = 0.1
    select_fraction: float = 0.0  # source videos kept apart for choosing checkpoints
    seed: int = 0
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    engine: str = "local"  # local: this machine's processes; dask: a Dask cluster
    address: str | None = None  # --engine dask: the scheduler (None: a local cluster of workers)
    decoder_threads: int = 1  # per worker; 0 lets FFmpeg choose (fastest with --workers 1)
    shard_size: int = 1000
    filters: FilterConfig = FilterConfig()
    preview: bool = False
    # Near-duplicate sources (the same footage re-encoded, rescaled or cropped; fingerprint.py):
    # `split` puts each group in one split, `drop` keeps only its source with the most clips.
    dedup: str = "split"
    # two sources are the same footage when their aligned frames correlate this well in fine
    # detail (docs/filters.md)
    duplicate_min_similarity: float = 0.68

    def rates(self) -> tuple[float | str, ...]:
        """The rates of --fps: numbers (frames a second) and `native`."""
        try:
            return parse_rates(self.fps)
        except ValueError as error:
            raise UserError(str(error)) from None

    def main_fps(self) -> float | None:
        """index.json's `fps`: the first numeric rate of --fps (each clip records its own);
        None for `--fps native` alone."""
        numbers = [rate for rate in self.rates() if rate != "native"]
        return float(numbers[0]) if numbers else None

    def clip_format(self) -> ClipFormat:
        """The ClipFormat of --color, --size and --frames."""
        try:
            return format_of_options(self.color, self.size, self.frames)
        except ValueError as error:
            raise UserError(str(error)) from None

    def to_dict(self) -> dict:
        """The settings index.json records: what the dataset depends on, not how the build ran
        (workers, engine, address), so every engine writes the same bytes. Colour, size and
        frames are index.json's `clip_format`, recorded once (so a default build's index.json
        is byte-identical to one written before they existed)."""
        settings = asdict(self)
        for key in ("workers", "engine", "address", "color", "size", "frames"):
            del settings[key]
        for key in ("out", "videos", "manifest"):
            settings[key] = None if settings[key] is None else str(settings[key])
        return settings

    def validate(self) -> None:
        self.rates()
        if self.crops < 1:
            raise UserError(f"--crops {self.crops}: give at least 1 (the whole frame)")
        if not 0 <= self.context_scale <= MAX_CONTEXT_SCALE:
            raise UserError(
                f"--context-scale {self.context_scale}: give 0 (no context) to "
                f"{MAX_CONTEXT_SCALE} (times the clip's size)"
            )
        if self.stride < 1 or self.clips < 1 or self.max_per_source < 1:
            raise UserError("--stride, --clips and --max-per-source must be positive")
        if not (0 <= self.val_fraction < 1 and 0 <= self.select_fraction < 1):
            raise UserError("--val-fraction and --select-fraction must be in [0, 1)")
        if self.val_fraction + self.select_fraction >= 1:
            raise UserError("--val-fraction plus --select-fraction must leave videos to train on")
        if self.dedup not in DEDUP_MODES:
            raise UserError(f"--dedup {self.dedup}: give one of {', '.join(DEDUP_MODES)}")
        if self.workers < 1 or self.shard_size < 1:
            raise UserError("--workers and --shard-size must be at least 1")
        if self.engine not in ("local", "dask"):
            raise UserError(f"--engine must be local or dask, not {self.engine!r}")
        if not 1 <= self.filters.people_frames <= 8:  # of the 8 frames sampled per video
            raise UserError("--people-frames must be 1 to 8")
        self.clip_format()


@dataclass(frozen=True)
class TrainConfig:
    """Everything one training run depends on; saved in every checkpoint."""

    stage: str = "small"
    data: str = "datasets/clips"
    out: str = ""  # "" -> checkpoints/<stage>
    steps: int = 20000
    batch_size: int = 16
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.99)
    device: str = "auto"  # auto | cpu | cuda
    stream: str = "auto"  # auto | yes | no: read clips from the shards per batch, not into memory
    resume: str = "auto"  # auto | none | PATH
    init: str = ""  # stage large: the small checkpoint ("" -> newest in <out>/../small; "none")
    # a generator of this arch and stage trained at another clip format: G starts from its
    # weights, colour layers inflated (model.inflate); D starts new; replaces --init
    warm_start: str = ""
    arch: str = "euler"
    loss: str = "lsgan"
    seed: int = 0
    fade_steps: int = 2000
    ema_beta: float = 0.999
    gp_weight: float = 10.0
    mismatch_weight: float = 0.5  # weight of (real clip, another clip's photo) pairs as fakes
    roughness_weight: float = 1.0  # flow arch: weight of the flow roughness penalty in G's loss
    residual_weight: float = 0.0  # flow arch: weight of the mean |residual| penalty in G's loss
    # flow arch: weight of the term that ties the coarse motion maps (speed, flicker) of each
    # generated clip to those of the real clip of the same photo (losses.motion_match)
    motion_weight: float = 3.0
    # motion arch: the regression of its motion fields to each real clip's measured optical
    # flow (end-point error to `mean_flow`, L1 to the per-pixel speed `motion_map`, both per
    # unit of the clip's own speed) and of its amount head to the clip's `motion` (log L1)
    flow_weight: float = 1.0
    magnitude_weight: float = 1.0
    amount_weight: float = 1.0
    # motion arch: the mean speed of its fields where the real clip stood still (under
    # motion_fields.STILL_FLOW px a frame: rock, trunks), in pixels a frame at the dataset's size
    still_weight: float = 0.0
    # weight of D's verdict in G's loss; 0 trains the motion arch by regression alone
    adversarial_weight: float = 1.0
    # train on this share of the training videos (nested: a smaller share's videos are all in a
    # larger one's), for data-scaling curves; 1 trains on all of them
    video_fraction: float = 1.0
    # motion arch: the copied photo and a drifting photo shown to D as fakes, at this weight
    baseline_fake_weight: float = 0.5
    # DiffAugment policy for the clips D sees; auto: the arch's own (archs.py: all of them for
    # euler, flow and motion, none for keras2019, which trained without)
    augment: str = "auto"
    snapshot_every: int = 500
    tick_every: int = 50
    keep: int = 3
    minutes: float = 0.0  # > 0: stop (with a snapshot) after this much wall-clock time
    threads: int = 0  # 0: torch's default
    precision: str = "auto"  # auto (bf16 on CUDA, fp32 on the CPU) | fp32 | bf16
    compile: str = "none"  # a torch.compile mode (COMPILE_MODES); True/False mean default/none
    channels_last: bool = False  # convolution weights (and so activations) channels-last
    # multiplier of G's and D's channels (euler, flow, motion): 2 is about 4x weights and compute
    width: float = 1.0
    tensorboard: bool = True
    grid_photos: int = 6
    grid_noises: int = 3

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise UserError(f"--stage must be one of {sorted(STAGES)}, not {self.stage!r}")
        object.__setattr__(self, "arch", canonical_arch(self.arch))
        if self.arch not in arch_names():
            raise UserError(f"--arch must be one of {list(arch_names())}, not {self.arch!r}")
        if self.loss not in LOSSES:
            raise UserError(f"--loss must be one of {list(LOSSES)}, not {self.loss!r}")
        if self.stream not in ("auto", "yes", "no"):
            raise UserError(f"--stream must be auto, yes or no, not {self.stream!r}")
        if self.augment == "auto":
            object.__setattr__(self, "augment", get_arch(self.arch).augment)
        unknown = [n for n in self.augment.split(",") if n and n not in (*AUGMENTATIONS, "none")]
        if unknown:
            raise UserError(
                f"--augment: unknown augmentation {unknown[0]!r}; use any of "
                f"{', '.join(AUGMENTATIONS)}"
            )
        if self.batch_size < 2:
            raise UserError("--batch-size must be at least 2")
        if not 0 < self.video_fraction <= 1:
            raise UserError(f"--video-fraction must be in (0, 1], not {self.video_fraction}")
        if self.warm_start and self.init not in ("", "none"):
            raise UserError(
                "--warm-start and --init both say where the weights start from; give one"
            )
        if self.warm_start and self.resume not in ("auto", "none"):
            raise UserError(
                "--warm-start starts a new run and --resume PATH goes on with an old one; "
                "give one (--resume auto goes on with a warm-started run in --out)"
            )
        if self.precision not in PRECISIONS:
            raise UserError(
                f"--precision must be one of {list(PRECISIONS)}, not {self.precision!r}"
            )
        if isinstance(self.compile, bool):  # configs saved when --compile was a flag
            object.__setattr__(self, "compile", "default" if self.compile else "none")
        if self.compile not in COMPILE_MODES:
            raise UserError(f"--compile must be one of {list(COMPILE_MODES)}, not {self.compile!r}")
        if not self.width > 0:
            raise UserError(f"--width must be above 0, not {self.width}")
        if self.width != 1 and not get_arch(self.arch).widens:
            widening = ", ".join(a for a in arch_names() if get_arch(a).widens)
            raise UserError(
                f"--width scales the channels of {widening}; {self.arch} has one width, its "
                "own: leave --width at 1"
            )
        if not self.out:
            object.__setattr__(self, "out", str(Path("checkpoints") / self.stage))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["betas"] = list(self.betas)
        return d


@dataclass(frozen=True)
class SampleConfig:
    """What `scenegan sample` does; click options map one to one onto these fields."""

    images: tuple[Path, ...] = ()  # files or folders; empty: the shipped example photos
    checkpoint: str | None = None  # a .pt path or baseline:copy / baseline:drift; None: default
    out: Path = Path("samples")
    format: str = "gif"
    n: int = 1  # animations per photo, each with its own noise
    seed: int | None = None  # None: a fresh random seed (printed, so a result can be repeated)
    scale: int = 1  # enlargement of GIF / MP4 frames for viewing (never of npy)
    resample: str = "nearest"
    grid: bool = False  # one file per photo: the photo, then its n animations, side by side
    loop: bool = False  # the last frame joins frame 0 as smoothly as neighbouring frames join
    speed: float = 1.0  # motion speed: 2 moves about twice as far
    # motion arch: how much the scene moves, in pixels per frame at the dataset's size (None:
    # predicted from the photo), and the frame rate to animate at (None: the dataset's)
    motion: float | None = None
    fps: float | None = None
    device: str = "cpu"

    def __post_init__(self) -> None:
        from scenegan.animation_files import FORMATS, RESAMPLING

        if self.format not in FORMATS:
            raise UserError(f"--format must be one of {', '.join(FORMATS)}, not {self.format!r}")
        if self.resample not in RESAMPLING:
            raise UserError(f"--resample must be one of {', '.join(RESAMPLING)}")
        if self.n < 1 or self.scale < 1:
            raise UserError("--n and --scale must be at least 1")


@dataclass(frozen=True)
class EvaluateConfig:
    """What `scenegan evaluate` does; click options map one to one onto these fields."""

    data: Path = Path("datasets/clips")
    out: Path = Path("runs/evaluate")
    checkpoint: str | None = None  # None: the shipped checkpoint or the newest in checkpoints/
    baseline: str | None = None  # another generator (the 2019 model's): a row named by its arch
    n_clips: int = 256  # held-out clips used (all if fewer); each row animates their frame 0
    halvings: int = 5  # random halvings FVD is averaged over
    seed: int = 0
    fvd: bool = True
    batch_size: int = 32  # clips per generator call
    fvd_batch_size: int = 8
    fvd_cache: bool = True  # reuse I3D features of identical clip sets across runs
    diversity_photos: int = 16  # photos animated with several noise seeds for diversity
    diversity_seeds: int = 4
    strip_clips: int = 3  # clips shown in the sample strips plot
    split: str = "val"  # val: reported numbers; select: choosing checkpoints and weights
    # > 0: up to this many clips of each video, spread over it (every video weighs about the
    # same), instead of --n-clips drawn at random
    per_video: int = 0
    sources: str = ""  # comma-separated glob patterns of source ids: only their clips ("": all)
    # NAME=PATTERNS;...: the rows scored again on the clips of each group of source videos
    groups: str = ""
    loop: bool = False  # animate with loop=True and report the loop seam
    speed: float = 1.0
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.n_clips < 4:
            raise UserError("--n-clips must be at least 4 (FVD compares two halves)")
        if self.halvings < 1:
            raise UserError("--halvings must be at least 1")


@dataclass(frozen=True)
class DemoConfig:
    """Where the demo works and how long it trains."""

    workdir: Path = Path("demo")
    n_videos: int = 8  # served by the stand-in; 6 of them carry a free license
    steps: int = 20  # per stage
    batch_size: int = 4


@dataclass(frozen=True)
class ServeConfig:
    """What `scenegan serve` does; click options map one to one onto these fields."""

    host: str = "127.0.0.1"  # 0.0.0.0 serves other machines too
    port: int = 7860  # 0: any free port (printed)
    checkpoint: str | None = None  # a .pt path or baseline:copy / baseline:drift; None: default
    max_upload_mb: float = 20.0  # larger uploads are refused (413) before they are read whole
    # larger photos are refused (413) from their header, before decoding: a 6000 x 4000 photo
    # fits; decoding one takes up to 25 bytes a pixel (16-bit PNG), 600 MB at the limit
    max_megapixels: float = 24.0
    decoders: int = 2  # photos decoded (and answers encoded) at once; more wait their turn
    timeout: float = 30.0  # seconds a client may be silent (request head, upload); 4x in all
    device: str = "cpu"

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise UserError(f"--port must be in 0..65535, not {self.port}")
        if not self.max_upload_mb > 0:
            raise UserError("--max-upload-mb must be positive")
        if not (self.max_megapixels > 0 and self.decoders >= 1 and self.timeout > 0):
            raise UserError("--max-megapixels, --decoders and --timeout must be positive")
