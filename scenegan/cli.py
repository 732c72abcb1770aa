"""The `scenegan` command: a click group whose commands parse options into a frozen config
dataclass and hand it to one library function. Errors a user can fix end in one line."""

from __future__ import annotations

import dataclasses
import json
import math
import sys
from pathlib import Path

import click

from scenegan import __version__
from scenegan.animation_files import FORMATS, RESAMPLING
from scenegan.archs import ARCHS, arch_choices
from scenegan.clip_format import COLORS, STAGES
from scenegan.config import (
    CALIBRATION_SPREADS,
    COMPILE_MODES,
    DEDUP_MODES,
    DEFAULT_TEXTURE,
    DEFAULT_TEXTURE_GATE,
    DEFAULT_TEXTURE_SCALE,
    EXPORT_FORMATS,
    LOSSES,
    MAX_CONTEXT_SCALE,
    PRECISIONS,
    SPLITS,
    TEXTURES,
    BuildConfig,
    DemoConfig,
    EvaluateConfig,
    FetchConfig,
    FilterConfig,
    SampleConfig,
    ServeConfig,
    TrainConfig,
)
from scenegan.errors import UserError, resource_error

# Every seed goes to numpy.random.default_rng and torch.manual_seed, which take non-negative
# integers; 32 bits are plenty and print short.
SEED = click.IntRange(0, 2**32 - 1)


class Number(click.FloatRange):
    """A float in a range that is never nan (and not +-inf unless `allow_inf`).

    click.FloatRange alone lets `nan` through: every comparison with nan is false.
    """

    def __init__(self, min=None, max=None, *, allow_inf: bool = False, **kwargs) -> None:
        super().__init__(min, max, **kwargs)
        self.allow_inf = allow_inf

    def convert(self, value, param, ctx):
        number = click.FLOAT.convert(value, param, ctx)
        if math.isnan(number) or (math.isinf(number) and not self.allow_inf):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return super().convert(number, param, ctx)


class ArchChoice(click.Choice):
    """`--arch`: the registry's names and aliases (scenegan/archs.py), read when the option is
    parsed, so an architecture registered after this module was imported is a choice too."""

    def __init__(self) -> None:
        super().__init__(())

    @property
    def choices(self) -> tuple[str, ...]:
        return arch_choices()

    @choices.setter
    def choices(self, value) -> None:  # click.Choice.__init__ sets it; the registry holds them
        pass


def arch_help() -> str:
    """What `--arch` says of each architecture, from the registry."""
    return "; ".join(
        f"{name}" + (f" (alias {', '.join(a.aliases)})" if a.aliases else "") + f": {a.help}"
        for name, a in ARCHS.items()
    )


def _check_device(device: str) -> None:
    """A device that is not there, or not a device, is the user's choice, not a bad checkpoint."""
    import torch

    if device == "auto":  # train: a GPU when there is one
        return
    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError):
        parsed = None
    if parsed is None or parsed.type not in ("cpu", "cuda", "mps"):
        raise UserError(f"--device {device}: not a device; use cpu, cuda or cuda:N")
    if parsed.type == "mps" and not torch.backends.mps.is_available():
        raise UserError(f"--device {device}: no Apple GPU (MPS) is available here; use cpu")
    if parsed.type != "cuda":
        return
    if not torch.cuda.is_available():
        raise UserError(f"--device {device}: no CUDA GPU is available here; use --device cpu")
    if parsed.index is not None and parsed.index >= torch.cuda.device_count():
        raise UserError(
            f"--device {device}: this machine has {torch.cuda.device_count()} CUDA device(s)"
        )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="scenegan")
def cli() -> None:
    """scenegan: animate a still landscape photo into a short clip, grey or colour."""


# ---------------------------------------------------------------- fetch (pipeline/flickr)


def _split_csv(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def option(config, name: str, kind=None, help: str | None = None, *, flag: str = "", **extra):
    """The click option of the field `name` of the config dataclass `config`, with the field's
    default (no default is written twice): `--name-with-dashes`; `--x/--no-x` or a flag for a
    bool field; a comma-separated string for a tuple; required for a field without default."""
    spec = {f.name: f for f in dataclasses.fields(config)}[name]
    if spec.default is not dataclasses.MISSING:
        default = spec.default
    elif spec.default_factory is not dataclasses.MISSING:
        default = spec.default_factory()
    else:
        return click.option(f"--{name.replace('_', '-')}", name, required=True, help=help, **extra)
    flag = flag or f"--{name.replace('_', '-')}"
    if isinstance(default, bool):
        if default:
            flag += f"/--no-{name.replace('_', '-')}"
        else:
            extra["is_flag"] = True
        return click.option(flag, name, default=default, show_default=default, help=help, **extra)
    if isinstance(default, tuple) and not extra.get("multiple"):
        default = ",".join(map(str, default))
    # a default made on this machine (all its cores) is shown by what it means
    shown = extra.pop("show_default", default not in (None, ""))
    return click.option(
        flag, name, type=kind, default=default, show_default=shown, help=help, **extra
    )


def folder(**kind) -> click.Path:
    return click.Path(file_okay=False, path_type=Path, **kind)


def _print_config(config, *more: str) -> None:
    """What every `--dry-run` prints: the command's config dataclass as JSON (then `more`)."""
    click.echo(json.dumps(dataclasses.asdict(config), indent=2, default=str))
    for line in more:
        click.echo(line)


def _dry_run(config, dry_run: bool) -> bool:
    """With --dry-run print the config and say so (the command stops); else check its device."""
    if dry_run:
        _print_config(config)
        return True
    if hasattr(config, "device"):
        _check_device(config.device)
    return False


DRY_RUN = click.option("--dry-run", is_flag=True, help="Print the configuration and exit.")


# ---------------------------------------------------------------- fetch (pipeline/fetch)


@cli.command()
@option(FetchConfig, "tags", help="Comma-separated Flickr tags, e.g. sea,forest.")
@option(FetchConfig, "tag_mode", click.Choice(["any", "all"]))
@option(
    FetchConfig, "licenses", help="Short names (cc-by, cc-by-sa, cc0, pdm, cc-by-nc, ...) or ids."
)
@option(FetchConfig, "since", help="Uploaded on or after YYYY-MM-DD.")
@option(FetchConfig, "until", help="Uploaded on or before YYYY-MM-DD.")
@option(FetchConfig, "out", folder())
@option(FetchConfig, "api_url", envvar="SCENEGAN_FLICKR_API_URL", help="Flickr REST endpoint.")
@option(FetchConfig, "limit", click.IntRange(min=1), "Download at most N.")
@option(FetchConfig, "workers", click.IntRange(1, 4))
@option(FetchConfig, "calls_per_second", Number(0, 100))
@option(FetchConfig, "rate_limit", Number(0, min_open=True), "Download bytes per second.")
@option(FetchConfig, "min_duration", Number(0), "Seconds.")
@option(FetchConfig, "max_duration", Number(0, min_open=True, allow_inf=True), "Seconds.")
@option(FetchConfig, "retry_failed", help="Download videos that failed before again.")
@option(FetchConfig, "dry_run", help="Search, list what would be downloaded, stop.")
def fetch(tags: str, licenses: str, **options: object) -> None:
    """Search Flickr for scenery videos by tag and download them into OUT with a manifest.

    The key comes from FLICKR_API_KEY / FLICKR_API_SECRET (or ~/.config/scenegan/flickr.json).
    """
    from scenegan.files import folder_lock, writable_folder
    from scenegan.pipeline.fetch import load_credentials, run_fetch

    config = FetchConfig(tags=_split_csv(tags), licenses=_split_csv(licenses), **options)
    writable_folder(config.out, "--out")
    api_key, api_secret = load_credentials()
    with folder_lock(config.out, "fetch"):
        summary = run_fetch(config, api_key, api_secret)
    if config.dry_run:
        _print_config(
            config, *(f"would download {photo_id}" for photo_id in summary.would_download)
        )
        click.echo(
            f"dry run: {len(summary.would_download)} to download of {summary.n_found} found, "
            f"about {summary.n_api_calls} API calls"
        )
        return
    for line in summary.lines():
        click.echo(line)
    click.echo(f"manifest: {config.out / 'manifest.sqlite'}")
    if summary.problem():
        raise UserError(summary.problem())


# ---------------------------------------------------------------- build-dataset (pipeline)

_GRAY = click.IntRange(0, 255)
_SHARE = Number(0, 1)
_PIXELS = Number(0, 1000)
_SCALE = Number(0, 10)  # a zoom's scale change over a clip (1: the frame grew twofold)
_DETECTOR_WEIGHT = Number(-100, 100)


def _filter_options(command):
    """The filters' thresholds (FilterConfig): the clip filters', on the 0..255 grey scale of a
    clip, then the per-video filters'."""
    options = [
        option(FilterConfig, "cut_min_diff", Number(0, 255), "Scene cut: a frame difference,"),
        option(FilterConfig, "cut_ratio", Number(1, 1000), "... this many times the median one."),
        option(
            FilterConfig, "static_max_flow", _PIXELS, "Static: 90th-percentile flow px/frame below."
        ),
        option(FilterConfig, "dark_level", _GRAY, "Grey level below which a pixel is dark."),
        option(FilterConfig, "bright_level", _GRAY, "Grey level above which it is blown out."),
        option(FilterConfig, "exposure_max_fraction", _SHARE, "Dark / blown out above this."),
        option(FilterConfig, "camera_min_agreement", _SHARE, "Camera: share moving with it."),
        option(FilterConfig, "pan_max_pixels", _PIXELS, "Pan: total camera drift over a clip."),
        option(FilterConfig, "shake_max_pixels", _PIXELS, "Shake: std of the camera shift."),
        option(FilterConfig, "zoom_max_scale", _SCALE, "Zoom: the clip's flow scales the frame by"),
        option(FilterConfig, "zoom_min_fit", _SHARE, "... and a zoom explains this share of it;"),
        option(FilterConfig, "zoom_fast_scale", _SCALE, "... or it scales the frame by this"),
        option(FilterConfig, "zoom_fast_fit", _SHARE, "... and a zoom explains this share."),
        *_video_filter_options(),
    ]
    for decorate in reversed(options):
        command = decorate(command)
    return command


def _video_filter_options() -> list:
    """The options of the filters judged once per video (filters.md): camera, people, overlay."""
    return [
        option(
            FilterConfig,
            "camera_min_share",
            _SHARE,
            "Moving camera: video goes at this share of moving clips panned, shaken or zoomed.",
        ),
        option(
            FilterConfig,
            "camera_max_glide",
            _PIXELS,
            "... or when the camera glides this many px (at 320 x 180) between sampled frames.",
        ),
        option(
            FilterConfig,
            "camera_max_flight",
            _PIXELS,
            "... or this many px where the glide is fitted loosely (parallax, fisheye).",
        ),
        option(
            FilterConfig,
            "people_min_face",
            _DETECTOR_WEIGHT,
            "People: face weight (both cascades),",
        ),
        option(
            FilterConfig, "people_min_person", _SHARE, "... or person detector's score, in a frame;"
        ),
        option(
            FilterConfig,
            "people_steady_person",
            _SHARE,
            "... or this score where most frames reach it;",
        ),
        option(
            FilterConfig, "people_min_share", _SHARE, "... the video goes at this share of frames,"
        ),
        option(
            FilterConfig,
            "people_clear_person",
            _SHARE,
            "... or where one frame's person scores this.",
        ),
        option(FilterConfig, "people_min_footwear", _SHARE, "People: boots or shoes close up."),
        option(
            FilterConfig,
            "people_frames",
            click.IntRange(1, 8),
            "People: sampled frames searched first (all where one comes near).",
        ),
        option(
            FilterConfig, "overlay_max_area", _SHARE, "Overlay: share of frame under still edges."
        ),
        option(FilterConfig, "overlay_max_bars", _SHARE, "... or under bars or boxes,"),
        option(FilterConfig, "overlay_max_text", _SHARE, "... or under text, in two frames."),
    ]


FILTER_FIELDS = [f.name for f in dataclasses.fields(FilterConfig)]


@cli.command("build-dataset")
@option(
    BuildConfig,
    "videos",
    click.Path(exists=True, file_okay=False, path_type=Path),
    "Build from this folder of videos instead of the fetch manifest.",
)
@option(BuildConfig, "manifest", click.Path(path_type=Path), "SQLite manifest of `scenegan fetch`.")
@option(BuildConfig, "out", folder(), "Dataset folder to write (or to finish after a stop).")
@option(BuildConfig, "color", click.Choice(list(COLORS)), "Clip colour: gray or rgb.")
@option(BuildConfig, "size", help="Clip width x height, 16:9: 80x45, 160x90, 320x180, ...")
@option(BuildConfig, "frames", click.IntRange(8, 1024), "Frames per clip.")
@option(
    BuildConfig,
    "fps",
    help="Frame rates clips are made at, comma-separated: numbers or `native` (the source's own); "
    "never above the source's own rate.",
)
@option(
    BuildConfig,
    "crops",
    click.IntRange(1, 64),
    "Framings per kept clip: the whole 16:9 frame and N-1 seeded random 16:9 windows.",
)
@option(
    BuildConfig,
    "context_scale",
    click.IntRange(0, MAX_CONTEXT_SCALE),
    "Keep each clip's first frame in colour at N times the clip's size (0: none).",
)
@option(BuildConfig, "stride", click.IntRange(1, 10_000), "Frames between clip starts.")
@option(BuildConfig, "clips", click.IntRange(1, 10**8), "Target clips, spread over the sources.")
@option(BuildConfig, "max_per_source", click.IntRange(1, 10**6), "At most this many per video.")
@option(BuildConfig, "min_source_fps", Number(0, 1000), "Skip videos filmed at a lower rate.")
@option(BuildConfig, "val_fraction", Number(0, 1, max_open=True), "Share of videos in val.")
@option(
    BuildConfig,
    "select_fraction",
    Number(0, 1, max_open=True),
    "Share of videos in the select split (for choosing checkpoints), after val.",
)
@option(BuildConfig, "seed", SEED, "Seed of every random choice.")
@option(BuildConfig, "engine", click.Choice(["local", "dask"]), "Where the per-video tasks run.")
@option(BuildConfig, "address", help="--engine dask: scheduler address (default: a local cluster).")
@option(
    BuildConfig,
    "workers",
    click.IntRange(1, 1024),
    "Worker processes decoding videos.",
    show_default="all cores",
)
@option(
    BuildConfig, "decoder_threads", click.IntRange(0, 256), "FFmpeg threads per worker (0: auto)."
)
@option(BuildConfig, "shard_size", click.IntRange(1, 10**6), "Clips per shard.")
@option(BuildConfig, "preview", help="Also write preview/ (contact sheet PNG, GIF grid).")
@option(
    BuildConfig,
    "dedup",
    click.Choice(list(DEDUP_MODES)),
    "Near-duplicate sources: `split` puts them in one split, `drop` keeps one of them.",
)
@option(
    BuildConfig,
    "duplicate_min_similarity",
    Number(-1, 1),
    "Two sources are the same footage at this aligned detail correlation.",
)
@DRY_RUN
@_filter_options
def build_dataset_command(dry_run: bool, **options) -> None:
    """Cut source videos into clips (32 gray frames of 80 x 45 by default) in HDF5 shards."""
    from scenegan.pipeline.build import build_dataset, summary

    filters = FilterConfig(**{name: options.pop(name) for name in FILTER_FIELDS})
    config = BuildConfig(filters=filters, **options)
    if _dry_run(config, dry_run):
        return
    stats = build_dataset(config)
    click.echo(summary(stats, config))


@cli.command("inspect")
@click.argument("dataset", type=folder(), default=Path("datasets/clips"))
@click.option("--out", type=folder(), help="For preview.png and preview.gif [DATASET/preview].")
@click.option("--count", type=click.IntRange(1, 1024), default=16, show_default=True)
@click.option("--split", type=click.Choice(SPLITS), default="train", show_default=True)
@click.option("--seed", type=SEED, default=0, show_default=True, help="Which random clips.")
@click.option(
    "--rejected",
    is_flag=True,
    help="Also run the build's filters over its sources again and write rejected.png: "
    "--per-reason random rejected candidates of each reason, with what the filters measured.",
)
@click.option("--per-reason", type=click.IntRange(1, 256), default=8, show_default=True)
def inspect_command(
    dataset: Path,
    out: Path | None,
    count: int,
    split: str,
    seed: int,
    rejected: bool,
    per_reason: int,
) -> None:
    """Write a contact sheet PNG and a GIF grid of random clips of a dataset (and, with
    --rejected, a contact sheet of the clips its filters dropped, by reason)."""
    from scenegan.pipeline.preview import write_preview
    from scenegan.pipeline.rejected import write_rejected

    paths = write_preview(dataset, out=out, count=count, split=split, seed=seed)
    if rejected:
        paths += write_rejected(dataset, out=out, per_reason=per_reason, seed=seed)
    click.echo("wrote " + ", ".join(str(p) for p in paths))


# ---------------------------------------------------------------- train (model/train)

_STEPS = click.IntRange(1, 10**9)
_WEIGHT = Number(0, 1000)


@cli.command()
@option(TrainConfig, "stage", click.Choice(STAGES))
@option(TrainConfig, "data", help="dataset folder")
@option(TrainConfig, "out", help="checkpoint folder  [default: checkpoints/<stage>]")
@option(TrainConfig, "steps", _STEPS, "train up to this step")
@option(TrainConfig, "batch_size", click.IntRange(2, 65536))
@option(TrainConfig, "lr", Number(0, 1, min_open=True))
@option(TrainConfig, "device", click.Choice(["auto", "cpu", "cuda"]))
@option(
    TrainConfig,
    "stream",
    click.Choice(["auto", "yes", "no"]),
    "read clips from the shards per batch, not into memory (auto: when they would "
    "take over a quarter of the RAM)",
)
@option(TrainConfig, "resume", help="auto | none | PATH")
@option(TrainConfig, "init", help="stage large: the small state to grow from [newest in ../small]")
@option(
    TrainConfig,
    "warm_start",
    help="a generator of this arch and stage trained at another colour or size (an exported "
    "file or a state): G starts from its weights, gray layers inflated to rgb; D from a state "
    "of the same format, else new",
)
@option(TrainConfig, "arch", ArchChoice(), arch_help())
@option(TrainConfig, "loss", click.Choice(LOSSES))
@option(TrainConfig, "seed", SEED)
@option(TrainConfig, "fade_steps", click.IntRange(0, 10**9), "stage large: steps of fade-in")
@option(
    TrainConfig,
    "ema_beta",
    Number(0, 1),
    "G_ema's decay per step (larger batches: fewer steps, so a smaller beta)",
)
@option(TrainConfig, "roughness_weight", _WEIGHT, "penalty on the motion field's gradient")
@option(TrainConfig, "residual_weight", _WEIGHT, "penalty on the mean |residual|")
@option(
    TrainConfig,
    "motion_weight",
    _WEIGHT,
    "weight of the term tying how much each region moves to the real clip of the photo",
)
@option(TrainConfig, "flow_weight", _WEIGHT, "motion arch: end-point error to the mean flow")
@option(TrainConfig, "magnitude_weight", _WEIGHT, "motion arch: L1 to the per-pixel flow speed")
@option(TrainConfig, "amount_weight", _WEIGHT, "motion arch: the amount head's log L1")
@option(
    TrainConfig,
    "still_weight",
    _WEIGHT,
    "motion arch: its speed where the real clip stood still (px a frame)",
)
@option(TrainConfig, "adversarial_weight", _WEIGHT, "D's verdict in G's loss (0: regression only)")
@option(
    TrainConfig,
    "video_fraction",
    Number(0, 1),
    "train on this share of the training videos (nested by a hash of their ids)",
)
@option(
    TrainConfig,
    "baseline_fake_weight",
    _WEIGHT,
    "motion arch: the copied and the drifting photo shown to D as fakes",
)
@option(
    TrainConfig,
    "augment",
    help="DiffAugment policy of the clips D sees: any of "
    "color,translation,cutout, or none (auto: the arch's own: all three, none for keras2019)",
)
@option(TrainConfig, "snapshot_every", _STEPS)
@option(TrainConfig, "tick_every", _STEPS)
@option(
    TrainConfig, "minutes", Number(0, 10**7), "stop (with a snapshot) after this long; 0: never"
)
@option(TrainConfig, "keep", click.IntRange(1, 10**6), "training states to keep")
@option(TrainConfig, "threads", click.IntRange(0, 4096), "CPU threads (0: default)")
@option(
    TrainConfig,
    "precision",
    click.Choice(PRECISIONS),
    "autocast dtype of the networks (auto: bf16 on CUDA, fp32 on the CPU)",
)
@option(
    TrainConfig,
    "compile",
    click.Choice(COMPILE_MODES),
    "torch.compile the networks in this mode (--compile alone: default)",
    is_flag=False,
    flag_value="default",
)
@option(TrainConfig, "channels_last", help="convolution weights and activations channels-last")
@option(
    TrainConfig,
    "width",
    Number(0, 64, min_open=True),
    "multiplier of G's and D's channels (euler, flow; 2: about 4x the weights)",
)
@option(TrainConfig, "tensorboard", help="write TensorBoard scalars")
@DRY_RUN
def train(dry_run: bool, **options) -> None:
    """Train the generator of one stage: small at half the dataset's size (40 x 23 for 80 x 45),
    then large at its size, grown from small. Colour and size come from the dataset."""
    from scenegan.model.train import parameter_counts
    from scenegan.model.train import train as run_training

    cfg = TrainConfig(**options)
    _check_device(cfg.device)
    if dry_run:
        _print_config(cfg, *parameter_counts(cfg))
        return
    _check_training_memory(cfg)
    with _training_folder(cfg):
        summary = run_training(cfg)
    click.echo(f"done at step {summary['step']}: {summary['checkpoint']}")


def _check_training_memory(cfg: TrainConfig) -> None:
    """A batch whose training step cannot fit in memory ends here, in one line."""
    from scenegan.limits import check_training_batch
    from scenegan.pipeline.shards import read_index

    index = read_index(cfg.data)
    index.close()
    # activations grow with the channels: --width 2 is about twice the memory a clip
    clip = index.fmt.stage(cfg.stage)
    check_training_batch(cfg.batch_size, clip, cfg.device, scale=max(1.0, cfg.width))


def _training_folder(cfg: TrainConfig):
    """--out made, checked to be no input, and locked while this run writes into it (by rank 0
    only: under torchrun every rank runs this command, and only rank 0 writes)."""
    import contextlib
    import os

    from scenegan.files import is_within, output_folder

    if is_within(cfg.data, cfg.out) or is_within(cfg.out, cfg.data):
        raise UserError(
            f"--out {cfg.out} and --data {cfg.data} overlap; training writes its checkpoints "
            "into a folder of their own"
        )
    if os.environ.get("RANK", "0") != "0":
        return contextlib.nullcontext()
    return output_folder(cfg.out, "--out", "train")


@cli.command()
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False))
@click.argument("out", type=click.Path(dir_okay=False))
@click.option(
    "--calibrate",
    type=click.Path(file_okay=False, exists=True),
    help="motion model: a dataset whose train clips refit its amount head and whose --split "
    "clips set its gain, so that its animations of their photos move as much as they do",
)
@click.option("--split", type=click.Choice(SPLITS), default="select", show_default=True)
@click.option("--n-clips", type=click.IntRange(1, 10**6), default=64, show_default=True)
@click.option(
    "--spread",
    type=click.Choice(CALIBRATION_SPREADS),
    default="closest",
    show_default=True,
    help="--calibrate: spread the amount head's predictions as far as best matches each "
    "photo's own amount on photos it did not see (closest), or as far as the real amounts "
    "(matched: the real mix of slow and fast scenes; a misjudged photo moves far too much)",
)
@click.option(
    "--scene-prior",
    default="Mixed_4c",
    show_default=True,
    help="--calibrate, motion model: the I3D end point whose features of the photo say where "
    "it moves and where its texture changes, fit on the dataset's clips ('none': no prior)",
)
@click.option(
    "--texture",
    type=click.Choice(TEXTURES),
    default=DEFAULT_TEXTURE,
    show_default=True,
    help="--scene-prior: how its texture change is drawn: grain (the innovation's noise added "
    "to the frames), flutter (the photo's own detail displaced by it), carried (added to the "
    "photo before the warp, so that it travels with the motion), or none",
)
@click.option(
    "--texture-gate",
    type=click.FloatRange(0, 8),
    default=DEFAULT_TEXTURE_GATE,
    show_default=True,
    help="--scene-prior: how closely the texture follows the places that move (its amplitude "
    "times their relative speed to this power; 0: where the texture regression alone says)",
)
@click.option(
    "--texture-scale",
    type=click.FloatRange(0, 4),
    default=DEFAULT_TEXTURE_SCALE,
    show_default=True,
    help="--scene-prior: times the texture gain that makes animations of the select photos "
    "change as much where their clips moved as the clips do (0.5: the most texture that did "
    "not cost FVD on the select videos, docs/experiments.md)",
)
@click.option(
    "--format",
    "file_format",
    type=click.Choice(EXPORT_FORMATS),
    default=None,
    help="safetensors: the weights, with the constructor arguments, clip format and config as "
    "JSON in the header, loaded without pickle; pt: a torch file. Default: safetensors, or pt "
    "for an OUT named .pt or .pth",
)
def export(
    checkpoint: str,
    out: str,
    calibrate: str | None,
    split: str,
    n_clips: int,
    spread: str,
    scene_prior: str,
    texture: str,
    texture_gate: float,
    texture_scale: float,
    file_format: str | None,
) -> None:
    """Write the shippable generator (EMA weights + config, no D or optimizer) of a checkpoint
    (a training state, or an exported generator to write in another format)."""
    from scenegan.files import output_lock
    from scenegan.model.checkpoint import check_export_target, export_format, export_generator

    check_export_target(Path(checkpoint), Path(out))
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    written_as = export_format(out, file_format)
    with output_lock(out, "export"):
        path = export_generator(checkpoint, out, written_as)
        if calibrate:
            from scenegan.model.calibrate import calibrate_file
            from scenegan.model.prior_fit import TextureChoice

            if scene_prior != "none":  # first: the amount is then fit on the prior's features
                choice = TextureChoice(texture, texture_gate, texture_scale)
                echo_prior(fit_prior(path, calibrate, scene_prior, choice))
            fit = calibrate_file(path, calibrate, split, n_clips, spread)
            click.echo(
                f"calibrated on {calibrate}: the amount ({fit['amount_from']}) refit on the "
                f"train clips (ridge "
                f"{fit['amount_strength']:.3g}), spread {fit['amount_spread']:.2f} ({spread}); "
                f"on the {split} clips the amount per photo is off by "
                f"{fit['amount_factor']:.2f} (as fit: {fit['unspread_factor']:.2f}, one amount "
                f"for all: {fit['constant_factor']:.2f}, matched: {fit['matched_factor']:.2f}, "
                f"closest: {fit['closest_factor']:.2f}); motion gain {fit['gain']:.3f} on "
                f"{fit['n_clips']} of them"
            )
    click.echo(f"wrote {path} ({written_as})")


def fit_prior(path: Path, data: str, end: str, texture) -> dict:
    """The scene prior of an exported motion model, from the FVD network's I3D weights, its
    texture drawn as `texture` (prior_fit.TextureChoice) says."""
    from scenegan.evaluation.fvd import load_i3d
    from scenegan.model.prior_fit import fit_prior_file
    from scenegan.model.still_inception import MIXED

    if end not in MIXED:
        raise UserError(f"--scene-prior {end!r}: one of {', '.join(MIXED)} or none")
    state = {k: v.contiguous() for k, v in load_i3d("cpu", gray=False).state_dict().items()}
    return fit_prior_file(path, data, end, state, texture)


def echo_prior(fit: dict) -> None:
    reads = "colour context" if fit["reads_context"] else "grey photo"
    click.echo(
        f"scene prior ({fit['end_point']}, {reads}): "
        f"places where corr {fit['places_where_select']:.3f} on the select clips "
        f"(ridge {fit['places_strength']:.0e}, spread {fit['places_spread']:.2f}); texture "
        f"RMS {fit['texture_rms']:.2f} grey levels, AR(1) {fit['texture_rho']:.2f}, "
        f"smoothing {fit['texture_sigma']:.2f} px, drawn as {fit['texture']} (gate "
        f"{fit['texture_gate']:g}, gain {fit['texture_gain']:.2f}); {fit['train_clips']} train "
        "clips"
    )


# ---------------------------------------------------------------- sample (model/sample)

_SPEED = Number(0, 8)


@cli.command()
@option(
    SampleConfig,
    "images",
    click.Path(path_type=Path),
    "Photo file or folder of photos (repeatable). Default: the shipped example photos.",
    multiple=True,
    flag="--image",
)
@option(
    SampleConfig,
    "checkpoint",
    help="Generator checkpoint (.safetensors or .pt), or baseline:copy / "
    "baseline:drift. Default: the shipped generator.",
)
@option(SampleConfig, "out", folder())
@option(
    SampleConfig,
    "format",
    click.Choice(FORMATS),
    "npy: the raw uint8 frames (T, H, W), or (T, H, W, 3) for colour, never scaled.",
)
@option(SampleConfig, "n", click.IntRange(1, 64), "Animations per photo (different noise).")
@option(SampleConfig, "seed", SEED, "Noise seed; same seed, same frames.")
@option(SampleConfig, "scale", click.IntRange(1, 16), "Enlarge GIF/MP4 frames K times.")
@option(SampleConfig, "resample", click.Choice(list(RESAMPLING)), "How --scale does.")
@option(SampleConfig, "grid", help="One file per photo: the photo and its animations.")
@option(
    SampleConfig, "loop", help="Seamless loop: the last frame joins frame 0 like neighbours do."
)
@option(SampleConfig, "speed", _SPEED, "Motion speed: 2 moves about twice as far, 0.5 half.")
@option(
    SampleConfig,
    "motion",
    Number(0, 20),
    "Motion model: how much the scene moves, in pixels per frame at the dataset's size "
    "(default: predicted from the photo).",
)
@option(
    SampleConfig,
    "fps",
    Number(1, 240),
    "Motion model: the frame rate to animate at (default: the dataset's); also the file's.",
)
@option(SampleConfig, "device")
@DRY_RUN
def sample(dry_run: bool, images, **options) -> None:
    """Animate photos: each becomes a clip (GIF, MP4 or npy) in --out, grey or colour and of
    the size and length the checkpoint was trained at (32 frames of 80 x 45 grey, shipped)."""
    from scenegan.files import output_folder
    from scenegan.model.sample import sample as run_sample

    config = SampleConfig(images=tuple(images), **options)
    if _dry_run(config, dry_run):
        return
    with output_folder(config.out, "--out", "sample", lock_file=False):
        run_sample(config)


# ---------------------------------------------------------------- evaluate (evaluation/evaluate)


@cli.command()
@option(EvaluateConfig, "checkpoint", help="Generator to evaluate [default: the shipped one].")
@option(EvaluateConfig, "data", folder(), "Dataset folder; --split chooses its clips.")
@option(EvaluateConfig, "out", folder())
@option(
    EvaluateConfig,
    "baseline",
    help="Another generator (e.g. a keras2019 checkpoint): one more row, named by its arch.",
)
@option(EvaluateConfig, "n_clips", click.IntRange(1, 10**6), "Held-out clips used.")
@option(EvaluateConfig, "halvings", click.IntRange(1, 10_000), "Random halvings FVD averages.")
@option(EvaluateConfig, "seed", SEED)
@option(EvaluateConfig, "fvd", help="Compute FVD (I3D).")
@option(EvaluateConfig, "fvd_cache", help="Reuse cached I3D features of identical clips.")
@option(EvaluateConfig, "split", click.Choice(SPLITS), "val: numbers to report; select: choices.")
@option(
    EvaluateConfig,
    "per_video",
    click.IntRange(0, 10**6),
    "> 0: this many clips of each video, spread over it, instead of --n-clips at random",
)
@option(
    EvaluateConfig,
    "sources",
    help="Only clips of source videos matching these "
    "comma-separated patterns, e.g. 'fire-*,sea-*'.",
)
@option(
    EvaluateConfig,
    "groups",
    help="Score the rows again per group of videos, e.g. 'fast=fire-*,sea-*;calm=clouds-*'.",
)
@option(EvaluateConfig, "loop", help="Animate with --loop and report the loop seam.")
@option(EvaluateConfig, "speed", _SPEED, "Motion speed.")
@option(EvaluateConfig, "device")
@DRY_RUN
def evaluate(dry_run: bool, **options) -> None:
    """Score generated clips against held-out real clips, with baselines, into --out."""
    from scenegan.evaluation.evaluate import evaluate as run_evaluate
    from scenegan.evaluation.report import check_report_folder
    from scenegan.files import output_lock

    config = EvaluateConfig(**options)
    if _dry_run(config, dry_run):
        return
    check_report_folder(config.out, inputs=(config.data, config.checkpoint, config.baseline))
    config.out.parent.mkdir(parents=True, exist_ok=True)
    with output_lock(config.out, "evaluate"):
        run_evaluate(config)
    click.echo(f"wrote {config.out}/report.html, report.md, report.json and plots")


# ---------------------------------------------------------------- serve (serve)


@cli.command()
@option(ServeConfig, "host", help="Address to listen on (0.0.0.0: other machines too).")
@option(ServeConfig, "port", click.IntRange(0, 65535), "Port (0: any free one).")
@option(
    ServeConfig,
    "checkpoint",
    help="Generator (.safetensors or .pt) or baseline:copy|drift [the shipped one].",
)
@option(ServeConfig, "max_upload_mb", Number(0, 1024, min_open=True), "Largest photo accepted.")
@option(
    ServeConfig,
    "max_megapixels",
    Number(0, 1000, min_open=True),
    "Largest photo accepted, read from its header before decoding.",
)
@option(ServeConfig, "decoders", click.IntRange(1, 64), "Photos decoded at once (memory).")
@option(
    ServeConfig,
    "timeout",
    Number(0, 3600, min_open=True),
    "Seconds a client may be silent (request head, upload).",
)
@option(ServeConfig, "device")
@DRY_RUN
def serve(dry_run: bool, **options) -> None:
    """Serve a page (upload a photo, watch its animations) and POST /animate for scripts."""
    config = ServeConfig(**options)
    if _dry_run(config, dry_run):
        return
    try:
        from scenegan.serve import serve as run_server
    except ImportError as error:
        if error.name not in ("starlette", "uvicorn", "python_multipart"):
            raise
        raise UserError(
            f"scenegan serve needs {error.name}: pip install 'scenegan[serve]'"
        ) from None
    run_server(config)


# ---------------------------------------------------------------- demo


@cli.command()
@option(DemoConfig, "workdir", folder())
@option(DemoConfig, "steps", click.IntRange(1, 100_000), "Training steps per stage.")
def demo(**options) -> None:
    """Offline on made-up videos: fetch (local Flickr stand-in), build, train, sample."""
    from scenegan.demo import run_demo

    for path in run_demo(DemoConfig(**options)):
        click.echo(path)


def _one_line(text: str) -> str:
    return "; ".join(line.strip() for line in str(text).splitlines() if line.strip())


def _fail(message: str, code: int) -> None:
    _close_progress_bars()
    click.echo(f"error: {_one_line(message)}", err=True)
    sys.exit(code)


def _close_progress_bars() -> None:
    """A progress bar left open by the error would take the start of the `error:` line."""
    tqdm = sys.modules.get("tqdm")
    for bar in list(getattr(getattr(tqdm, "tqdm", None), "_instances", ())):
        bar.close()


def main(args: list[str] | None = None) -> None:
    """Console-script entry point: run the group; every error a user can cause (a UserError, a
    bad option, a folder that cannot be written) ends in one `error:` line and a non-zero exit."""
    try:
        cli.main(args=args, prog_name="scenegan", standalone_mode=False)
    except UserError as error:
        _fail(str(error), 1)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.UsageError as error:
        if not (sys.argv[1:] if args is None else args):  # plain `scenegan`: the help, as ever
            error.show()
            sys.exit(error.exit_code)
        command = error.ctx.command_path if error.ctx is not None else "scenegan"
        _fail(f"{error.format_message()} (see `{command} --help`)", error.exit_code)
    except click.ClickException as error:
        _fail(error.format_message(), error.exit_code)
    except (OSError, RuntimeError, MemoryError) as error:
        # A full disk, a read-only folder, memory that ran out: by kind, whichever library
        # raised it. Every file goes through a temporary name and a rename, so nothing
        # half-written is left; say which file (or what size) and why.
        refused = resource_error(error)
        if refused is not None:
            _fail(str(refused), 1)
        if not isinstance(error, OSError):
            raise
        where = f"{error.filename}: " if error.filename else ""
        reason = error.strerror or str(error)
        if isinstance(error, FileExistsError | NotADirectoryError):
            reason += " (a file is where a folder is needed)"
        _fail(f"{where}{reason}", 1)


if __name__ == "__main__":  # `python -m scenegan.cli` and `torchrun -m scenegan.cli`
    main()
