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
@click.option("--out", type=click.Path(path_type=Path), default=Path("datasets"), show_default=True)
@click.option(
    "--api-url",
    envvar="SCENEGAN_FLICKR_API_URL",
    default="https://api.flickr.com/services/rest/",
    show_default=True,
    help="Flickr REST endpoint (or SCENEGAN_FLICKR_API_URL).",
)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Download at most N.")
@click.option("--workers", type=click.IntRange(1, 4), default=2, show_default=True)
@click.option("--calls-per-second", type=float, default=1.0, show_default=True)
@click.option("--rate-limit", type=float, default=None, help="Download bytes per second.")
@click.option("--min-duration", type=float, default=0.0, show_default=True, help="Seconds.")
@click.option("--max-duration", type=float, default=float("inf"), help="Seconds.")
@click.option("--retry-failed", is_flag=True, help="Download videos that failed before again.")
@click.option("--dry-run", is_flag=True, help="Search, list what would be downloaded, stop.")
def fetch(tags: str, licenses: str, **options: object) -> None:
    """Search Flickr for scenery videos by tag and download them into OUT with a manifest.

    The key comes from FLICKR_API_KEY / FLICKR_API_SECRET (or ~/.config/scenegan/flickr.json).
    """
    from scenegan.pipeline.fetch import FetchConfig, load_credentials, run_fetch

    config = FetchConfig(tags=_split_csv(tags), licenses=_split_csv(licenses), **options)
    api_key, api_secret = load_credentials()
    summary = run_fetch(config, api_key, api_secret)
    if config.dry_run:
        click.echo(f"config: {config}")
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
