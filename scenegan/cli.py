"""The `scenegan` command: a click group whose commands parse options into a frozen config
dataclass and hand it to one library function. Errors a user can fix end in one line."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from scenegan import __version__
from scenegan.errors import UserError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="scenegan")
def cli() -> None:
    """scenegan: animate a still landscape photo into a short grayscale clip."""


# ---------------------------------------------------------------- fetch (pipeline/flickr)


# ---------------------------------------------------------------- build-dataset (pipeline)


# ---------------------------------------------------------------- train (model/train)


# ---------------------------------------------------------------- sample (model/sample)


def _print_config(config) -> None:
    import dataclasses
    import json

    fields = {k: v for k, v in dataclasses.asdict(config).items()}
    click.echo(json.dumps(fields, indent=2, default=str))


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
@click.option("--out", type=click.Path(path_type=Path), default=Path("samples"), show_default=True)
@click.option(
    "--format",
    "format_",
    type=click.Choice(["gif", "mp4", "npy"]),
    default="gif",
    show_default=True,
    help="npy: the raw uint8 frames (T, H, W), never scaled.",
)
@click.option("--n", default=1, show_default=True, help="Animations per photo (different noise).")
@click.option("--seed", type=int, default=None, help="Noise seed; same seed, same frames.")
@click.option("--scale", default=1, show_default=True, help="Enlarge GIF/MP4 frames K times.")
@click.option(
    "--resample",
    type=click.Choice(["nearest", "area", "bicubic"]),
    default="nearest",
    show_default=True,
    help="How --scale enlarges.",
)
@click.option("--grid", is_flag=True, help="One file per photo: the photo and its animations.")
@click.option("--device", default="cpu", show_default=True)
@click.option("--dry-run", is_flag=True, help="Print the configuration and exit.")
def sample(images, checkpoint, out, format_, n, seed, scale, resample, grid, device, dry_run):
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
        device=device,
    )
    if dry_run:
        _print_config(config)
        return
    run_sample(config)


# ---------------------------------------------------------------- evaluate (model/evaluate)


@cli.command()
@click.option(
    "--checkpoint",
    default=None,
    help="Generator checkpoint to evaluate (default: the shipped one, else the newest).",
)
@click.option(
    "--data",
    type=click.Path(path_type=Path),
    default=Path("datasets/clips"),
    show_default=True,
    help="Dataset folder; its val split is used.",
)
@click.option(
    "--out", type=click.Path(path_type=Path), default=Path("runs/evaluate"), show_default=True
)
@click.option("--baseline", default=None, help="Checkpoint of the seed architecture: one more row.")
@click.option("--n-clips", default=256, show_default=True, help="Held-out clips used.")
@click.option("--halvings", default=5, show_default=True, help="Random halvings FVD averages.")
@click.option("--seed", default=0, show_default=True)
@click.option("--fvd/--no-fvd", default=True, show_default=True, help="Compute FVD (I3D).")
@click.option(
    "--fvd-cache/--no-fvd-cache",
    default=True,
    show_default=True,
    help="Reuse I3D features of identical clips (real, baselines) from ~/.cache/scenegan.",
)
@click.option("--device", default="cpu", show_default=True)
@click.option("--dry-run", is_flag=True, help="Print the configuration and exit.")
def evaluate(
    checkpoint, data, out, baseline, n_clips, halvings, seed, fvd, fvd_cache, device, dry_run
):
    """Score generated clips against held-out real clips, with baselines, into --out."""
    from scenegan.model.evaluate import EvaluateConfig
    from scenegan.model.evaluate import evaluate as run_evaluate

    config = EvaluateConfig(
        data=data,
        out=out,
        checkpoint=checkpoint,
        baseline=baseline,
        n_clips=n_clips,
        halvings=halvings,
        seed=seed,
        fvd=fvd,
        device=device,
    )
    if dry_run:
        _print_config(config)
        return
    run_evaluate(config)
    click.echo(f"wrote {out}/report.md, report.json and plots")


# ---------------------------------------------------------------- demo


def main() -> None:
    """Console-script entry point: run the group, turning a UserError into one clear line."""
    try:
        cli.main(standalone_mode=False)
    except UserError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(1)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
