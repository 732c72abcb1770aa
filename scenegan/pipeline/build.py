"""`scenegan build-dataset`: sources -> worker processes extract clips per source (resumable
parts) -> quotas spread the clip target over sources -> split by source hash -> HDF5 shards,
`stats.json` and, last, `index.json`."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from scenegan.clip_format import CLIP
from scenegan.config import SPLITS, BuildConfig
from scenegan.errors import UserError
from scenegan.files import (
    LOCK_NAME,
    atomic_path,
    atomic_write_text,
    folder_lock,
    writable_folder,
)
from scenegan.pipeline.engines import run_tasks
from scenegan.pipeline.extract import (
    WHOLE_FRAME,
    ExtractConfig,
    SourceResult,
    extract_source,
    source_rng,
)
from scenegan.pipeline.fingerprint import duplicate_stats, group_duplicates
from scenegan.pipeline.shards import (
    INDEX_NAME,
    MOTION_CACHE_DIR,
    STATS_NAME,
    clip_details_dtypes,
    copy_shard,
    open_shard,
    remove_index,
    shard_name,
    write_index,
    write_shard,
)
from scenegan.pipeline.sources import Source, folder_sources, manifest_sources, split_of

PARTS_DIR = ".parts"  # per-source results of an unfinished or earlier build (the resume state)
SETTINGS_NAME = "settings.json"
STAGING_DIR = ".staging"  # the next dataset, until it is whole


def list_sources(config: BuildConfig) -> list[Source]:
    """The build's sources, sorted by id: a folder's videos, or the manifest's downloads."""
    if config.videos is not None:
        return folder_sources(config.videos)
    return manifest_sources(config.manifest)


def dataset_build_config(root: Path) -> BuildConfig:
    """The BuildConfig a dataset was built with, from its index.json (for `inspect --rejected`)."""
    from scenegan.config import FilterConfig
    from scenegan.pipeline.shards import read_index

    index = read_index(root)
    index.close()
    settings = dict(json.loads((root / INDEX_NAME).read_text()).get("config") or {})
    if "filters" not in settings or "videos" not in settings:
        raise UserError(f"{root}/{INDEX_NAME} does not record how it was built; rebuild it")
    known = {f.name for f in dataclasses.fields(FilterConfig)}
    filters = FilterConfig(**{k: v for k, v in settings.pop("filters").items() if k in known})
    fields = {f.name for f in dataclasses.fields(BuildConfig)}
    settings = {k: v for k, v in settings.items() if k in fields}
    for key in ("out", "videos", "manifest"):
        if settings.get(key) is not None:
            settings[key] = Path(settings[key])
    fmt = index.fmt
    return BuildConfig(
        **settings,
        filters=filters,
        color=fmt.color,
        size=fmt.size,
        frames=fmt.n_frames,
    )


def check_out(out: Path) -> None:
    """`out` must be new, empty or an earlier build (finished or not)."""
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file; give a folder for the dataset")
    if out.is_dir() and any(p.name != LOCK_NAME for p in out.iterdir()):
        if not ((out / INDEX_NAME).is_file() or (out / PARTS_DIR).is_dir()):
            raise UserError(
                f"--out {out} holds other files and is not a scenegan dataset; "
                "choose a new or empty folder"
            )


def prepare_out(out: Path, fingerprint: dict) -> Path:
    """Check `out` is new, empty or an earlier build; return its parts folder, reset if stale."""
    check_out(out)
    parts = out / PARTS_DIR
    settings = parts / SETTINGS_NAME
    wanted = json.dumps(fingerprint, sort_keys=True, indent=1)
    if parts.is_dir() and (not settings.is_file() or settings.read_text() != wanted):
        # Parts made with other options would give other clips: start the sources afresh.
        shutil.rmtree(parts)
    parts.mkdir(parents=True, exist_ok=True)
    if not settings.is_file():
        atomic_write_text(settings, wanted)
    return parts


# ---------------------------------------------------------------- per-source parts (resume)


def _part_paths(parts: Path, source: Source) -> tuple[Path, Path]:
    return parts / f"{source.key}.h5", parts / f"{source.key}.json"


def _fingerprint_path(parts: Path, source: Source) -> Path:
    return parts / f"{source.key}.fingerprint.npy"


def save_part(parts: Path, result: SourceResult, config: ExtractConfig) -> None:
    """Clips first, then the JSON that marks the source done (both renamed into place)."""
    clips_path, meta_path = _part_paths(parts, result.source)
    if len(result.clips):
        write_shard(
            clips_path,
            result.clips,
            [result.source.source_id] * len(result.clips),
            result.start_times,
            {result.source.source_id: result.source.provenance},
            config.fmt,
            result.details,
        )
    if result.fingerprint is not None:
        with atomic_path(_fingerprint_path(parts, result.source)) as tmp, open(tmp, "wb") as file:
            np.save(file, result.fingerprint, allow_pickle=False)
    meta = {
        "source_id": result.source.source_id,
        "file": _file_signature(result.source.path),
        "n_clips": len(result.clips),
        "start_times": result.start_times,
        "clip_fps": [round(float(r), 6) for r in result.details.get("fps", [])],
        "clip_window": [bool(tuple(b) != WHOLE_FRAME) for b in result.details.get("crop_box", [])],
        "n_frames": result.n_frames,
        "n_candidates": result.n_candidates,
        "rejected": dict(sorted(result.rejected.items())),
        "n_over_cap": result.n_over_cap,
        "skip_reason": result.skip_reason,
        "skip_detail": result.skip_detail,
        "damage": result.damage,
        "scene": result.scene,
    }
    atomic_write_text(meta_path, json.dumps(meta, sort_keys=True))


def load_part(parts: Path, source: Source) -> dict | None:
    """The saved result of `source`, or None when it has not been finished."""
    clips_path, meta_path = _part_paths(parts, source)
    if not meta_path.is_file():
        return None
    meta = json.loads(meta_path.read_text())
    if meta["source_id"] != source.source_id or meta.get("file") != _file_signature(source.path):
        return None  # another source with the same key, or the file changed since
    if meta["n_clips"] and not clips_path.is_file():
        return None
    return meta


def find_duplicates(sources: list[Source], metas: dict, parts: Path, config: BuildConfig) -> dict:
    """The near-duplicate sources among those that gave clips (fingerprint.group_duplicates)."""
    fingerprints = {}
    for source in sources:
        path = _fingerprint_path(parts, source)
        if metas[source.source_id]["n_clips"] and path.is_file():
            fingerprints[source.source_id] = np.load(path, allow_pickle=False)
    n_clips = {s.source_id: metas[s.source_id]["n_clips"] for s in sources}
    return group_duplicates(fingerprints, n_clips, config.duplicate_min_similarity, config.dedup)


def _file_signature(path: Path) -> list[int] | None:
    """(size, modification time) of a source file: a part is reused only for the same file."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return [stat.st_size, stat.st_mtime_ns]


def _worker_init() -> None:
    # Each worker is one decode stream; OpenCV's own threads would only compete for the cores.
    cv2.setNumThreads(1)


def _extract_to_part(task: tuple[Source, ExtractConfig, Path]) -> tuple[str, str | None]:
    source, config, parts = task
    result = extract_source(source, config)
    save_part(parts, result, config)
    return source.source_id, result.skip_reason


def _extract_to_part_alone(task: tuple[Source, ExtractConfig, Path]) -> tuple[str, str | None]:
    """A task on a worker this build did not start (a Dask cluster): it sets its threads too."""
    _worker_init()
    return _extract_to_part(task)


def extract_all(sources: list[Source], config: BuildConfig, parts: Path) -> int:
    """Extract every source that has no finished part; returns how many were extracted now."""
    todo = [s for s in sources if load_part(parts, s) is None]
    if not todo:
        return 0
    # Longest files first, so one big video does not run alone at the end.
    todo.sort(key=lambda s: (-_size(s.path), s.source_id))
    tasks = [(s, ExtractConfig.of(config), parts) for s in todo]
    function = _extract_to_part if config.engine == "local" else _extract_to_part_alone
    with tqdm(total=len(sources), initial=len(sources) - len(todo), unit="video") as bar:
        run_tasks(
            function,
            tasks,
            engine=config.engine,
            workers=config.workers,
            address=config.address,
            initializer=_worker_init,
            done=bar.update,
        )
    return len(todo)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


# ---------------------------------------------------------------- quotas, split, shards


def spread_quotas(counts: dict[str, int], target: int, seed: int) -> dict[str, int]:
    """Clips to take from each source: all of them if they fit in `target`, else an even share.

    Water-filling: every source gives min(count, q) for the largest q that fits; the few clips
    left over go one each to sources with more, in an order fixed by the seed.
    """
    if sum(counts.values()) <= target:
        return dict(counts)
    low, high = 0, max(counts.values())
    while low < high:  # largest q with sum(min(n, q)) <= target
        middle = (low + high + 1) // 2
        if sum(min(n, middle) for n in counts.values()) <= target:
            low = middle
        else:
            high = middle - 1
    quotas = {s: min(n, low) for s, n in counts.items()}
    left = target - sum(quotas.values())
    richer = sorted(
        (s for s, n in counts.items() if n > low),
        key=lambda s: source_rng(seed, s).integers(2**62),
    )
    for s in richer[:left]:
        quotas[s] += 1
    return quotas


def _write_split(
    out: Path,
    parts: Path,
    split: str,
    chosen: list[tuple[Source, np.ndarray]],
    config: BuildConfig,
) -> list[dict]:
    """Write one split's chosen clips, in a seeded shuffled order, as shards of shard_size."""
    entries = [(source, int(i)) for source, indices in chosen for i in indices]
    order = np.random.default_rng([config.seed, SPLITS.index(split)]).permutation(len(entries))
    entries = [entries[i] for i in order]
    fmt = config.clip_format()
    files: dict = {}  # part shard of each source, open read-only
    start_times: dict = {}  # and its clips' start times
    details: dict = {}  # and its per-clip details (frame rate, crop box, motion)
    # The per-clip fields stored a chunk per clip are copied as they are (copy_shard).
    kinds = [k for k, (_, shape) in clip_details_dtypes(fmt).items() if len(shape) <= 1]
    shards = []
    try:
        for number, first in enumerate(range(0, len(entries), config.shard_size)):
            batch = entries[first : first + config.shard_size]
            for source, _ in batch:
                if source.key not in files:
                    files[source.key] = open_shard(_part_paths(parts, source)[0], fmt)
                    start_times[source.key] = files[source.key].read("start_time")
                    details[source.key] = {k: files[source.key].read(k) for k in kinds}
            clips = [(files[source.key], i) for source, i in batch]
            starts = [float(start_times[source.key][i]) for source, i in batch]
            ids = [source.source_id for source, _ in batch]
            provenance = {source.source_id: source.provenance for source, _ in batch}
            rows = {k: np.stack([details[s.key][k][i] for s, i in batch]) for k in kinds}
            name = shard_name(split, number)
            copy_shard(out / name, clips, ids, starts, provenance, fmt, rows)
            shards.append({"file": name, "split": split, "n_clips": len(batch)})
    finally:
        for handle in files.values():
            handle.close()
    return shards


def assemble(sources: list[Source], config: BuildConfig, parts: Path) -> dict:
    """Parts -> shards, stats.json and index.json (written last: its presence means done)."""
    metas = {s.source_id: load_part(parts, s) for s in sources}
    duplicates = find_duplicates(sources, metas, parts, config)
    usable = {
        sid: m["n_clips"]
        for sid, m in metas.items()
        if m["n_clips"] and sid not in duplicates["dropped"]
    }
    quotas = spread_quotas(usable, config.clips, config.seed)
    chosen: dict[str, list[tuple[Source, np.ndarray]]] = {split: [] for split in SPLITS}
    for source in sources:
        quota = quotas.get(source.source_id, 0)
        if not quota:
            continue
        n = usable[source.source_id]
        rng = source_rng(config.seed + 1, source.source_id)
        indices = np.sort(rng.choice(n, size=quota, replace=False))
        # Near-duplicate sources share a split: that of their group's first id.
        group = duplicates["group"][source.source_id]
        chosen[split_of(group, config.val_fraction, config.select_fraction)].append(
            (source, indices)
        )

    (out := config.out).mkdir(parents=True, exist_ok=True)
    # The new shards, stats.json and index.json are made whole in a staging folder first: a
    # full disk or a crash while they are written leaves an earlier dataset in `out` as it was.
    staging = out / STAGING_DIR
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        shards = []
        for split in SPLITS:
            shards += _write_split(staging, parts, split, chosen[split], config)
        stats = _stats(sources, metas, quotas, chosen, config)
        stats = duplicate_stats(stats, metas, duplicates)
        atomic_write_text(staging / STATS_NAME, json.dumps(stats, indent=1, sort_keys=True) + "\n")
        fps = config.main_fps()
        if fps is None:  # `--fps native` alone: the rate most clips have
            fps = float(max(stats["clips_by_fps"].items(), key=lambda item: item[1])[0])
        write_index(
            staging, config.clip_format(), fps, shards, config.to_dict(), config.context_scale
        )
        _replace_dataset(out, staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return stats


def _replace_dataset(out: Path, staging: Path) -> None:
    """Move a staged dataset over the one in `out` by renames only (no disk space needed):
    index.json goes first and comes back last, so a reader sees a whole dataset or none."""
    remove_index(out)
    shutil.rmtree(out / "preview", ignore_errors=True)  # it showed the clips being replaced
    shutil.rmtree(out / MOTION_CACHE_DIR, ignore_errors=True)  # annotations of the old shards
    for old in sorted(out.glob("*.h5")):
        if old.name.split("-")[0] in SPLITS:
            old.unlink()
    for path in sorted(staging.iterdir()):
        if path.name != INDEX_NAME:
            os.replace(path, out / path.name)
    os.replace(staging / INDEX_NAME, out / INDEX_NAME)


def _stats(sources, metas, quotas, chosen, config: BuildConfig) -> dict:
    skipped = [
        {
            "file": s.path.name,
            "source_id": s.source_id,
            "reason": metas[s.source_id]["skip_reason"],
            "detail": metas[s.source_id]["skip_detail"],
        }
        for s in sources
        if metas[s.source_id]["skip_reason"]
    ]
    damaged = [
        {"file": s.path.name, "source_id": s.source_id, "detail": metas[s.source_id]["damage"]}
        for s in sources
        if metas[s.source_id].get("damage") and not metas[s.source_id]["skip_reason"]
    ]
    rejected: Counter = Counter()
    for meta in metas.values():
        rejected.update(meta["rejected"])
    written = {split: int(sum(len(i) for _, i in chosen[split])) for split in SPLITS}
    by_fps: Counter = Counter()
    framings: Counter = Counter()
    for split in SPLITS:
        for source, indices in chosen[split]:
            meta = metas[source.source_id]
            by_fps.update(f"{meta['clip_fps'][i]:g}" for i in indices)
            framings.update("window" if meta["clip_window"][i] else "whole" for i in indices)
    kept = sum(m["n_clips"] for m in metas.values())
    return {
        "videos_found": len(sources),
        "videos_read": len(sources) - len(skipped),
        "videos_skipped": len(skipped),
        "skipped_by_reason": dict(sorted(Counter(s["reason"] for s in skipped).items())),
        "skipped": skipped,
        "videos_damaged_used": damaged,  # cut short or damaged: the clips before the damage
        "videos_with_clips": {split: len(chosen[split]) for split in SPLITS},
        "frames_decoded": sum(m["n_frames"] for m in metas.values()),
        "clip_candidates": sum(m["n_candidates"] for m in metas.values()),
        "clips_rejected": dict(sorted(rejected.items())),
        "clips_over_source_cap": sum(m["n_over_cap"] for m in metas.values()),
        "clips_over_target": kept - sum(quotas.values()),
        "clips_written": {**written, "total": sum(written.values())},
        # fps: the clip's frame rate ("native" rates as the source states them); framing: the
        # whole 16:9 frame or a crop window (--crops)
        "clips_by_fps": dict(sorted(by_fps.items(), key=lambda item: float(item[0]))),
        "clips_by_framing": {"whole": framings["whole"], "window": framings["window"]},
        "clips_target": config.clips,
        "target_reached": sum(written.values()) >= config.clips,
    }


def build_dataset(config: BuildConfig) -> dict:
    """Build (or finish building) the dataset `config` describes; returns stats.json's content.

    A second build into the same folder at the same time is refused. A build that would write no
    clip is a UserError raised before anything of an earlier dataset in `out` is touched.
    """
    config.validate()
    sources = list_sources(config)
    check_out(config.out)
    writable_folder(config.out, "--out")
    with folder_lock(config.out, "build-dataset"):
        parts = prepare_out(config.out, ExtractConfig.of(config).fingerprint())
        extract_all(sources, config, parts)
        _check_some_clips(sources, config, parts)
        stats = assemble(sources, config, parts)
    if config.preview and stats["clips_written"]["total"]:
        from scenegan.pipeline.preview import write_preview

        split = "train" if stats["clips_written"]["train"] else "val"
        write_preview(config.out, split=split, seed=config.seed)
    return stats


def _check_some_clips(sources: list[Source], config: BuildConfig, parts: Path) -> None:
    """No source gave a clip: say why (skip reasons, filter rejections), write nothing."""
    metas = [load_part(parts, s) for s in sources]
    if any(m["n_clips"] for m in metas):
        return
    skipped = Counter(m["skip_reason"] for m in metas if m["skip_reason"])
    rejected: Counter = Counter()
    for meta in metas:
        rejected.update(meta["rejected"])
    why = []
    if skipped:
        why.append("skipped " + ", ".join(f"{n} {r}" for r, n in sorted(skipped.items())))
    if rejected:
        why.append("rejected clips " + ", ".join(f"{n} {r}" for r, n in sorted(rejected.items())))
    out = config.out
    kept = f"the dataset in {out} is unchanged" if (out / INDEX_NAME).is_file() else ""
    raise UserError(
        f"no clips: none of the {len(sources)} videos gave a usable clip "
        f"({'; '.join(why) or 'no candidates'}); {kept or f'nothing was written to {out}'}"
    )


def summary(stats: dict, config: BuildConfig) -> str:
    """A few lines for the terminal: what was written, what was skipped and rejected, and why."""
    written = stats["clips_written"]
    with_clips = sum(stats["videos_with_clips"].values())
    lines = [
        f"wrote {written['total']} clips ({written['train']} train, "
        + (f"{written['select']} select, " if written.get("select") else "")
        + f"{written['val']} val) "
        f"from {with_clips} videos to {config.out}"
        + ("" if config.clip_format() == CLIP else f" ({config.clip_format().describe()})")
        + "; "
        f"{stats['videos_read']} of {stats['videos_found']} videos were usable",
    ]
    if not stats["target_reached"]:
        lines.append(
            f"the target of {stats['clips_target']} clips was not reached: the sources gave "
            f"only {written['total']} (at most {config.max_per_source} per source)"
        )
    if stats.get("videos_damaged_used"):
        lines.append(
            f"used the frames before the damage of {len(stats['videos_damaged_used'])} "
            "truncated or damaged videos; see stats.json"
        )
    if stats["videos_skipped"]:
        reasons = ", ".join(f"{n} {r}" for r, n in stats["skipped_by_reason"].items())
        lines.append(f"skipped {stats['videos_skipped']} videos ({reasons}); see stats.json")
    if stats["clips_rejected"]:
        reasons = ", ".join(f"{n} {r}" for r, n in stats["clips_rejected"].items())
        lines.append(f"rejected {sum(stats['clips_rejected'].values())} clips ({reasons})")
    return "\n".join(lines)
