"""The dataset folder on disk: HDF5 shards of uint8 clips, `index.json` and `stats.json`.

This module is the one place that knows the layout (see README, "Dataset"): the builder writes
through it, and training and evaluation read through it.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import h5py
import numpy as np

from scenegan.clip_format import CLIP, ClipFormat, format_problem, fps_problem
from scenegan.config import SPLITS
from scenegan.errors import UserError
from scenegan.files import atomic_write, atomic_write_text

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
    with new_h5_file(path) as f:
        f.create_dataset("clips", data=clips, **_clip_storage(fmt))
        _write_clip_details(f, source_ids, start_times, provenance, fmt)


_IMAGES = itertools.count()


@contextlib.contextmanager
def new_h5_file(path: Path) -> Iterator[h5py.File]:
    """An HDF5 file made in memory, then written to a temporary name and renamed into place.

    HDF5 never writes to the disk itself: after one failed write (a full disk) the library
    crashes the process when it exits. Its in-memory image (the same bytes it would have written
    to a file) goes through atomic_write, so a full disk is a plain OSError naming `path`. The
    cost is one shard's compressed bytes in memory, twice for a moment.
    """
    name = f"{path}.{os.getpid()}.{next(_IMAGES)}"  # only names the image; nothing is opened
    f = h5py.File(name, "w", track_order=True, driver="core", backing_store=False)
    try:
        yield f
        f.flush()
        image = f.id.get_file_image()
    finally:
        f.close()
    with atomic_write(path) as handle:
        handle.write(image)


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
    with new_h5_file(path) as f:
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
        fps = index["fps"]
        shards = [
            {"file": s["file"], "split": s["split"], "n_clips": s["n_clips"]}
            for s in index["shards"]
        ]
    except (KeyError, TypeError, ValueError) as error:
        reason = f"no {error}" if isinstance(error, KeyError) else str(error)
        raise UserError(f"{path} is damaged ({reason}); {rebuild_hint(root)}") from None
    problem = format_problem(fmt) or fps_problem(fps) or check_entries(root, shards)
    if problem:
        raise UserError(f"{path} is damaged ({problem}); {rebuild_hint(root)}")
    splits_of: dict[str, set[str]] = {}
    for shard in shards:
        for source in _check_shard(root, shard, fmt):
            splits_of.setdefault(source, set()).add(shard["split"])
    leaks = sorted(source for source, splits in splits_of.items() if len(splits) > 1)
    if leaks:
        raise UserError(
            f"{path} is damaged (source video {leaks[0]!r} has clips in "
            f"{' and '.join(sorted(splits_of[leaks[0]]))}: held-out clips would be trained on); "
            f"{rebuild_hint(root)}"
        )
    return DatasetIndex(root=root, fps=float(fps), fmt=fmt, shards=shards)


def check_entries(root: Path, shards: list[dict]) -> str | None:
    """What is wrong with the shard list of an index.json, or None. Each entry names a file of
    its own (no shard read twice), inside the dataset folder (no absolute path, no `..`, no
    link out), of a known split, with a whole number of clips."""
    seen: set[str] = set()
    inside = root.resolve()
    for shard in shards:
        name, split, n_clips = shard["file"], shard["split"], shard["n_clips"]
        if not isinstance(name, str) or not name:
            return f"a shard named {name!r}"
        relative = PurePosixPath(name)
        if relative.is_absolute() or ".." in relative.parts or "\\" in name:
            return f"shard {name!r} is not a file inside the dataset folder"
        try:
            resolved = (root / relative).resolve()
        except (OSError, RuntimeError):
            return f"shard {name!r} cannot be resolved"
        if inside not in resolved.parents:
            return f"shard {name!r} leads out of the dataset folder"
        if str(resolved) in seen:
            return f"shard {name!r} is listed twice"
        seen.add(str(resolved))
        if split not in SPLITS:
            return f"shard {name!r} has the unknown split {split!r} (splits: {', '.join(SPLITS)})"
        if type(n_clips) is not int or n_clips < 0:
            return f"shard {name!r} claims {n_clips!r} clips"
    return None


def _check_shard(root: Path, shard: dict, fmt: ClipFormat) -> list[str]:
    """A shard `index.json` lists must open and hold, as its own attributes also say, its
    n_clips uint8 clips of the dataset's format, and a source id and start time for each.
    Returns its source ids."""
    path = root / shard["file"]

    def damaged(found: str) -> UserError:
        return UserError(
            f"{path} is damaged or from another build ({found}; {INDEX_NAME} says "
            f"{shard['n_clips']} uint8 clips of {fmt.shape}); {rebuild_hint(root)}"
        )

    with open_shard(path) as f:
        clips = f.get("clips")
        if clips is None:
            raise damaged("no clips")
        if not isinstance(clips, h5py.Dataset):
            raise damaged("its clips are a group, not an array")
        if clips.dtype != np.uint8:
            raise damaged(f"clips of type {clips.dtype}")
        if clips.shape != (shard["n_clips"], *fmt.shape):
            raise damaged(f"clips of shape {clips.shape}")
        recorded = f.attrs.get("clip_format")
        try:
            same_format = recorded is None or ClipFormat.from_dict(json.loads(recorded)) == fmt
        except (TypeError, ValueError, KeyError):
            same_format = False
        if not same_format:
            raise damaged(f"its own clip_format says {recorded!r}")
        if f.attrs.get("format_version", FORMAT_VERSION) != FORMAT_VERSION:
            raise damaged(f"format version {f.attrs['format_version']!r}")
        for name in ("source_id", "start_time"):
            details = f.get(name)
            if not isinstance(details, h5py.Dataset) or details.shape != (shard["n_clips"],):
                found = "none" if details is None else getattr(details, "shape", "a group")
                raise damaged(f"{name} for {found} clips, not one per clip")
        ids = f["source_id"]
        if h5py.check_string_dtype(ids.dtype) is None and ids.dtype.kind != "S":
            raise damaged(f"source ids of type {ids.dtype}, not text")
        if f["start_time"].dtype.kind not in "fiu":
            raise damaged(f"start times of type {f['start_time'].dtype}")
        try:
            return [s.decode() if isinstance(s, bytes) else str(s) for s in ids[...]]
        except (OSError, UnicodeDecodeError) as error:
            raise damaged(f"unreadable source ids ({error})") from None


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
