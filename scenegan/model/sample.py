"""`scenegan sample`: animate photos with a generator checkpoint and write GIF, MP4 or npy.

Photos go through `scenegan.pipeline.frames.prepare_image`, the dataset build's own transform.
A bad photo is reported on one line and skipped; the call fails at the end if any did.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

import click
import numpy as np
import torch

from scenegan.animation_files import size_problem, tile, tiled_shape, write_animation
from scenegan.clip_format import CLIP, DEFAULT_FPS, ClipFormat
from scenegan.config import SampleConfig
from scenegan.errors import UserError
from scenegan.files import same_file, writable_folder
from scenegan.model.checkpoint import find_checkpoint, load_any_generator
from scenegan.model.downsample import downsample
from scenegan.model.generate import animate, draw_noise
from scenegan.pipeline.frames import prepare_image

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


def dataset_fps(info: dict) -> float:
    """The frame rate the model was trained at, if its config records one, else DEFAULT_FPS."""
    stack: list = [info.get("config") or {}]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key in ("fps", "dataset_fps"):
                if isinstance(item.get(key), int | float) and item[key] > 0:
                    return float(item[key])
            stack.extend(item.values())
    return DEFAULT_FPS


def model_fps(G: torch.nn.Module, info: dict) -> float:
    """The frame rate a model animates at: the motion arch's own buffer, else dataset_fps."""
    fps = getattr(G, "fps", None)
    return float(fps) if isinstance(fps, torch.Tensor) else dataset_fps(info)


def amount_controls(config: SampleConfig) -> dict:
    """The motion arch's inputs that `config` sets (none: the model's own choice)."""
    return {
        key: value
        for key, value in (("motion", config.motion), ("fps", config.fps))
        if value is not None
    }


def list_images(paths: Iterable[Path]) -> list[Path]:
    """Files as given, folders expanded to the image files in them (sorted)."""
    images: list[Path] = []
    for path in paths:
        if path.is_dir():
            images.extend(p for p in sorted(path.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES)
        else:
            images.append(path)
    return images


def load_photo(path: Path, fmt: ClipFormat, dataset_fmt: ClipFormat = CLIP) -> np.ndarray:
    """Any image file Pillow reads -> uint8 fmt.image_shape ((H, W) grey or (H, W, 3) RGB), as
    clips of `dataset_fmt` are made and then (stage small) downsampled to `fmt` as training
    does: pass a generator's `G.fmt, G.dataset_fmt`."""
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    return decode_photo(path, fmt, dataset_fmt, name=str(path))


def decode_photo(
    source: Path | BinaryIO, fmt: ClipFormat, dataset_fmt: ClipFormat = CLIP, *, name: str
) -> np.ndarray:
    """`load_photo` of a file or of bytes in memory (an upload); errors begin with `name`."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(source) as image:
            image.load()
            image = ImageOps.exif_transpose(image)
            if image.mode in ("I;16", "I;16B", "I;16L", "I"):
                # 16-bit grey to 8 bits: round(x * 255 / 65535) is (x + 128) // 257 (x / 257
                # is never a tie), in integers: a quarter of float64's memory for a large photo.
                array = np.asarray(image)
                if array.dtype != np.uint16:
                    array = np.clip(array, 0, 65535)
                wide = array.astype(np.uint32)
                wide += 128
                wide //= 257
                gray = wide.astype(np.uint8)
            elif image.mode == "F":
                # float grey: scale to 8 bits by its largest value
                array = np.asarray(image, dtype=np.float64)
                top = max(float(array.max()), 1.0)
                gray = np.clip(np.rint(array * 255.0 / top), 0, 255).astype(np.uint8)
            else:
                gray = None
                rgb = np.asarray(image.convert("RGB"))
    except Image.DecompressionBombError:
        # Pillow refuses images (or headers claiming them) far above Image.MAX_IMAGE_PIXELS,
        # which would take gigabytes to decode; a photo is scaled down to a clip's size anyway.
        raise UserError(
            f"{name}: too large to open safely (over {2 * Image.MAX_IMAGE_PIXELS:,} pixels); "
            "scale it down first"
        ) from None
    except MemoryError:
        raise UserError(f"{name}: too large to decode in this machine's memory") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        if not isinstance(source, Path):  # Pillow names an in-memory file by its repr
            reason = reason.replace(f" {source!r}", "")
        raise UserError(f"{name}: not an image Pillow can read ({reason})") from None
    # As the clips were made at full size, then (stage small) downsampled as training does.
    return downsample(prepare_image(gray if gray is not None else rgb, dataset_fmt), fmt)


def grid_frames(photo: np.ndarray, animations: np.ndarray) -> np.ndarray:
    """(T, H, (K + 1) W + gaps[, 3]): the still photo, then each animation, left to right."""
    still = np.broadcast_to(photo, animations.shape[1:])[None]  # (1, T, H, W[, 3])
    return tile(np.concatenate([still, animations]), columns=len(animations) + 1)


def output_names(stem: str, n: int, grid: bool) -> list[str]:
    """`sea` -> [`sea`], or [`sea-1`, `sea-2`, ...] with n > 1, or [`sea-grid`] with --grid."""
    if grid:
        return [f"{stem}-grid"]
    return [stem] if n == 1 else [f"{stem}-{i + 1}" for i in range(n)]


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
    if generator is None:
        checkpoint = find_checkpoint(config.checkpoint)
        G, info = load_any_generator(checkpoint, config.device)
    else:
        (G, info), checkpoint = generator, "the given generator"
    fps = config.fps or model_fps(G, info)
    seed = config.seed if config.seed is not None else random.randrange(2**31)
    images = list_images(config.images) if config.images else sorted(EXAMPLES.glob("*.jpg"))
    if not images:
        where = ", ".join(map(str, config.images)) if config.images else str(EXAMPLES)
        raise UserError(f"no photos found in {where}; pass --image PATH")
    check_output_size(config, G.fmt)
    writable_folder(config.out, "--out")
    stems = output_stems(images)
    check_outputs_are_not_inputs(images, stems, config)
    written: list[Path] = []
    failed: list[Path] = []
    for path, stem in zip(images, stems, strict=True):
        try:
            photo = load_photo(path, G.fmt, G.dataset_fmt)
        except UserError as error:
            click.echo(f"skipped {error}", err=True)
            failed.append(path)
            continue
        noise = draw_noise(G, config.n, seed)
        animations = animate(
            G, photo, noise, loop=config.loop, speed=config.speed, **amount_controls(config)
        )
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
            f"({checkpoint}, seed {seed}, {fps:g} fps)"
        )
    if failed:
        raise UserError(
            f"{len(failed)} of {len(images)} photo(s) could not be animated (see `skipped` above)"
        )
    return written
