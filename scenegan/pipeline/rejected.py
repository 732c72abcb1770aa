"""`scenegan inspect --rejected`: run a dataset's build filters over its sources again and show
what they dropped: a contact sheet of random rejected candidates per reason, each labelled with
what the filters measured (a build keeps no rejected clip)."""

from __future__ import annotations

import dataclasses
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
    # The same filters; no context: no rejected clip shows it, and it changes no verdict.
    extract = dataclasses.replace(ExtractConfig.of(config), context_scale=0)
    tasks = [(source, extract, per_reason) for source in sources]
    with pool_context().Pool(min(config.workers, len(sources))) as pool:
        results = pool.map(_rejected_of, tasks, chunksize=1)
    by_reason: dict[str, list] = {}
    for result, _ in results:
        for rejected in result:
            by_reason.setdefault(rejected.reason, []).append(rejected)
    duplicates = _duplicate_rows(dict(fingerprint for _, fingerprint in results), config)
    if duplicates:
        by_reason["duplicate"] = duplicates
    if not by_reason:
        raise UserError(f"the filters rejected no candidate clip of {dataset}'s sources")
    rng = np.random.default_rng(seed)
    rows, labels = [], []
    for reason in sorted(by_reason):
        found = by_reason[reason]
        picks = np.sort(rng.choice(len(found), size=min(per_reason, len(found)), replace=False))
        for pick in picks:
            rejected = found[pick]
            rows.append(luma(rejected.clip, config.clip_format()))
            labels.append(
                f"{reason} ({len(found)} sampled): {rejected.source_id} "
                f"{rejected.rate:g} fps @ {rejected.start / rejected.rate:.1f}s; "
                + _measured(rejected)
            )
    writable_folder(out, "--out")
    png = out / "rejected.png"
    with atomic_path(png) as tmp:
        contact_sheet(np.stack(rows), labels).save(tmp, format="PNG")
    return [png]


def _measured(rejected) -> str:
    """What the filters measured of a rejected clip, or the per-video note."""
    measures = rejected.measures
    if measures is None:
        return rejected.note
    return (
        f"p90 flow {measures.moving_speed:.2f} px/f, pan {measures.pan_pixels:.1f} px, "
        f"shake {measures.shake_pixels:.2f}, zoom {measures.zoom:+.3f} (fit "
        f"{measures.zoom_fit:.2f}), diff {measures.max_diff:.0f}/{measures.median_diff:.1f}"
    )


def _duplicate_rows(found: dict, config) -> list:
    """Rows of the `duplicate` section: a kept clip of each source of every duplicate pair."""
    from scenegan.pipeline.extract import RejectedClip
    from scenegan.pipeline.fingerprint import duplicate_pairs

    fingerprints = {source: fp for source, (fp, clip) in found.items() if clip is not None}
    rows = []
    for first, second, similarity in duplicate_pairs(fingerprints, config.duplicate_min_similarity):
        for source, other in ((first, second), (second, first)):
            rate, start, clip = found[source][1]
            note = f"the same footage as {other} (similarity {similarity:.2f})"
            rows.append(RejectedClip("duplicate", rate, start, None, clip, source, note))
    return rows


def _rejected_of(task) -> tuple[list, tuple]:
    """The rejected candidates one source gives (in a worker process), and its fingerprint
    with one clip it keeps (rate, start, clip), for the duplicate section."""
    import cv2

    from scenegan.pipeline.extract import extract_source

    cv2.setNumThreads(1)
    source, config, per_reason = task
    result = extract_source(source, config, rejected_sample=per_reason)
    kept = None
    if len(result.clips):
        rate = float(result.details["fps"][0])
        kept = (rate, round(result.start_times[0] * rate), result.clips[0])
    rejected = [
        dataclasses.replace(rejected, source_id=source.source_id)
        for rejected in result.rejected_clips
    ]
    fingerprint = result.fingerprint if result.fingerprint is not None else np.zeros((0, 1, 1))
    return rejected, (source.source_id, (fingerprint, kept))
