"""`scenegan sample`: animate photos with a generator checkpoint and write GIF, MP4 or npy.

Photos go through `scenegan.pipeline.frames.prepare_image`, the dataset build's own transform.
A bad photo is reported on one line and skipped; the call fails at the end if any did.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from pathlib import Path

import click
import torch

from scenegan.animation_files import size_problem, tiled_shape, write_animation
from scenegan.clip_format import ClipFormat
from scenegan.config import SampleConfig
from scenegan.errors import UserError
from scenegan.files import same_file, writable_folder
from scenegan.model.animator import EXAMPLES, Animator, controls_of, grid_frames, output_names

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


def list_images(paths: Iterable[Path]) -> list[Path]:
    """Files as given, folders expanded to the image files in them (sorted)."""
    images: list[Path] = []
    for path in paths:
        if path.is_dir():
            images.extend(p for p in sorted(path.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES)
        else:
            images.append(path)
    return images


def check_output_size(config: SampleConfig, fmt: ClipFormat) -> None:
    """Files the format cannot hold, or frames too large to make (`--n 64 --grid --scale 16`),
    are a UserError naming the limit before any photo is animated."""
    panels = config.n + 1 if config.grid else 1
    problem = size_problem(config.format, tiled_shape(fmt.shape, panels, panels), config.scale)
    if problem:
        asked = f"--n {config.n}{' --grid' if config.grid else ''} --scale {config.scale}"
        raise UserError(
            f"{asked} --format {config.format} makes {problem}; use a smaller --scale"
            f"{', fewer --n or no --grid' if config.grid else ''}"
        )


def output_stems(images: list[Path]) -> list[str]:
    """The name each photo's files start with: its own, `_` added for a second `sea.jpg` of
    another folder (given for every photo, so the names do not depend on which ones load)."""
    stems: list[str] = []
    for path in images:
        stem = path.stem
        while stem in stems:
            stem += "_"
        stems.append(stem)
    return stems


def check_outputs_are_not_inputs(images: list[Path], stems: list[str], config: SampleConfig):
    """A file sample would write that is one of its photos (`--image DIR --out DIR` with a
    `sea.gif` among them) is a UserError before anything is written."""
    for stem in stems:
        for name in output_names(stem, config.n, config.grid):
            target = config.out / f"{name}.{config.format}"
            if target.exists() and any(same_file(target, image) for image in images):
                raise UserError(
                    f"{target} is one of the photos to animate, and its animation would be "
                    "written over it; give another --out"
                )


def sample(
    config: SampleConfig, generator: tuple[torch.nn.Module, dict] | None = None
) -> list[Path]:
    """Animate every photo of `config`; returns the files written.

    `generator` (G, info) replaces loading `config.checkpoint` (for callers holding a model).
    Photos that cannot be read are reported on stderr one `skipped` line each; if any were,
    a UserError is raised after the others are written.
    """
    animator = Animator.load(config.checkpoint, device=config.device, given=generator)
    fps = animator.plays_at(config.fps)
    seed = config.seed if config.seed is not None else random.randrange(2**31)
    images = list_images(config.images) if config.images else sorted(EXAMPLES.glob("*.jpg"))
    if not images:
        where = ", ".join(map(str, config.images)) if config.images else str(EXAMPLES)
        raise UserError(f"no photos found in {where}; pass --image PATH")
    check_output_size(config, animator.fmt)
    writable_folder(config.out, "--out")
    stems = output_stems(images)
    check_outputs_are_not_inputs(images, stems, config)
    written: list[Path] = []
    failed: list[Path] = []
    for path, stem in zip(images, stems, strict=True):
        try:
            photo = animator.photo(path)
        except UserError as error:
            click.echo(f"skipped {error}", err=True)
            failed.append(path)
            continue
        animations = animator.animations(photo, config.n, seed, **controls_of(config))
        panels = [grid_frames(photo, animations)] if config.grid else list(animations)
        for name, frames in zip(output_names(stem, config.n, config.grid), panels, strict=True):
            out_path = config.out / f"{name}.{config.format}"
            written.append(
                write_animation(
                    out_path, frames, fps=fps, scale=config.scale, resample=config.resample
                )
            )
    if written:
        click.echo(
            f"wrote {len(written)} file(s) to {config.out}/ "
            f"({animator.source}, seed {seed}, {fps:g} fps)"
        )
    if failed:
        raise UserError(
            f"{len(failed)} of {len(images)} photo(s) could not be animated (see `skipped` above)"
        )
    return written
