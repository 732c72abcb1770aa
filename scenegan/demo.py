"""`scenegan demo`: the whole chain offline on tiny data the project makes itself.

Procedural scenery videos, served by the local Flickr stand-in the tests use -> fetch (the real
flickrapi client and yt-dlp, against 127.0.0.1) -> build-dataset from the fetch manifest -> train
small -> train large (grown from small) -> export -> sample the shipped example photos. Every
stage runs its real code; only the data is tiny and the training short, so the animations show
the plumbing, not a good model (the shipped one is
`scenegan/weights/scenegan-generator.safetensors`).
"""

from __future__ import annotations

from pathlib import Path

import click

from scenegan.config import DemoConfig


def run_demo(config: DemoConfig) -> list[Path]:
    """Run every stage once; returns the GIFs it wrote."""
    from scenegan.files import folder_lock, writable_folder

    root = writable_folder(config.workdir, "--workdir")
    with folder_lock(root, "demo"):  # two demos in one folder would mix their files
        return _run_stages(config, root)


def _run_stages(config: DemoConfig, root: Path) -> list[Path]:
    from scenegan.model.checkpoint import export_generator, find_latest
    from scenegan.model.sample import SampleConfig, sample
    from scenegan.model.train import TrainConfig, train
    from scenegan.pipeline.build import BuildConfig, build_dataset
    from scenegan.pipeline.fetch import FetchConfig, run_fetch
    from scenegan.testing.flickr_standin import FlickrStandin
    from scenegan.testing.synthetic import write_scenery

    click.echo(f"[1/6] writing {config.n_videos} procedural scenery videos into {root}/served")
    videos = write_scenery(root / "served", n_videos=config.n_videos)
    # Photo i of the stand-in shows video i; a third of them carry licenses (all rights
    # reserved, non-commercial) that fetch's default --licenses filter leaves out.
    with FlickrStandin(videos, n_photos=len(videos)) as flickr:
        click.echo(f"[2/6] scenegan fetch --tags sea,forest,waterfall,clouds from {flickr.api_url}")
        fetched = run_fetch(
            FetchConfig(
                tags=("sea", "forest", "waterfall", "clouds"),
                out=root / "fetched",
                api_url=flickr.api_url,
                calls_per_second=0,
            ),
            flickr.api_key,
            "standin-secret",
        )
    for line in fetched.lines():
        click.echo(f"      {line}")
    click.echo("[3/6] scenegan build-dataset --manifest")
    manifest = root / "fetched" / "manifest.sqlite"
    build_dataset(BuildConfig(out=root / "clips", manifest=manifest, val_fraction=0.3))
    for stage in ("small", "large"):
        click.echo(f"[4/6] scenegan train --stage {stage} ({config.steps} steps)")
        train(
            TrainConfig(
                stage=stage,
                data=str(root / "clips"),
                out=str(root / "checkpoints" / stage),
                steps=config.steps,
                batch_size=config.batch_size,
                fade_steps=config.steps // 2,
                snapshot_every=config.steps,
                tick_every=max(1, config.steps // 2),
                tensorboard=False,
                device="cpu",
            )
        )
    click.echo("[5/6] scenegan export")
    generator = root / "checkpoints" / "demo-generator.safetensors"
    export_generator(find_latest(root / "checkpoints" / "large"), generator)
    click.echo("[6/6] scenegan sample")
    return sample(SampleConfig(checkpoint=str(generator), out=root / "samples", seed=0))
