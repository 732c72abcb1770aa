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
