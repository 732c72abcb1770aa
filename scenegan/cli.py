"""The `scenegan` command: a click group whose commands parse options into a frozen config
dataclass and hand it to one library function. Errors a user can fix end in one line."""

from __future__ import annotations

import sys

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


@cli.command()
@click.option("--stage", type=click.Choice(["small", "large"]), default="small", show_default=True)
@click.option("--data", default="datasets/clips", show_default=True, help="dataset folder")
@click.option("--out", default="", help="checkpoint folder  [default: checkpoints/<stage>]")
@click.option("--steps", type=int, default=20000, show_default=True, help="train up to this step")
@click.option("--batch-size", type=int, default=16, show_default=True)
@click.option("--lr", type=float, default=2e-4, show_default=True)
@click.option(
    "--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True
)
@click.option("--resume", default="auto", show_default=True, help="auto | none | PATH")
@click.option(
    "--init",
    default="",
    help="stage large: small checkpoint to grow from [default: newest in <out>/../small]",
)
@click.option("--arch", type=click.Choice(["flow", "seed"]), default="flow", show_default=True)
@click.option("--loss", type=click.Choice(["lsgan", "wgan-gp"]), default="lsgan", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--fade-steps",
    type=int,
    default=2000,
    show_default=True,
    help="stage large: steps to fade the new layers in",
)
@click.option("--snapshot-every", type=int, default=500, show_default=True)
@click.option("--tick-every", type=int, default=50, show_default=True)
@click.option(
    "--minutes",
    type=float,
    default=0.0,
    show_default=True,
    help="stop (with a snapshot) after this many minutes; 0: no limit",
)
@click.option("--keep", type=int, default=3, show_default=True, help="training states to keep")
@click.option("--threads", type=int, default=0, show_default=True, help="CPU threads (0: default)")
@click.option("--compile", "compile_", is_flag=True, help="torch.compile the networks")
@click.option("--no-tensorboard", is_flag=True, help="do not write TensorBoard scalars")
@click.option("--dry-run", is_flag=True, help="print the config and parameter counts and exit")
def train(dry_run: bool, compile_: bool, no_tensorboard: bool, **options) -> None:
    """Train the generator of one stage (small: 23 x 40, large: 45 x 80, grown from small)."""
    from scenegan.model.train import TrainConfig, describe
    from scenegan.model.train import train as run_training

    cfg = TrainConfig(compile=compile_, tensorboard=not no_tensorboard, **options)
    if dry_run:
        click.echo(describe(cfg))
        return
    summary = run_training(cfg)
    click.echo(f"done at step {summary['step']}: {summary['checkpoint']}")


@cli.command()
@click.argument("checkpoint", type=click.Path(dir_okay=False))
@click.argument("out", type=click.Path(dir_okay=False))
def export(checkpoint: str, out: str) -> None:
    """Write the shippable generator (EMA weights + config, no D or optimizer) of a checkpoint."""
    from scenegan.model.checkpoint import export_generator

    path = export_generator(checkpoint, out)
    click.echo(f"wrote {path}")


# ---------------------------------------------------------------- sample (model/sample)


# ---------------------------------------------------------------- evaluate (model/evaluate)


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
