"""Look at a dataset: a contact sheet PNG (one row of frames per clip, labelled with its source)
and an animated GIF grid of the same random clips."""

from __future__ import annotations

import math
import os
from pathlib import Path

import h5py
import numpy as np
from PIL import Image, ImageDraw

from scenegan.errors import UserError
from scenegan.pipeline.shards import read_index

SHEET_FRAMES = 8  # frames shown per clip on the contact sheet, evenly spaced
GAP = 2  # pixels between tiles
LABEL_HEIGHT = 12


def sample_clips(
    dataset: Path, count: int, split: str, seed: int
) -> tuple[np.ndarray, list[str], list[float]]:
    """`count` random clips of a split (fewer if it has fewer): clips, source ids, start times."""
    index = read_index(dataset)
    sizes = [(dataset / s["file"], s["n_clips"]) for s in index.shards if s["split"] == split]
    total = sum(n for _, n in sizes)
    if total == 0:
        raise UserError(f"the {split} split of {dataset} has no clips to preview")
    rng = np.random.default_rng(seed)
    picks = np.sort(rng.choice(total, size=min(count, total), replace=False))
    clips, sources, starts = [], [], []
    offset = 0
    for path, n in sizes:
        local = picks[(picks >= offset) & (picks < offset + n)] - offset
        if len(local):
            with h5py.File(path, "r") as f:
                for i in local:
                    clips.append(f["clips"][i])
                    source = f["source_id"][i]
                    sources.append(source.decode() if isinstance(source, bytes) else source)
                    starts.append(float(f["start_time"][i]))
        offset += n
    return np.stack(clips), sources, starts


def contact_sheet(clips: np.ndarray, labels: list[str]) -> Image.Image:
    """One row per (T, H, W) clip: SHEET_FRAMES evenly spaced frames under a text label."""
    n_clips, n_frames, height, width = clips.shape
    columns = np.linspace(0, n_frames - 1, SHEET_FRAMES).round().astype(int)
    row_height = LABEL_HEIGHT + height + GAP
    sheet = np.full(
        (n_clips * row_height, SHEET_FRAMES * (width + GAP) - GAP), 255, np.uint8
    )  # (rows, columns) gray
    for row, clip in enumerate(clips):
        top = row * row_height + LABEL_HEIGHT
        for column, t in enumerate(columns):
            left = column * (width + GAP)
            sheet[top : top + height, left : left + width] = clip[t]
    image = Image.fromarray(sheet, mode="L")
    draw = ImageDraw.Draw(image)
    for row, label in enumerate(labels):
        draw.text((1, row * row_height), label, fill=0)
    return image


def gif_grid(clips: np.ndarray, scale: int = 2) -> list[Image.Image]:
    """Animated grid of clips, as a list of frames (each a square-ish mosaic of all clips)."""
    n_clips, n_frames, height, width = clips.shape
    columns = math.ceil(math.sqrt(n_clips))
    rows = math.ceil(n_clips / columns)
    mosaic = np.zeros(
        (n_frames, rows * (height + GAP) - GAP, columns * (width + GAP) - GAP), np.uint8
    )  # (T, H, W)
    for i, clip in enumerate(clips):
        top, left = (i // columns) * (height + GAP), (i % columns) * (width + GAP)
        mosaic[:, top : top + height, left : left + width] = clip
    mosaic = mosaic.repeat(scale, axis=1).repeat(scale, axis=2)
    return [Image.fromarray(frame, mode="L") for frame in mosaic]


def write_preview(
    dataset: Path,
    out: Path | None = None,
    count: int = 16,
    split: str = "train",
    seed: int = 0,
) -> list[Path]:
    """Write `preview.png` and `preview.gif` of `count` random clips; return their paths."""
    dataset = Path(dataset)
    out = Path(out) if out is not None else dataset / "preview"
    out.mkdir(parents=True, exist_ok=True)
    clips, sources, starts = sample_clips(dataset, count, split, seed)
    fps = read_index(dataset).fps
    labels = [f"{source} @ {start:.1f}s" for source, start in zip(sources, starts, strict=True)]
    png, gif = out / "preview.png", out / "preview.gif"
    _save(contact_sheet(clips, labels), png)
    frames = gif_grid(clips)
    _save(
        frames[0], gif, save_all=True, append_images=frames[1:], duration=round(1000 / fps), loop=0
    )
    return [png, gif]


def _save(image: Image.Image, path: Path, **options) -> None:
    tmp = path.with_name(path.name + ".tmp")
    image.save(tmp, format=path.suffix[1:].upper(), **options)
    os.replace(tmp, path)
