"""`scenegan inspect --rejected`: run a dataset's build filters over its sources again and show
what they dropped: a contact sheet of random rejected candidates per reason, each labelled with
what the filters measured (a build keeps no rejected clip)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from scenegan.errors import UserError
from scenegan.files import atomic_path, writable_folder
from scenegan.pipeline.build import dataset_build_config, list_sources
from scenegan.pipeline.engines import pool_context
from scenegan.pipeline.extract import ExtractConfig
from scenegan.pipeline.frames import luma
from scenegan.pipeline.preview import contact_sheet


def write_rejected(
    dataset: Path, out: Path | None = None, per_reason: int = 8, seed: int = 0
) -> list[Path]:
    """Run the dataset's build filters again over its sources and write `rejected.png`: up to
    `per_reason` random rejected candidates per reason, each labelled with what the filters
    measured (the clips themselves are not kept by a build). Returns its path."""
    dataset = Path(dataset)
    out = Path(out) if out is not None else dataset / "preview"
    config = dataset_build_config(dataset)
    sources = list_sources(config)
    extract = ExtractConfig.of(config)
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
