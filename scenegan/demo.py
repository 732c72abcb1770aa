"""`scenegan demo`: the whole chain offline on tiny data the project makes itself.

Procedural scenery videos -> build-dataset -> train small -> train large (grown from small) ->
export -> sample the shipped example photos. Every stage runs its real code; only the data is
tiny and the training short, so the animations show the plumbing, not a good model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click


@dataclass(frozen=True)
class DemoConfig:
    """Where the demo works and how long it trains."""

    workdir: Path = Path("demo")
    n_videos: int = 6
    steps: int = 20  # per stage
    batch_size: int = 4


def run_demo(config: DemoConfig) -> list[Path]:
    """Run every stage once; returns the GIFs it wrote."""
    from scenegan.model.checkpoint import export_generator, find_latest
    from scenegan.model.sample import SampleConfig, sample
    from scenegan.model.train import TrainConfig, train
    from scenegan.pipeline.build import BuildConfig, build_dataset
    from scenegan.pipeline.synthetic import write_scenery

    root = config.workdir
    click.echo(f"[1/5] writing {config.n_videos} procedural scenery videos into {root}/videos")
    write_scenery(root / "videos", n_videos=config.n_videos)
    click.echo("[2/5] scenegan build-dataset")
    build_dataset(BuildConfig(out=root / "clips", videos=root / "videos", val_fraction=0.3))
    for stage in ("small", "large"):
        click.echo(f"[3/5] scenegan train --stage {stage} ({config.steps} steps)")
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
    click.echo("[4/5] scenegan export")
    generator = root / "checkpoints" / "demo-generator.pt"
    export_generator(find_latest(root / "checkpoints" / "large"), generator)
    click.echo("[5/5] scenegan sample")
    return sample(SampleConfig(checkpoint=str(generator), out=root / "samples", seed=0))
