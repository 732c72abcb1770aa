"""The dataset folder on disk: HDF5 shards of uint8 clips, `index.json` and `stats.json`.

This module is the one place that knows the layout (see README, "Dataset"): the builder writes
through it, and training and evaluation read through it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from scenegan.clip_format import CLIP, ClipFormat
from scenegan.config import SPLITS
from scenegan.errors import UserError
from scenegan.files import atomic_path, atomic_write_text

FORMAT_VERSION = 1
INDEX_NAME = "index.json"
STATS_NAME = "stats.json"


def shard_name(split: str, number: int) -> str:
    """`train-00000.h5`, `val-00003.h5`: a shard's name says its split."""
    return f"{split}-{number:05d}.h5"


def write_shard(
    path: Path,
    clips: np.ndarray,
    source_ids: Sequence[str],
    start_times: Sequence[float],
    provenance: dict[str, dict],
    fmt: ClipFormat = CLIP,
) -> None:
    """Write one shard atomically: uint8 clips (N, *fmt.shape), one gzip chunk per clip.

    `provenance` maps each source id in the shard to what is known of it (path or Flickr id,
    license, ...); it is stored as a JSON attribute so the shard describes itself.
    """
    assert clips.dtype == np.uint8 and clips.shape[1:] == fmt.shape, (
        f"clips must be uint8 (N, {', '.join(map(str, fmt.shape))}), got "
        f"{clips.dtype} {clips.shape}"
    )
    assert len(source_ids) == len(start_times) == len(clips)
    # track_times=False keeps the file bytes a function of the data alone (reproducible builds).
    with atomic_path(path) as tmp, h5py.File(tmp, "w", track_order=True) as f:
        f.create_dataset("clips", data=clips, **_clip_storage(fmt))
        _write_clip_details(f, source_ids, start_times, provenance, fmt)


def _clip_storage(fmt: ClipFormat) -> dict:
    """How `clips` is stored: one gzip chunk per clip, no time stamps."""
    return dict(chunks=(1, *fmt.shape), compression="gzip", compression_opts=4, track_times=False)


def _write_clip_details(
    f: h5py.File,
    source_ids: Sequence[str],
    start_times: Sequence[float],
    provenance: dict[str, dict],
    fmt: ClipFormat,
) -> None:
    """The per-clip source ids and start times, and the shard's self-description."""
    f.create_dataset(
        "source_id",
        data=np.array(source_ids, dtype=object),
        dtype=h5py.string_dtype(),
        track_times=False,
    )
    f.create_dataset(
        "start_time", data=np.asarray(start_times, dtype=np.float64), track_times=False
    )
    f.attrs["format_version"] = FORMAT_VERSION
    f.attrs["clip_format"] = json.dumps(fmt.to_dict())
    f.attrs["provenance"] = json.dumps(provenance, sort_keys=True)


def copy_shard(
    path: Path,
    clips: Sequence[tuple[h5py.Dataset, int]],
    source_ids: Sequence[str],
    start_times: Sequence[float],
    provenance: dict[str, dict],
    fmt: ClipFormat = CLIP,
) -> None:
    """Write one shard atomically from clips of other shards: (their `clips` dataset, row).

    Each clip's compressed chunk is copied as it is, never decompressed and compressed again,
    so gathering a dataset from per-source shards costs file I/O only. The sources must have
    been written by `write_shard` (the same chunking and filters).
    """
    assert len(source_ids) == len(start_times) == len(clips)
    with atomic_path(path) as tmp, h5py.File(tmp, "w", track_order=True) as f:
        target = f.create_dataset(
            "clips", shape=(len(clips), *fmt.shape), dtype=np.uint8, **_clip_storage(fmt)
        )
        for row, (source, index) in enumerate(clips):
            assert source.chunks == target.chunks and source.compression == target.compression
            origin = (0,) * len(fmt.shape)
            filter_mask, chunk = source.id.read_direct_chunk((index, *origin))
            target.id.write_direct_chunk((row, *origin), chunk, filter_mask)
        _write_clip_details(f, source_ids, start_times, provenance, fmt)


def remove_index(root: Path) -> None:
    """While shards are replaced there is no index: its presence means the dataset is whole."""
    (root / INDEX_NAME).unlink(missing_ok=True)


def write_index(
    root: Path, fmt: ClipFormat, fps: float, shards: list[dict], settings: dict
) -> None:
    """`index.json`, written last by a build: the format, frame rate, shards and their counts."""
    n_clips: dict[str, int] = {}
    for shard in shards:
        n_clips[shard["split"]] = n_clips.get(shard["split"], 0) + shard["n_clips"]
    index = {
        "format_version": FORMAT_VERSION,
        "clip_format": fmt.to_dict(),
        "fps": fps,
        "shards": shards,
        "n_clips": {split: n_clips.get(split, 0) for split in SPLITS},
        "config": settings,
    }
    atomic_write_text(root / INDEX_NAME, json.dumps(index, indent=1) + "\n")


@dataclass(frozen=True)
class DatasetIndex:
    """What `index.json` says: the clip format, frame rate and shards by split."""

    root: Path
    fps: float
    fmt: ClipFormat
    shards: list[dict]

    def files(self, split: str) -> list[Path]:
        return [self.root / s["file"] for s in self.shards if s["split"] == split]

    def n_clips(self, split: str) -> int:
        return sum(s["n_clips"] for s in self.shards if s["split"] == split)


def rebuild_hint(root: Path) -> str:
    return f"rebuild the dataset with `scenegan build-dataset --out {root}`"


def read_index(root: Path | str) -> DatasetIndex:
    """Read `index.json` of a dataset folder and check every shard it lists opens and holds the
    clips it says. A missing folder, a damaged index or a missing, truncated or foreign shard is
    a UserError naming the file and saying that a rebuild fixes it."""
    root = Path(root)
    path = root / INDEX_NAME
    if not path.is_file():
        raise UserError(
            f"no dataset at {root} (no {INDEX_NAME}); build one with `scenegan build-dataset`"
        )
    try:
        index = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UserError(f"{path} is damaged (not JSON: {error}); {rebuild_hint(root)}") from None
    if not isinstance(index, dict):
        raise UserError(f"{path} is damaged (not a JSON object); {rebuild_hint(root)}")
    if index.get("format_version") != FORMAT_VERSION:
        raise UserError(
            f"{path} has format version {index.get('format_version')}, "
            f"expected {FORMAT_VERSION}; {rebuild_hint(root)}"
        )
    try:
        fmt = ClipFormat.from_dict(index["clip_format"])
        fps = float(index["fps"])
        shards = [
            {"file": str(s["file"]), "split": str(s["split"]), "n_clips": int(s["n_clips"])}
            for s in index["shards"]
        ]
    except (KeyError, TypeError, ValueError) as error:
        reason = f"no {error}" if isinstance(error, KeyError) else str(error)
        raise UserError(f"{path} is damaged ({reason}); {rebuild_hint(root)}") from None
    for shard in shards:
        _check_shard(root, shard, fmt)
    return DatasetIndex(root=root, fps=fps, fmt=fmt, shards=shards)


def _check_shard(root: Path, shard: dict, fmt: ClipFormat) -> None:
    """A shard `index.json` lists must open and hold its n_clips clips of the dataset's format."""
    path = root / shard["file"]
    with open_shard(path) as f:
        clips = f.get("clips")
        if clips is None or clips.shape != (shard["n_clips"], *fmt.shape):
            found = "no clips" if clips is None else f"clips of shape {clips.shape}"
            raise UserError(
                f"{path} is damaged or from another build ({found}, {INDEX_NAME} says "
                f"{shard['n_clips']} of {fmt.shape}); {rebuild_hint(root)}"
            )


def open_shard(path: Path) -> h5py.File:
    """Open a shard read-only; a missing or damaged file is a UserError naming it."""
    root = path.parent
    if not path.is_file():
        raise UserError(f"{path} is missing ({INDEX_NAME} lists it); {rebuild_hint(root)}")
    try:
        return h5py.File(path, "r")
    except OSError as error:
        reason = str(error).split("(")[-1].rstrip(")") if "(" in str(error) else str(error)
        raise UserError(f"{path} is damaged ({reason}); {rebuild_hint(root)}") from None


def read_split(root: Path | str, split: str) -> tuple[np.ndarray, list[str]]:
    """All clips of one split in memory: (uint8 (N, *fmt.shape), source id per clip)."""
    index = read_index(root)
    clips, sources = [], []
    for path in index.files(split):
        with open_shard(path) as f:
            try:
                clips.append(f["clips"][...])
                ids = f["source_id"][...]
            except (OSError, KeyError) as error:
                raise UserError(
                    f"{path} is damaged ({error}); {rebuild_hint(index.root)}"
                ) from None
            sources.extend(s.decode() if isinstance(s, bytes) else s for s in ids)
    if not clips:
        return np.zeros((0, *index.fmt.shape), np.uint8), []
    return np.concatenate(clips), sources


MOTION_KEYS = ("mean_flow", "motion_map", "motion", "flow_std", "fps")


def read_motion(root: Path | str, split: str) -> dict[str, np.ndarray]:
    """Each clip's measured motion in one split, in `read_split`'s order: `mean_flow` (N, H, W,
    2) and `motion_map` (N, H, W) float16 pixels per frame, `motion` and `flow_std` (N,), `fps`
    (N,). Computed once from the clips and cached beside the dataset (`motion-<split>.npz`)."""
    from scenegan.pipeline.motion_fields import annotate_clip

    index = read_index(root)
    cache = index.root / f"motion-{split}.npz"
    n_clips = index.n_clips(split)
    if cache.is_file():
        with np.load(cache) as data:
            found = {key: data[key] for key in MOTION_KEYS if key in data}
        if len(found) == len(MOTION_KEYS) and len(found["motion"]) == n_clips:
            return found
    clips, _ = read_split(root, split)
    motions = [annotate_clip(clip) for clip in clips]
    height, width = index.fmt.frame_shape
    result = {
        "mean_flow": np.stack([m.mean_flow for m in motions]) if motions else np.zeros((0, height, width, 2), np.float16),
        "motion_map": np.stack([m.motion_map for m in motions]) if motions else np.zeros((0, height, width), np.float16),
        "motion": np.array([m.motion for m in motions], np.float32),
        "flow_std": np.array([m.flow_std for m in motions], np.float32),
        "fps": np.full(len(motions), index.fps, np.float32),
    }
    with atomic_path(cache) as tmp, open(tmp, "wb") as f:
        np.savez(f, **result)
    return result
