"""Look at a dataset: a contact sheet PNG (one row of frames per clip, labelled with its source,
frame rate and measured motion) and an animated GIF grid of the same random clips; and, with
`--rejected`, a contact sheet of the candidate clips the build's filters dropped, by reason."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from scenegan.animation_files import tile, upscale, write_gif
from scenegan.errors import UserError
from scenegan.files import atomic_path, writable_folder
from scenegan.pipeline.frames import luma
from scenegan.pipeline.shards import open_shard, read_index, rebuild_hint

SHEET_FRAMES = 8  # frames shown per clip on the contact sheet, evenly spaced
GAP = 2  # pixels between tiles
LABEL_HEIGHT = 12
GIF_SCALE = 2  # the GIF grid is shown at twice the clip size


def sample_clips(
    dataset: Path, count: int, split: str, seed: int
) -> tuple[np.ndarray, list[str], list[float], list[str]]:
    """`count` random clips of a split (fewer if it has fewer): clips, source ids, start times,
    and what each clip's details say (frame rate, motion, crop window)."""
    index = read_index(dataset)
    sizes = [(dataset / s["file"], s["n_clips"]) for s in index.shards if s["split"] == split]
    total = sum(n for _, n in sizes)
    if total == 0:
        raise UserError(f"the {split} split of {dataset} has no clips to preview")
    rng = np.random.default_rng(seed)
    picks = np.sort(rng.choice(total, size=min(count, total), replace=False))
    clips, sources, starts, notes = [], [], [], []
    offset = 0
    for path, n in sizes:
        local = picks[(picks >= offset) & (picks < offset + n)] - offset
        if len(local):
            with open_shard(path) as f:
                try:
                    for i in local:
                        clips.append(f["clips"][i])
                        source = f["source_id"][i]
                        sources.append(source.decode() if isinstance(source, bytes) else source)
                        starts.append(float(f["start_time"][i]))
                        notes.append(_clip_note(f, i))
                except (OSError, KeyError) as error:
                    hint = rebuild_hint(dataset)
                    raise UserError(f"{path} is damaged ({error}); {hint}") from None
        offset += n
    return np.stack(clips), sources, starts, notes


def _clip_note(shard, row: int) -> str:
    """`25 fps, 0.31 px/f, window`: a clip's details, where its shard holds them."""
    parts = []
    if "fps" in shard:
        parts.append(f"{float(shard['fps'][row]):g} fps")
    if "motion" in shard:
        parts.append(f"{float(shard['motion'][row]):.2f} px/f")
    if "crop_box" in shard and tuple(shard["crop_box"][row]) != (0, 0, 1, 1):
        parts.append("window")
    return ", ".join(parts)


def contact_sheet(clips: np.ndarray, labels: list[str]) -> Image.Image:
    """One row per (T, H, W) gray or (T, H, W, 3) rgb clip: SHEET_FRAMES evenly spaced frames
    under a text label."""
    n_clips, n_frames, height, width = clips.shape[:4]
    columns = np.linspace(0, n_frames - 1, SHEET_FRAMES).round().astype(int)
    row_height = LABEL_HEIGHT + height + GAP
    sheet = np.full(
        (n_clips * row_height, SHEET_FRAMES * (width + GAP) - GAP, *clips.shape[4:]), 255, np.uint8
    )  # (rows, columns[, 3]), white between tiles
    for row, clip in enumerate(clips):
        top = row * row_height + LABEL_HEIGHT
        for column, t in enumerate(columns):
            left = column * (width + GAP)
            sheet[top : top + height, left : left + width] = clip[t]
    image = Image.fromarray(sheet)
    draw = ImageDraw.Draw(image)
    for row, label in enumerate(labels):
        draw.text((1, row * row_height), label, fill=0)
    return image


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
    clips, sources, starts, notes = sample_clips(dataset, count, split, seed)
    fps = read_index(dataset).fps
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


def write_rejected(
    dataset: Path, out: Path | None = None, per_reason: int = 8, seed: int = 0
) -> list[Path]:
    """Run the dataset's build filters again over its sources and write `rejected.png`: up to
    `per_reason` random rejected candidates per reason, each labelled with what the filters
    measured (the clips themselves are not kept by a build). Returns its path."""
    from scenegan.pipeline.build import dataset_build_config, list_sources
    from scenegan.pipeline.engines import pool_context

    dataset = Path(dataset)
    out = Path(out) if out is not None else dataset / "preview"
    config = dataset_build_config(dataset)
    sources = list_sources(config)
    extract = config.extract_config()
    tasks = [(source, extract, per_reason) for source in sources]
    with pool_context().Pool(min(config.workers, len(sources))) as pool:
        results = pool.map(_rejected_of, tasks, chunksize=1)
    by_reason: dict[str, list] = {}
    for result in results:
        for rejected in result:
            by_reason.setdefault(rejected.reason, []).append(rejected)
    if not by_reason:
        raise UserError(f"the filters rejected no candidate clip of {dataset}'s sources")
    rng = np.random.default_rng(seed)
    rows, labels = [], []
    for reason in sorted(by_reason):
        found = by_reason[reason]
        picks = np.sort(rng.choice(len(found), size=min(per_reason, len(found)), replace=False))
        for pick in picks:
            rejected, measures = found[pick], found[pick].measures
            rows.append(luma(rejected.clip, config.clip_format()))
            labels.append(
                f"{reason} ({len(found)} sampled): {rejected.source_id} "
                f"{rejected.rate:g} fps @ {rejected.start / rejected.rate:.1f}s; "
                f"p90 flow {measures.moving_speed:.2f} px/f, pan {measures.pan_pixels:.1f} px, "
                f"shake {measures.shake_pixels:.2f}, diff {measures.max_diff:.0f}/"
                f"{measures.median_diff:.1f}"
            )
    writable_folder(out, "--out")
    png = out / "rejected.png"
    with atomic_path(png) as tmp:
        contact_sheet(np.stack(rows), labels).save(tmp, format="PNG")
    return [png]


def _rejected_of(task) -> list:
    """The rejected candidates one source gives (in a worker process)."""
    import dataclasses

    import cv2

    from scenegan.pipeline.extract import extract_source

    cv2.setNumThreads(1)
    source, config, per_reason = task
    result = extract_source(source, config, rejected_sample=per_reason)
    return [
        dataclasses.replace(rejected, source_id=source.source_id)
        for rejected in result.rejected_clips
    ]
