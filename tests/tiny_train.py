"""The tiny TrainConfig the model tests train with, in its own module so that the scripts
test_model runs in a subprocess can import it without importing a test module."""

from __future__ import annotations

from pathlib import Path

from scenegan.model.train import TrainConfig


def config(dataset: Path, out: Path, **changes) -> TrainConfig:
    base = dict(
        data=str(dataset),
        out=str(out),
        steps=2,
        batch_size=4,
        snapshot_every=2,
        tick_every=1,
        tensorboard=False,
        grid_photos=2,
        grid_noises=2,
        threads=1,  # the CPU is shared: 2 spinning threads on a busy core crawl
    )
    return TrainConfig(**(base | changes))
