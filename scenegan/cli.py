"""The `scenegan` command: a click group whose commands parse options into a frozen config
dataclass and hand it to one library function. Errors a user can fix end in one line."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import click

from scenegan import __version__
from scenegan.errors import UserError

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


def _print_config(config) -> None:
    """What every `--dry-run` prints: the command's config dataclass as JSON."""
    import dataclasses
    import json

    click.echo(json.dumps(dataclasses.asdict(config), indent=2, default=str))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="scenegan")
def cli() -> None:
    """scenegan: animate a still landscape photo into a short grayscale clip."""


# ---------------------------------------------------------------- fetch (pipeline/flickr)


def _split_csv(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


@cli.command()
@click.option("--tags", required=True, help="Comma-separated Flickr tags, e.g. sea,forest.")
@click.option("--tag-mode", type=click.Choice(["any", "all"]), default="any", show_default=True)
@click.option(
    "--licenses",
    default="cc-by,cc-by-sa,cc0,pdm",
    show_default=True,
    help="Short names (cc-by, cc-by-sa, cc0, pdm, cc-by-nc, ...) or Flickr license ids.",
)
@click.option("--since", default=None, help="Uploaded on or after YYYY-MM-DD.")
@click.option("--until", default=None, help="Uploaded on or before YYYY-MM-DD.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("datasets"),
    show_default=True,
)
@click.option(
    "--api-url",
    envvar="SCENEGAN_FLICKR_API_URL",
    default="https://api.flickr.com/services/rest/",
    show_default=True,
    help="Flickr REST endpoint (or SCENEGAN_FLICKR_API_URL).",
)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Download at most N.")
@click.option("--workers", type=click.IntRange(1, 4), default=2, show_default=True)
@click.option("--calls-per-second", type=Number(0, 100), default=1.0, show_default=True)
@click.option(
    "--rate-limit", type=Number(0, min_open=True), default=None, help="Download bytes per second."
)
@click.option("--min-duration", type=Number(0), default=0.0, show_default=True, help="Seconds.")
@click.option(
    "--max-duration",
    type=Number(0, min_open=True, allow_inf=True),
    default=float("inf"),
    help="Seconds.",
)
@click.option("--retry-failed", is_flag=True, help="Download videos that failed before again.")
@click.option("--dry-run", is_flag=True, help="Search, list what would be downloaded, stop.")
def fetch(tags: str, licenses: str, **options: object) -> None:
    """Search Flickr for scenery videos by tag and download them into OUT with a manifest.

    The key comes from FLICKR_API_KEY / FLICKR_API_SECRET (or ~/.config/scenegan/flickr.json).
    """
    from scenegan.files import folder_lock, writable_folder
    from scenegan.pipeline.fetch import FetchConfig, load_credentials, run_fetch

    config = FetchConfig(tags=_split_csv(tags), licenses=_split_csv(licenses), **options)
    writable_folder(config.out, "--out")
    api_key, api_secret = load_credentials()
    with folder_lock(config.out, "fetch"):
        summary = run_fetch(config, api_key, api_secret)
    if config.dry_run:
        _print_config(config)
        for photo_id in summary.would_download:
            click.echo(f"would download {photo_id}")
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
# Imports kept inside this section so each command's section merges on its own.
import os  # noqa: E402

from scenegan.clip_format import DEFAULT_FPS  # noqa: E402

# Filter thresholds: (option, FilterConfig field, range, help); defaults come from FilterConfig.
_GRAY = (0, 255)
_FILTER_OPTIONS = [
    ("--cut-min-diff", "cut_min_diff", _GRAY, "Scene cut: a frame-to-frame mean abs difference,"),
    ("--cut-ratio", "cut_ratio", (1, 1000), "... and this many times the clip's median one."),
    ("--static-max-motion", "static_max_motion", _GRAY, "Static: median frame difference below."),
    ("--dark-level", "dark_level", _GRAY, "Gray level below which a pixel counts as dark."),
    ("--bright-level", "bright_level", _GRAY, "Gray level above which a pixel is blown out."),
    ("--exposure-max-fraction", "exposure_max_fraction", (0, 1), "Dark / blown out above this."),
    ("--camera-min-response", "camera_min_response", (0, 1), "Phase-correlation camera peak."),
    ("--pan-max-pixels", "pan_max_pixels", (0, 1000), "Pan: total camera drift over a clip."),
    ("--shake-max-pixels", "shake_max_pixels", (0, 1000), "Shake: std of the camera shift."),
]


def _filter_options(command):
    from scenegan.pipeline.clips import FilterConfig

    defaults = FilterConfig()
    for flag, name, (low, high), text in reversed(_FILTER_OPTIONS):
        value = getattr(defaults, name)
        kind = click.IntRange(low, high) if isinstance(value, int) else Number(low, high)
        option = click.option(flag, name, type=kind, default=value, show_default=True, help=text)
        command = option(command)
    return command


@cli.command("build-dataset")
@click.option(
    "--videos",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Build from this folder of videos instead of the fetch manifest.",
)
@click.option(
    "--manifest",
    type=click.Path(path_type=Path),
    default=Path("datasets/manifest.sqlite"),
    show_default=True,
    help="SQLite manifest written by `scenegan fetch`.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("datasets/clips"),
    show_default=True,
    help="Dataset folder to write (or to finish after an interruption).",
)
@click.option(
    "--fps",
    type=Number(0, 120, min_open=True),
    default=DEFAULT_FPS,
    show_default=True,
    help="Frame rate clips are resampled to.",
)
@click.option(
    "--stride",
    type=click.IntRange(1, 10_000),
    default=8,
    show_default=True,
    help="Frames between the starts of consecutive candidate clips.",
)
@click.option(
    "--clips",
    type=click.IntRange(1, 100_000_000),
    default=7000,
    show_default=True,
    help="Target number of clips, spread evenly over the sources.",
)
@click.option(
    "--max-per-source",
    type=click.IntRange(1, 1_000_000),
    default=32,
    show_default=True,
    help="At most this many clips from one video.",
)
@click.option(
    "--min-source-fps",
    type=Number(0, 1000),
    default=8.0,
    show_default=True,
    help="Skip videos filmed at a lower frame rate (time-lapse stills).",
)
@click.option(
    "--val-fraction",
    type=Number(0, 1, max_open=True),
    default=0.1,
    show_default=True,
    help="Share of source videos (by hash of their id) in the validation split.",
)
@click.option(
    "--select-fraction",
    type=Number(0, 1, max_open=True),
    default=0.0,
    show_default=True,
    help="Share of source videos in the selection split (for choosing checkpoints), after val.",
)
@click.option(
    "--seed", type=SEED, default=0, show_default=True, help="Seed of every random choice."
)
@click.option(
    "--workers",
    type=click.IntRange(1, 1024),
    default=os.cpu_count() or 1,
    show_default=True,
    help="Worker processes decoding videos.",
)
@click.option(
    "--decoder-threads",
    type=click.IntRange(0, 256),
    default=1,
    show_default=True,
    help="FFmpeg threads per worker (0: FFmpeg chooses).",
)
@click.option(
    "--shard-size",
    type=click.IntRange(1, 1_000_000),
    default=1000,
    show_default=True,
    help="Clips per shard.",
)
@click.option("--preview", is_flag=True, help="Also write preview/ (contact sheet PNG, GIF grid).")
@click.option("--dry-run", is_flag=True, help="Print the configuration and exit.")
@_filter_options
def build_dataset_command(dry_run: bool, preview: bool, **options) -> None:
    """Cut source videos into 32-frame gray clips and write them as HDF5 shards."""
    from scenegan.pipeline.build import BuildConfig, build_dataset, summary
    from scenegan.pipeline.clips import FilterConfig

    filters = FilterConfig(**{name: options.pop(name) for _, name, _, _ in _FILTER_OPTIONS})
    config = BuildConfig(filters=filters, preview=preview, **options)
    if dry_run:
        _print_config(config)
        return
    stats = build_dataset(config)
    click.echo(summary(stats, config))


@cli.command("inspect")
@click.argument(
    "dataset", type=click.Path(file_okay=False, path_type=Path), default=Path("datasets/clips")
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for preview.png and preview.gif (default: DATASET/preview).",
)
@click.option(
    "--count", type=click.IntRange(1, 1024), default=16, show_default=True, help="Clips to show."
)
@click.option(
    "--split", type=click.Choice(["train", "val", "select"]), default="train", show_default=True
)
@click.option("--seed", type=SEED, default=0, show_default=True, help="Which random clips.")
def inspect_command(dataset: Path, out: Path | None, count: int, split: str, seed: int) -> None:
    """Write a contact sheet PNG and a GIF grid of random clips of a dataset."""
    from scenegan.pipeline.preview import write_preview

    paths = write_preview(dataset, out=out, count=count, split=split, seed=seed)
    click.echo("wrote " + ", ".join(str(p) for p in paths))


# ---------------------------------------------------------------- train (model/train)


@cli.command()
@click.option("--stage", type=click.Choice(["small", "large"]), default="small", show_default=True)
@click.option("--data", default="datasets/clips", show_default=True, help="dataset folder")
@click.option("--out", default="", help="checkpoint folder  [default: checkpoints/<stage>]")
@click.option(
    "--steps",
    type=click.IntRange(1, 10**9),
    default=20000,
    show_default=True,
    help="train up to this step",
)
@click.option("--batch-size", type=click.IntRange(2, 65536), default=16, show_default=True)
@click.option("--lr", type=Number(0, 1, min_open=True), default=2e-4, show_default=True)
@click.option(
    "--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True
)
@click.option(
    "--stream",
    type=click.Choice(["auto", "yes", "no"]),
    default="auto",
    show_default=True,
    help="read clips from the HDF5 shards per batch instead of into memory "
    "(auto: when they would take over a quarter of the RAM)",
)
@click.option("--resume", default="auto", show_default=True, help="auto | none | PATH")
@click.option(
    "--init",
    default="",
    help="stage large: small checkpoint to grow from [default: newest in <out>/../small]",
)
@click.option(
    "--arch",
    type=click.Choice(["euler", "flow", "keras2019", "seed"]),
    default="euler",
    show_default=True,
    help="euler: a static motion field integrated over time; flow: a displacement per frame; "
    "keras2019 (alias seed): the 2019 baseline",
)
@click.option("--loss", type=click.Choice(["lsgan", "wgan-gp"]), default="lsgan", show_default=True)
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option(
    "--fade-steps",
    type=click.IntRange(0, 10**9),
    default=2000,
    show_default=True,
    help="stage large: steps to fade the new layers in",
)
@click.option(
    "--roughness-weight",
    type=Number(0, 1000),
    default=1.0,
    show_default=True,
    help="flow arch: penalty on the flow's spatial gradient (folds show as stripes)",
)
@click.option(
    "--residual-weight",
    type=Number(0, 1000),
    default=0.0,
    show_default=True,
    help="flow arch: penalty on the mean |residual| (change the warp does not explain)",
)
@click.option(
    "--motion-weight",
    type=Number(0, 1000),
    default=3.0,
    show_default=True,
    help="flow arch: weight of the term tying where and how much each clip moves to the real "
    "clip of the same photo",
)
@click.option(
    "--augment",
    default="auto",
    show_default=True,
    help="DiffAugment policy for the clips D sees: any of color,translation,cutout, or none "
    "(auto: all three for flow, none for seed)",
)
@click.option("--snapshot-every", type=click.IntRange(1, 10**9), default=500, show_default=True)
@click.option("--tick-every", type=click.IntRange(1, 10**9), default=50, show_default=True)
@click.option(
    "--minutes",
    type=Number(0, 10**7),
    default=0.0,
    show_default=True,
    help="stop (with a snapshot) after this many minutes; 0: no limit",
)
@click.option(
    "--keep",
    type=click.IntRange(1, 10**6),
    default=3,
    show_default=True,
    help="training states to keep",
)
@click.option(
    "--threads",
    type=click.IntRange(0, 4096),
    default=0,
    show_default=True,
    help="CPU threads (0: default)",
)
@click.option("--compile", "compile_", is_flag=True, help="torch.compile the networks")
@click.option("--no-tensorboard", is_flag=True, help="do not write TensorBoard scalars")
@click.option("--dry-run", is_flag=True, help="print the config and parameter counts and exit")
def train(dry_run: bool, compile_: bool, no_tensorboard: bool, **options) -> None:
    """Train the generator of one stage (small: 23 x 40, large: 45 x 80, grown from small)."""
    from scenegan.model.train import TrainConfig, describe
    from scenegan.model.train import train as run_training

    cfg = TrainConfig(compile=compile_, tensorboard=not no_tensorboard, **options)
    _check_device(cfg.device)
    if dry_run:
        click.echo(describe(cfg))
        return
    summary = run_training(cfg)
    click.echo(f"done at step {summary['step']}: {summary['checkpoint']}")


@cli.command()
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False))
@click.argument("out", type=click.Path(dir_okay=False))
def export(checkpoint: str, out: str) -> None:
    """Write the shippable generator (EMA weights + config, no D or optimizer) of a checkpoint."""
    from scenegan.model.checkpoint import export_generator

    path = export_generator(checkpoint, out)
    click.echo(f"wrote {path}")


# ---------------------------------------------------------------- sample (model/sample)


@cli.command()
@click.option(
    "--image",
    "images",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Photo file or folder of photos (repeatable). Default: the shipped example photos.",
)
@click.option(
    "--checkpoint",
    default=None,
    help="Generator checkpoint (.pt), or baseline:copy / baseline:drift. Default: "
    "checkpoints/scenegan-generator.pt, else the newest checkpoints/*.pt.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("samples"),
    show_default=True,
)
@click.option(
    "--format",
    "format_",
    type=click.Choice(["gif", "mp4", "npy"]),
    default="gif",
    show_default=True,
    help="npy: the raw uint8 frames (T, H, W), never scaled.",
)
@click.option(
    "--n",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Animations per photo (different noise).",
)
@click.option("--seed", type=SEED, default=None, help="Noise seed; same seed, same frames.")
@click.option(
    "--scale",
    type=click.IntRange(1, 16),
    default=1,
    show_default=True,
    help="Enlarge GIF/MP4 frames K times.",
)
@click.option(
    "--resample",
    type=click.Choice(["nearest", "area", "bicubic"]),
    default="nearest",
    show_default=True,
    help="How --scale enlarges.",
)
@click.option("--grid", is_flag=True, help="One file per photo: the photo and its animations.")
@click.option(
    "--loop", is_flag=True, help="Seamless loop: frame 31 joins frame 0 like neighbouring frames."
)
@click.option(
    "--speed",
    type=Number(0, 8),
    default=1.0,
    show_default=True,
    help="Motion speed: 2 moves about twice as far, 0.5 half as far.",
)
@click.option("--device", default="cpu", show_default=True)
@click.option("--dry-run", is_flag=True, help="Print the configuration and exit.")
def sample(
    images, checkpoint, out, format_, n, seed, scale, resample, grid, loop, speed, device, dry_run
):
    """Animate photos: each becomes a 32-frame grey clip (GIF, MP4 or npy) in --out."""
    from scenegan.model.sample import SampleConfig
    from scenegan.model.sample import sample as run_sample

    config = SampleConfig(
        images=tuple(images),
        checkpoint=checkpoint,
        out=out,
        format=format_,
        n=n,
        seed=seed,
        scale=scale,
        resample=resample,
        grid=grid,
        loop=loop,
        speed=speed,
        device=device,
    )
    if dry_run:
        _print_config(config)
        return
    _check_device(config.device)
    run_sample(config)


# ---------------------------------------------------------------- evaluate (evaluation/evaluate)


@cli.command()
@click.option(
    "--checkpoint",
    default=None,
    help="Generator checkpoint to evaluate (default: the shipped one, else the newest).",
)
@click.option(
    "--data",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("datasets/clips"),
    show_default=True,
    help="Dataset folder; its val split is used.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("runs/evaluate"),
    show_default=True,
)
@click.option("--baseline", default=None, help="Checkpoint of the seed architecture: one more row.")
@click.option(
    "--n-clips",
    type=click.IntRange(1, 1_000_000),
    default=256,
    show_default=True,
    help="Held-out clips used.",
)
@click.option(
    "--halvings",
    type=click.IntRange(1, 10_000),
    default=5,
    show_default=True,
    help="Random halvings FVD averages.",
)
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option("--fvd/--no-fvd", default=True, show_default=True, help="Compute FVD (I3D).")
@click.option(
    "--fvd-cache/--no-fvd-cache",
    default=True,
    show_default=True,
    help="Reuse I3D features of identical clips (real, baselines) from ~/.cache/scenegan.",
)
@click.option(
    "--split",
    type=click.Choice(["val", "select"]),
    default="val",
    show_default=True,
    help="Held-out split: val for reported numbers, select for choosing checkpoints.",
)
@click.option("--loop", is_flag=True, help="Animate with --loop and report the loop seam.")
@click.option("--speed", type=Number(0, 8), default=1.0, show_default=True, help="Motion speed.")
@click.option("--device", default="cpu", show_default=True)
@click.option("--dry-run", is_flag=True, help="Print the configuration and exit.")
def evaluate(
    checkpoint,
    data,
    out,
    baseline,
    n_clips,
    halvings,
    seed,
    fvd,
    fvd_cache,
    split,
    loop,
    speed,
    device,
    dry_run,
):
    """Score generated clips against held-out real clips, with baselines, into --out."""
    from scenegan.evaluation.evaluate import EvaluateConfig
    from scenegan.evaluation.evaluate import evaluate as run_evaluate

    config = EvaluateConfig(
        data=data,
        out=out,
        checkpoint=checkpoint,
        baseline=baseline,
        n_clips=n_clips,
        halvings=halvings,
        seed=seed,
        fvd=fvd,
        fvd_cache=fvd_cache,
        split=split,
        loop=loop,
        speed=speed,
        device=device,
    )
    if dry_run:
        _print_config(config)
        return
    _check_device(config.device)
    run_evaluate(config)
    click.echo(f"wrote {out}/report.md, report.json and plots")


# ---------------------------------------------------------------- demo


@cli.command()
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo"),
    show_default=True,
)
@click.option(
    "--steps",
    type=click.IntRange(1, 100_000),
    default=20,
    show_default=True,
    help="Training steps per stage.",
)
def demo(workdir: Path, steps: int) -> None:
    """Offline on made-up videos: fetch (local Flickr stand-in), build, train, sample."""
    from scenegan.demo import DemoConfig, run_demo

    for path in run_demo(DemoConfig(workdir=workdir, steps=steps)):
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
        if type(error).__name__ == "NoArgsIsHelpError":  # plain `scenegan`: the help, as ever
            error.show()
            sys.exit(error.exit_code)
        command = error.ctx.command_path if error.ctx is not None else "scenegan"
        _fail(f"{error.format_message()} (see `{command} --help`)", error.exit_code)
    except click.ClickException as error:
        _fail(error.format_message(), error.exit_code)
    except OSError as error:
        # A read-only folder or a full disk while writing: every file goes through a temporary
        # name and a rename, so nothing half-written is left; say which file and why.
        where = f"{error.filename}: " if error.filename else ""
        reason = error.strerror or str(error)
        if isinstance(error, FileExistsError | NotADirectoryError):
            reason += " (a file is where a folder is needed)"
        _fail(f"{where}{reason}", 1)


if __name__ == "__main__":  # `python -m scenegan.cli` and `torchrun -m scenegan.cli`
    main()
