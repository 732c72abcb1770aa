"""Look at a dataset: a contact sheet PNG (one row of frames per clip, labelled with its source,
frame rate and measured motion) and an animated GIF grid of the same random clips (rejected.py
makes the sheet of the clips the filters dropped)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from scenegan.animation_files import tile, upscale, write_gif
from scenegan.errors import UserError
from scenegan.files import atomic_path, writable_folder
from scenegan.pipeline.shards import DatasetIndex, read_fields, read_index

SHEET_FRAMES = 8  # frames shown per clip on the contact sheet, evenly spaced
GAP = 2  # pixels between tiles
LABEL_HEIGHT = 12
GIF_SCALE = 2  # the GIF grid is shown at twice the clip size


def sample_clips(
    index: DatasetIndex, count: int, split: str, seed: int
) -> tuple[np.ndarray, list[str], list[float], list[str]]:
    """`count` random clips of a split (fewer if it has fewer): clips, source ids, start times,
    and what each clip's details say (frame rate, motion, crop window) where its shards hold
    them."""
    total = index.n_clips(split)
    if total == 0:
        raise UserError(f"the {split} split of {index.root} has no clips to preview")
    rng = np.random.default_rng(seed)
    picks = np.sort(rng.choice(total, size=min(count, total), replace=False))
    details = [
        name
        for name in ("fps", "motion", "crop_box")
        if all(shard.has(name) for shard in index.split(split))
    ]
    names = ("clips", "source_id", "start_time", *details)
    fields = read_fields(index, split, names, rows=picks)
    notes = [_clip_note(fields, row) for row in range(len(fields["clips"]))]
    return fields["clips"], fields["source_id"], [float(t) for t in fields["start_time"]], notes


def _clip_note(fields: dict, row: int) -> str:
    """`25 fps, 0.31 px/f, window`: a clip's details, where its shards hold them."""
    parts = []
    if "fps" in fields:
        parts.append(f"{float(fields['fps'][row]):g} fps")
    if (speeds := fields.get("motion")) is not None:  # the field, not the arch of that name
        parts.append(f"{float(speeds[row]):.2f} px/f")
    if "crop_box" in fields and tuple(fields["crop_box"][row]) != (0, 0, 1, 1):
        parts.append("window")
    return ", ".join(parts)


def contact_sheet(clips: np.ndarray, labels: list[str]) -> Image.Image:
    """One row per (T, H, W) gray or (T, H, W, 3) rgb clip: SHEET_FRAMES evenly spaced frames
    under a text label, wrapped at the sheet's width."""
    n_clips, n_frames, height, width = clips.shape[:4]
    columns = np.linspace(0, n_frames - 1, SHEET_FRAMES).round().astype(int)
    sheet_width = SHEET_FRAMES * (width + GAP) - GAP
    measure = ImageDraw.Draw(Image.new("L", (1, 1))).textlength
    lines = [wrapped(label, sheet_width - 2, measure) for label in labels]
    tops = np.cumsum([0] + [len(text) * LABEL_HEIGHT + height + GAP for text in lines])
    sheet = np.full((tops[-1], sheet_width, *clips.shape[4:]), 255, np.uint8)  # white gaps
    for clip, text, top in zip(clips, lines, tops, strict=False):
        top += len(text) * LABEL_HEIGHT
        for column, t in enumerate(columns):
            left = column * (width + GAP)
            sheet[top : top + height, left : left + width] = clip[t]
    image = Image.fromarray(sheet)
    draw = ImageDraw.Draw(image)
    for text, top in zip(lines, tops, strict=False):
        for line, words in enumerate(text):
            draw.text((1, top + line * LABEL_HEIGHT), words, fill=0)
    return image


def wrapped(label: str, width: float, measure) -> list[str]:
    """`label` in lines of whole words no wider than `width` (by `measure`, a text's width in
    pixels; a single word wider than that gets a line of its own)."""
    lines = [""]
    for word in label.split(" "):
        joined = f"{lines[-1]} {word}" if lines[-1] else word
        if lines[-1] and measure(joined) > width:
            lines.append(word)
        else:
            lines[-1] = joined
    return lines


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
    index = read_index(dataset)
    clips, sources, starts, notes = sample_clips(index, count, split, seed)
    fps = index.fps
    writable_folder(out, "--out")
    labels = [
        f"{source} @ {start:.1f}s" + (f" ({note})" if note else "")
        for source, start, note in zip(sources, starts, notes, strict=True)
    ]
    png, gif = out / "preview.png", out / "preview.gif"
    with atomic_path(png) as tmp:
        contact_sheet(clips, labels).save(tmp, format="PNG")
    mosaic = tile(clips, columns=math.ceil(math.sqrt(len(clips))), gap=GAP)
    write_gif(gif, upscale(mosaic, GIF_SCALE), fps)
    return [png, gif]
