"""The dataset folder on disk: HDF5 shards of uint8 clips with their per-clip details (frame
rate, crop box, motion annotations, the first frame in colour), `index.json` and `stats.json`.

This module is the one place that knows the layout (docs/dataset.md): the builder writes
through it, and training, evaluation, the preview and the build's own assembly read through it.
`read_index` reads index.json and opens and checks each shard once (its format version and
clip format attributes, its clip count); the readers (`read_split`, `read_fields`,
`read_motion`, `read_context`, `DatasetIndex.split` for streaming) take that index, so a
command opens each shard once.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import h5py
import numpy as np
from isal import isal_zlib

from scenegan.clip_format import (
    CLIP,
    ClipFormat,
    context_format,
    format_problem,
    fps_problem,
)
from scenegan.config import MAX_CONTEXT_SCALE, SPLITS
from scenegan.errors import UserError
from scenegan.files import atomic_path, atomic_write, atomic_write_text, cache_dir

# 3: per-clip `context` (the first frame in colour at `context_scale` times the clip's size)
# when the build kept it; 2: per-clip `fps`, `crop_box` and motion annotations in every shard;
# 1 (without them) is read too, its annotations computed once by read_motion. A dataset without
# context (1, 2, or 3 built with --context-scale 0) gives read_context the grey first frames.
FORMAT_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)
INDEX_NAME = "index.json"
STATS_NAME = "stats.json"
# Motion annotations computed for shards that do not hold them, kept beside the dataset.
MOTION_CACHE_DIR = "motion-cache"
# The motion annotations of a clip (pipeline/motion_fields.py), as read_motion returns them.
MOTION_KEYS = ("mean_flow", "motion_map", "motion", "flow_std")


def clip_details_dtypes(
    fmt: ClipFormat, context_scale: int = 0
) -> dict[str, tuple[np.dtype, tuple[int, ...]]]:
    """Per-clip details a shard holds beside `clips`: name -> (dtype, shape of one clip's)."""
    frame = fmt.frame_shape
    kinds = {
        "fps": (np.dtype(np.float32), ()),
        "crop_box": (np.dtype(np.float32), (4,)),  # top, left, height, width: source fractions
        "mean_flow": (np.dtype(np.float16), (*frame, 2)),
        "motion_map": (np.dtype(np.float16), frame),
        "motion": (np.dtype(np.float32), ()),
        "flow_std": (np.dtype(np.float32), ()),
    }
    if context_scale:  # the first frame in colour, (scale * H, scale * W, 3)
        kinds["context"] = (np.dtype(np.uint8), context_format(fmt, context_scale).image_shape)
    return kinds


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
    details: dict[str, np.ndarray] | None = None,
) -> None:
    """Write one shard atomically: uint8 clips (N, *fmt.shape), one deflated chunk per clip.

    `provenance` maps each source id in the shard to what is known of it (path or Flickr id,
    license, ...); it is stored as a JSON attribute so the shard describes itself. `details`
    are per-clip arrays named in clip_details_dtypes (frame rate, crop box, motion).
    """
    assert clips.dtype == np.uint8 and clips.shape[1:] == fmt.shape, (
        f"clips must be uint8 (N, {', '.join(map(str, fmt.shape))}), got "
        f"{clips.dtype} {clips.shape}"
    )
    assert len(source_ids) == len(start_times) == len(clips)
    # track_times=False keeps the file bytes a function of the data alone (reproducible builds).
    with new_h5_file(path) as f:
        _write_chunked(f, "clips", clips)
        _write_clip_details(f, source_ids, start_times, provenance, fmt, details)


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


# Chunks are deflated by ISA-L (the isal package) at this level and written as they are: the
# zlib stream HDF5's gzip filter reads, made 6x faster than zlib's level 4 for 7% more bytes
# (docs/build-speed.md has the measurement).
DEFLATE_LEVEL = 2


def _chunk_storage(shape: tuple[int, ...], dtype: np.dtype) -> dict:
    """How a per-clip field of `shape` (one clip's) is stored: one chunk per clip (a clip is read
    without the rest), deflated, the bytes of wider types shuffled first (it helps deflate on
    float16), no time stamps (track_times=False keeps a file's bytes a function of its data)."""
    return dict(
        chunks=(1, *shape),
        compression="gzip",
        compression_opts=DEFLATE_LEVEL,
        shuffle=dtype.itemsize > 1,
        track_times=False,
    )


def _write_chunked(f: h5py.File, name: str, values: np.ndarray) -> None:
    """A per-clip field, each clip's chunk shuffled and deflated here and written as it is."""
    dtype, shape = values.dtype, values.shape[1:]
    dataset = f.create_dataset(
        name, shape=values.shape, dtype=dtype, **_chunk_storage(shape, dtype)
    )
    origin = (0,) * len(shape)
    for row, value in enumerate(values):
        data = np.ascontiguousarray(value)
        if dtype.itemsize > 1:  # HDF5's shuffle: the first bytes of every value, then the second
            data = data.view(np.uint8).reshape(-1, dtype.itemsize).T
        dataset.id.write_direct_chunk(
            (row, *origin), isal_zlib.compress(data.tobytes(), DEFLATE_LEVEL)
        )


def _copy_chunked(f: h5py.File, name: str, clips: Sequence[tuple[Shard, int]]) -> None:
    """A per-clip field copied from other shards chunk by chunk, never inflated again."""
    first = clips[0][0].file[name]
    dtype, shape = first.dtype, first.shape[1:]
    target = f.create_dataset(
        name, shape=(len(clips), *shape), dtype=dtype, **_chunk_storage(shape, dtype)
    )
    origin = (0,) * len(shape)
    opened: dict[int, h5py.Dataset] = {}  # the field of each source shard, looked up once
    for row, (source, index) in enumerate(clips):
        stored = opened.get(id(source))
        if stored is None:
            stored = opened[id(source)] = source.file[name]
            assert stored.chunks == target.chunks and stored.compression == target.compression
        filter_mask, chunk = stored.id.read_direct_chunk((index, *origin))
        target.id.write_direct_chunk((row, *origin), chunk, filter_mask)


def _write_clip_details(
    f: h5py.File,
    source_ids: Sequence[str],
    start_times: Sequence[float],
    provenance: dict[str, dict],
    fmt: ClipFormat,
    details: dict[str, np.ndarray] | None = None,
    context_scale: int | None = None,
) -> None:
    """The per-clip source ids, start times and `details`, and the shard's self-description
    (`context_scale`: as `details` hold it, unless given)."""
    f.create_dataset(
        "source_id",
        data=np.array(source_ids, dtype=object),
        dtype=h5py.string_dtype(),
        track_times=False,
    )
    f.create_dataset(
        "start_time", data=np.asarray(start_times, dtype=np.float64), track_times=False
    )
    if context_scale is None:
        context_scale = details_context_scale(details or {}, fmt)
    kinds = clip_details_dtypes(fmt, context_scale)
    for name, values in (details or {}).items():
        dtype, shape = kinds[name]
        values = np.asarray(values, dtype=dtype)
        assert values.shape == (len(source_ids), *shape), f"{name}: {values.shape}"
        if len(shape) > 1 and len(values):  # images and maps: a chunk per clip
            _write_chunked(f, name, values)
        else:  # scalars and boxes: one chunk
            f.create_dataset(name, data=values, track_times=False)
    f.attrs["format_version"] = FORMAT_VERSION
    f.attrs["clip_format"] = json.dumps(fmt.to_dict())
    f.attrs["context_scale"] = context_scale
    f.attrs["provenance"] = json.dumps(provenance, sort_keys=True)


def details_context_scale(details: dict[str, np.ndarray], fmt: ClipFormat) -> int:
    """The multiple of the clip's size at which `details` hold the context (0: none)."""
    context = details.get("context")
    return 0 if context is None else int(np.shape(context)[1]) // fmt.height


def copy_shard(
    path: Path,
    clips: Sequence[tuple[Shard, int]],
    source_ids: Sequence[str],
    start_times: Sequence[float],
    provenance: dict[str, dict],
    fmt: ClipFormat = CLIP,
    details: dict[str, np.ndarray] | None = None,
) -> None:
    """Write one shard atomically from clips of other shards: (that open shard, row).

    Every field stored a chunk per clip (the clips, their context and annotation maps) is
    copied chunk by chunk as it is, never inflated and deflated again, so gathering a dataset
    from per-source shards costs file I/O only; `details` are the other per-clip fields (frame
    rate, crop box, the scalars). The sources must have been written by `write_shard`.
    """
    assert len(source_ids) == len(start_times) == len(clips) > 0
    context_scale = clips[0][0].context_scale
    kinds = clip_details_dtypes(fmt, context_scale)
    chunked = ["clips"] + [
        name for name, (_, shape) in kinds.items() if len(shape) > 1 and clips[0][0].has(name)
    ]
    with new_h5_file(path) as f:
        for name in chunked:
            _copy_chunked(f, name, clips)
        small = {name: values for name, values in (details or {}).items() if name not in chunked}
        _write_clip_details(f, source_ids, start_times, provenance, fmt, small, context_scale)


def remove_index(root: Path) -> None:
    """While shards are replaced there is no index: its presence means the dataset is whole."""
    (root / INDEX_NAME).unlink(missing_ok=True)


def write_index(
    root: Path,
    fmt: ClipFormat,
    fps: float,
    shards: list[dict],
    settings: dict,
    context_scale: int = 0,
) -> None:
    """`index.json`, written last by a build: the format, frame rate, context scale, shards and
    their counts."""
    n_clips: dict[str, int] = {}
    for shard in shards:
        n_clips[shard["split"]] = n_clips.get(shard["split"], 0) + shard["n_clips"]
    index = {
        "format_version": FORMAT_VERSION,
        "clip_format": fmt.to_dict(),
        "fps": fps,
        "context_scale": context_scale,
        "shards": shards,
        "n_clips": {split: n_clips.get(split, 0) for split in SPLITS},
        "config": settings,
    }
    atomic_write_text(root / INDEX_NAME, json.dumps(index, indent=1) + "\n")


def rebuild_hint(root: Path) -> str:
    return f"rebuild the dataset with `scenegan build-dataset --out {root}`"


class Shard:
    """One shard open read-only, checked as it opens: its `format_version` and `clip_format`
    attributes are this module's and the expected format's, and it holds `clips` of that
    format (and, where the index says how many, that many). Clips and per-clip fields are read
    by row; nothing outside this module touches the HDF5 file."""

    def __init__(
        self,
        path: Path,
        fmt: ClipFormat,
        n_clips: int | None = None,
        root: Path | None = None,
        context_scale: int | None = None,
    ):
        self.path, self.fmt = Path(path), fmt
        self.context_scale = 0  # what the shard says (checked against `context_scale` if given)
        self.root = Path(root) if root is not None else self.path.parent
        if not self.path.is_file():
            raise UserError(
                f"{self.path} is missing ({INDEX_NAME} lists it); {rebuild_hint(self.root)}"
            )
        try:
            self.file = h5py.File(self.path, "r")
        except OSError as error:
            reason = str(error).split("(")[-1].rstrip(")") if "(" in str(error) else str(error)
            raise UserError(f"{self.path} is damaged ({reason}); {self.hint}") from None
        try:
            self._check(n_clips, context_scale)
        except BaseException:
            self.file.close()
            raise

    @property
    def hint(self) -> str:
        return rebuild_hint(self.root)

    def _check(self, n_clips: int | None, context_scale: int | None) -> None:
        attrs = self.file.attrs
        version = attrs.get("format_version")
        if version is None or int(version) not in READABLE_VERSIONS:
            raise UserError(
                f"{self.path} is damaged or from another build (format version {version}, "
                f"expected {FORMAT_VERSION}); {self.hint}"
            )
        try:
            recorded = ClipFormat.from_dict(json.loads(attrs["clip_format"]))
        except (KeyError, TypeError, ValueError):
            recorded = None
        if recorded != self.fmt:
            found = "no readable clip_format" if recorded is None else recorded.describe()
            raise UserError(
                f"{self.path} is damaged or from another build ({found}, expected "
                f"{self.fmt.describe()}); {self.hint}"
            )
        clips = self.file.get("clips")
        expected = (n_clips, *self.fmt.shape) if n_clips is not None else None
        if (
            clips is None
            or not isinstance(clips, h5py.Dataset)
            or clips.shape[1:] != self.fmt.shape
            or (expected is not None and clips.shape != expected)
        ):
            if clips is None:
                found = "no clips"
            elif not isinstance(clips, h5py.Dataset):
                found = "its clips are a group, not an array"
            else:
                found = f"clips of shape {clips.shape}"
            says = f"{INDEX_NAME} says {n_clips} of" if n_clips is not None else "expected"
            raise UserError(
                f"{self.path} is damaged or from another build ({found}, {says} "
                f"{self.fmt.shape}); {self.hint}"
            )
        try:
            self.context_scale = int(attrs.get("context_scale", 0))
        except (TypeError, ValueError):
            self.context_scale = -1
        if context_scale is not None and self.context_scale != context_scale:
            raise UserError(
                f"{self.path} is damaged or from another build (context at "
                f"{attrs.get('context_scale')!r} times the clip's size, {INDEX_NAME} says "
                f"{context_scale}); {self.hint}"
            )
        if problem := self._per_clip_problem(len(clips)):
            raise UserError(
                f"{self.path} is damaged or from another build ({problem}); {self.hint}"
            )

    def _per_clip_problem(self, n_clips: int) -> str | None:
        """What is wrong with the clips' type or the per-clip fields, or None: clips are uint8
        (not float, int8, bool or byte strings, which would train as about -1 everywhere),
        `source_id` (text) and `start_time` hold one entry per clip, the optional details their
        shapes, and recorded frame rates are ones a clip can have."""
        f = self.file
        if f["clips"].dtype != np.uint8:
            return f"clips of type {f['clips'].dtype}, not uint8"
        for name in ("source_id", "start_time"):
            field = f.get(name)
            if not isinstance(field, h5py.Dataset) or field.shape != (n_clips,):
                found = "none" if field is None else getattr(field, "shape", "a group")
                return f"{name} for {found} clips, not one for each of {n_clips}"
        if (
            h5py.check_string_dtype(f["source_id"].dtype) is None
            and f["source_id"].dtype.kind != "S"
        ):
            return f"source ids of type {f['source_id'].dtype}, not text"
        if f["start_time"].dtype.kind not in "fiu":
            return f"start times of type {f['start_time'].dtype}"
        if not 0 <= self.context_scale <= MAX_CONTEXT_SCALE:
            return f"a context scale of {f.attrs.get('context_scale')!r}"
        for name, (dtype, shape) in clip_details_dtypes(self.fmt, self.context_scale).items():
            field = f.get(name)  # optional: datasets built before the details existed lack them
            if field is not None and getattr(field, "shape", None) != (n_clips, *shape):
                return f"{name} of shape {getattr(field, 'shape', 'a group')}"
            if name == "context" and field is not None and field.dtype != dtype:
                return f"a context of type {field.dtype}, not uint8"
        if "context" in f and not self.context_scale:
            return "a context but no context_scale"
        if "fps" in f and n_clips:
            bad = [rate for rate in f["fps"][...].tolist() if fps_problem(rate)]
            if bad:
                return f"a clip of {fps_problem(bad[0]).removeprefix('a frame rate of ')}"
        return None

    def __len__(self) -> int:
        return self.file["clips"].shape[0]

    def __enter__(self) -> Shard:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.file.close()

    def has(self, name: str) -> bool:
        """Whether the shard holds the per-clip field `name` (older shards lack some)."""
        return name in self.file

    def read(self, name: str, rows: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
        """A per-clip field (`clips`, `start_time`, `fps`, `mean_flow`, ...): all rows, or
        `rows` in the order given (repeats allowed). A read that fails is a UserError."""
        with self._reading():
            dataset = self.file[name]
            if rows is None:
                return dataset[...]
            # h5py reads increasing, unique rows; a batch may pick one clip twice
            unique, inverse = np.unique(np.asarray(rows, dtype=np.int64), return_inverse=True)
            if len(unique) == 0:
                return np.zeros((0, *dataset.shape[1:]), dataset.dtype)
            return dataset[unique][inverse]

    @contextlib.contextmanager
    def _reading(self):
        """A read of this shard that fails is a UserError saying so."""
        try:
            yield
        except (OSError, KeyError) as error:
            raise UserError(f"{self.path} is damaged ({error}); {self.hint}") from None

    def clips(self, rows: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
        """uint8 clips (n, *fmt.shape)."""
        return self.read("clips", rows)

    def photos(self) -> np.ndarray:
        """Frame 0 of every clip (n, *fmt.image_shape), a clip at a time: the whole clips are
        never in memory at once."""
        with self._reading():
            return self.file["clips"][:, 0]

    def context(self, rows: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
        """uint8 (n, h, w, 3): each clip's first frame in colour at the context's size, or
        (without a stored context) at the clip's size, grey in every channel for gray clips."""
        if self.has("context"):
            return self.read("context", rows)
        with self._reading():
            clips = self.file["clips"]
            if rows is None:
                first = clips[:, 0]
            else:
                unique, inverse = np.unique(np.asarray(rows, dtype=np.int64), return_inverse=True)
                first = clips[unique, 0][inverse] if len(unique) else clips[:0, 0]
        return first if self.fmt.color == "rgb" else np.repeat(first[..., None], 3, axis=-1)

    def source_ids(self, rows: Sequence[int] | np.ndarray | None = None) -> list[str]:
        return [
            s.decode() if isinstance(s, bytes) else str(s) for s in self.read("source_id", rows)
        ]

    def raw_clip(self, row: int) -> tuple[int, bytes]:
        """(filter mask, bytes) of one clip's compressed chunk, for copying it unchanged."""
        origin = (0,) * len(self.fmt.shape)
        return self.file["clips"].id.read_direct_chunk((row, *origin))


def open_shard(path: Path, fmt: ClipFormat, n_clips: int | None = None) -> Shard:
    """Open and check one shard (a dataset's or a build's part); see `Shard`."""
    return Shard(path, fmt, n_clips)


@dataclass(frozen=True)
class DatasetIndex:
    """What `index.json` says (the clip format, frame rate and shards by split), and the shards
    it lists, each opened and checked once: the readers below take an index, so a command that
    reads its index once opens each shard once."""

    root: Path
    fps: float
    fmt: ClipFormat
    shards: list[dict]
    context_scale: int = 0  # 0: no context stored (read_context gives the grey photos)
    opened: dict[str, Shard] = field(default_factory=dict, compare=False, repr=False)

    @property
    def context_fmt(self) -> ClipFormat:
        """The format of what read_context returns: RGB at context_scale (or 1) times the clip's
        size."""
        return context_format(self.fmt, self.context_scale or 1)

    def files(self, split: str) -> list[Path]:
        return [self.root / s["file"] for s in self.shards if s["split"] == split]

    def n_clips(self, split: str) -> int:
        return sum(s["n_clips"] for s in self.shards if s["split"] == split)

    def shard(self, entry: dict) -> Shard:
        """The open shard of one of `shards`' entries (opened and checked the first time)."""
        if entry["file"] not in self.opened:
            path = self.root / entry["file"]
            self.opened[entry["file"]] = Shard(
                path, self.fmt, entry["n_clips"], self.root, self.context_scale
            )
        return self.opened[entry["file"]]

    def split(self, split: str) -> list[Shard]:
        """The open shards of one split, in index order (the order of every reader's rows)."""
        return [self.shard(s) for s in self.shards if s["split"] == split]

    def close(self) -> None:
        for shard in self.opened.values():
            shard.close()
        self.opened.clear()


def read_index(root: Path | str) -> DatasetIndex:
    """Read `index.json` of a dataset folder and open and check every shard it lists (the
    index keeps them open for the readers). A missing folder, a damaged index or a missing,
    truncated or foreign shard is a UserError naming the file and saying that a rebuild fixes
    it."""
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
    if index.get("format_version") not in READABLE_VERSIONS:
        raise UserError(
            f"{path} has format version {index.get('format_version')}, "
            f"expected {FORMAT_VERSION}; {rebuild_hint(root)}"
        )
    try:
        fmt = ClipFormat.from_dict(index["clip_format"])
        fps = index["fps"]
        context_scale = index.get("context_scale", 0)
        shards = [
            {"file": s["file"], "split": s["split"], "n_clips": s["n_clips"]}
            for s in index["shards"]
        ]
    except (KeyError, TypeError, ValueError) as error:
        reason = f"no {error}" if isinstance(error, KeyError) else str(error)
        raise UserError(f"{path} is damaged ({reason}); {rebuild_hint(root)}") from None
    problem = format_problem(fmt) or fps_problem(fps) or check_entries(root, shards)
    if type(context_scale) is not int or not 0 <= context_scale <= MAX_CONTEXT_SCALE:
        problem = problem or f"a context scale of {context_scale!r}"
    if problem:
        raise UserError(f"{path} is damaged ({problem}); {rebuild_hint(root)}")
    dataset = DatasetIndex(
        root=root, fps=float(fps), fmt=fmt, shards=shards, context_scale=context_scale
    )
    try:
        # A shard copied under another name (a val shard listed as train) holds the same
        # compressed chunks: its first clip's bytes tell it, at the cost of one chunk a shard.
        first_clips: dict[bytes, str] = {}
        for entry in shards:
            shard = dataset.shard(entry)
            if not len(shard):
                continue
            digest = hashlib.sha256(shard.raw_clip(0)[1]).digest()
            same = first_clips.setdefault(digest, entry["file"])
            if same != entry["file"]:
                raise UserError(
                    f"{path} is damaged ({entry['file']} holds the same clips as {same}: they "
                    f"would be read twice, and a held-out clip trained on); {rebuild_hint(root)}"
                )
    except UserError:
        dataset.close()
        raise
    return dataset


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


def as_index(dataset: Path | str | DatasetIndex) -> DatasetIndex:
    """A reader's dataset argument: an index read already, or a folder (read now)."""
    return dataset if isinstance(dataset, DatasetIndex) else read_index(dataset)


def read_fields(
    dataset: Path | str | DatasetIndex,
    split: str,
    names: Sequence[str],
    rows: Sequence[int] | np.ndarray | None = None,
) -> dict[str, np.ndarray | list[str]]:
    """Per-clip fields of one split, in the order of its shards and their rows (every
    reader's order): all clips, or those at `rows` (0-based over the split, sorted). `source_id`
    comes as a list of str; other fields as arrays."""
    index = as_index(dataset)
    parts: dict[str, list] = {name: [] for name in names}
    offset = 0
    for shard in index.split(split):
        n = len(shard)
        local = None
        if rows is not None:
            wanted = np.asarray(rows, dtype=np.int64)
            local = wanted[(wanted >= offset) & (wanted < offset + n)] - offset
        if local is None or len(local):
            for name in names:
                if name == "source_id":
                    parts[name].append(shard.source_ids(local))
                elif name == "context":
                    parts[name].append(shard.context(local))
                else:
                    parts[name].append(shard.read(name, local))
        offset += n
    out: dict[str, np.ndarray | list[str]] = {}
    for name in names:
        if name == "source_id":
            out[name] = [sid for chunk in parts[name] for sid in chunk]
        elif parts[name]:
            out[name] = np.concatenate(parts[name])
        elif name == "clips":
            out[name] = np.zeros((0, *index.fmt.shape), np.uint8)
        elif name == "context":
            out[name] = np.zeros((0, *index.context_fmt.image_shape), np.uint8)
        else:
            out[name] = np.zeros(0)
    return out


def read_split(dataset: Path | str | DatasetIndex, split: str) -> tuple[np.ndarray, list[str]]:
    """All clips of one split in memory: (uint8 (N, *fmt.shape), source id per clip)."""
    fields = read_fields(dataset, split, ("clips", "source_id"))
    return fields["clips"], fields["source_id"]


def read_photos(dataset: Path | str | DatasetIndex, split: str) -> np.ndarray:
    """Frame 0 of every clip of a split (uint8 (N, *fmt.image_shape)), in read_split's order:
    what reads only the photos needs a 32nd of read_split's memory."""
    index = as_index(dataset)
    photos = [shard.photos() for shard in index.split(split)]
    return np.concatenate(photos) if photos else np.zeros((0, *index.fmt.image_shape), np.uint8)


def read_context(
    dataset: Path | str | DatasetIndex,
    split: str,
    rows: Sequence[int] | np.ndarray | None = None,
) -> np.ndarray:
    """Every clip's context, in read_split's order (or the clips at `rows`): uint8
    (N, *index.context_fmt.image_shape), the first frame in colour at context_scale times the
    clip's size. A dataset without context (formats 1 and 2, or --context-scale 0) gives the
    first frame at the clip's size, its grey in every channel (rgb clips: their colour)."""
    return read_fields(dataset, split, ("context",), rows)["context"]


# ---------------------------------------------------------------- motion annotations


def read_motion(dataset: Path | str | DatasetIndex, split: str) -> dict[str, np.ndarray]:
    """The motion annotations and frame rate of every clip of a split, in read_split's order:
    `mean_flow` (N, H, W, 2) float16 and `motion_map` (N, H, W) float16 (pixels per frame),
    `motion`, `flow_std` and `fps` (N,) float32.

    Shards written before the annotations existed get them computed once (OpenCV DIS, as the
    build does) and cached in `motion-cache/` beside the dataset, or in the user's cache folder
    when the dataset's folder is not writable.
    """
    index = as_index(dataset)
    fields = [_shard_motion(index, shard) for shard in index.split(split)]
    if not fields:
        height, width = index.fmt.frame_shape
        empty = {
            "mean_flow": np.zeros((0, height, width, 2), np.float16),
            "motion_map": np.zeros((0, height, width), np.float16),
        }
        return {**empty, **{key: np.zeros(0, np.float32) for key in ("motion", "flow_std", "fps")}}
    return {key: np.concatenate([f[key] for f in fields]) for key in fields[0]}


def read_fps(dataset: Path | str | DatasetIndex, split: str) -> np.ndarray:
    """The frame rate (N,) float32 of every clip of a split, in read_split's order (the
    dataset's one rate for shards written before clips kept their own)."""
    index = as_index(dataset)
    rates = [_shard_fps(index, shard) for shard in index.split(split)]
    return np.concatenate(rates) if rates else np.zeros(0, np.float32)


def _shard_fps(index: DatasetIndex, shard: Shard) -> np.ndarray:
    if shard.has("fps"):
        return shard.read("fps").astype(np.float32)
    return np.full(len(shard), index.fps, np.float32)


def _shard_motion(index: DatasetIndex, shard: Shard) -> dict[str, np.ndarray]:
    """One shard's annotations: stored in it, cached beside it, or computed now and cached."""
    fps = _shard_fps(index, shard)
    if all(shard.has(key) for key in MOTION_KEYS):
        return _motion_arrays({key: shard.read(key) for key in MOTION_KEYS}, fps)
    path = shard.path
    key = _motion_cache_key(path)
    for cached in _motion_cache_paths(index.root, path):
        values = _load_motion_cache(cached, key)
        if values is not None:
            return _motion_arrays(values, fps)
    values = _compute_motion(shard, index)
    _save_motion_cache(index.root, path, key, values)
    return _motion_arrays(values, fps)


def _motion_arrays(values: dict[str, np.ndarray], fps: np.ndarray) -> dict[str, np.ndarray]:
    return {
        "mean_flow": np.asarray(values["mean_flow"], np.float16),
        "motion_map": np.asarray(values["motion_map"], np.float16),
        "motion": np.asarray(values["motion"], np.float32),
        "flow_std": np.asarray(values["flow_std"], np.float32),
        "fps": fps,
    }


def _compute_motion(shard: Shard, index: DatasetIndex) -> dict[str, np.ndarray]:
    """Annotate every clip of one shard (about 15 ms a clip at 80 x 45 on one core)."""
    from scenegan.pipeline.motion_fields import annotate_clip

    n_clips = len(shard)
    print(f"annotating the motion of {n_clips} clips of {shard.path} (once)", file=sys.stderr)
    annotations = [annotate_clip(shard.clips([i])[0]) for i in range(n_clips)]
    height, width = index.fmt.frame_shape
    if not annotations:
        return {
            "mean_flow": np.zeros((0, height, width, 2), np.float16),
            "motion_map": np.zeros((0, height, width), np.float16),
            "motion": np.zeros(0, np.float32),
            "flow_std": np.zeros(0, np.float32),
        }
    return {
        "mean_flow": np.stack([a.mean_flow for a in annotations]),
        "motion_map": np.stack([a.motion_map for a in annotations]),
        "motion": np.array([a.motion for a in annotations], np.float32),
        "flow_std": np.array([a.flow_std for a in annotations], np.float32),
    }


def _motion_cache_key(path: Path) -> str:
    """What the cached annotations of a shard depend on: the file (name, size, modification
    time; shards are replaced by rename, never edited) and how the flow is measured."""
    from scenegan.pipeline.motion_fields import ANNOTATION_METHOD

    stat = path.stat()
    return json.dumps(
        {
            "file": path.name,
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
            "method": ANNOTATION_METHOD,
        },
        sort_keys=True,
    )


def _motion_cache_paths(root: Path, path: Path) -> list[Path]:
    """Where a shard's annotations are cached: beside the dataset, else the user's cache."""
    folder = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]
    return [
        root / MOTION_CACHE_DIR / f"{path.stem}.npz",
        cache_dir() / "motion" / folder / f"{path.stem}.npz",
    ]


def _load_motion_cache(cached: Path, key: str) -> dict[str, np.ndarray] | None:
    """The cached annotations if `cached` holds them for `key`; None if absent, stale or bad."""
    try:
        with np.load(cached, allow_pickle=False) as data:
            if str(data["key"]) != key:
                return None
            return {name: data[name] for name in MOTION_KEYS}
    except (OSError, KeyError, ValueError):
        return None


def _save_motion_cache(root: Path, path: Path, key: str, values: dict[str, np.ndarray]) -> None:
    """Write the cache atomically where it can be written; a read-only place is skipped."""
    for cached in _motion_cache_paths(root, path):
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            if not os.access(cached.parent, os.W_OK):
                continue
            with atomic_path(cached) as tmp, open(tmp, "wb") as handle:
                np.savez(handle, key=np.array(key), **values)
            return
        except OSError:
            continue
