"""Where source videos come from: a folder of video files, or the fetch manifest (SQLite)."""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from scenegan.errors import UserError

# File name endings taken as videos in a folder; anything else there (READMEs, JSON) is ignored.
VIDEO_SUFFIXES = frozenset(
    ".mp4 .m4v .mov .mkv .webm .avi .mpg .mpeg .ts .mts .m2ts .flv .wmv .3gp .ogv".split()
)


@dataclass(frozen=True)
class Source:
    """One source video: a stable id, the file, and what is known of where it came from."""

    source_id: str
    path: Path
    provenance: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def key(self) -> str:
        """A file-name-safe, fixed-length key derived from the id."""
        return hashlib.sha256(self.source_id.encode()).hexdigest()[:20]


def split_of(source_id: str, val_fraction: float, select_fraction: float = 0.0) -> str:
    """'val', 'select' or 'train' from a hash of the source id: stable as sources are added or
    removed. 'select' (choosing checkpoints and weights) takes the hash range after 'val'."""
    bucket = int(hashlib.sha256(source_id.encode()).hexdigest()[:8], 16) / 2**32
    if bucket < val_fraction:
        return "val"
    return "select" if bucket < val_fraction + select_fraction else "train"


def folder_sources(folder: Path) -> list[Source]:
    """Every video file under `folder` (recursively), sorted by relative path, which is its id."""
    if not folder.is_dir():
        raise UserError(
            f"video folder {folder} does not exist; pass an existing folder to --videos"
        )
    paths = sorted(
        p
        for p in folder.rglob("*")
        if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file() and not p.name.startswith(".")
    )
    if not paths:
        raise UserError(
            f"no video files in {folder} (looked for {', '.join(sorted(VIDEO_SUFFIXES))})"
        )
    sources = []
    for path in paths:
        relative = path.relative_to(folder).as_posix()
        sources.append(Source(relative, path, {"path": relative}))
    return sources


MANIFEST_COLUMNS = ("photo_id", "owner", "title", "license_id", "license_name", "page_url")


def manifest_sources(manifest: Path) -> list[Source]:
    """Videos with status 'downloaded' in the fetch manifest, read-only, sorted by Flickr id."""
    if not manifest.is_file():
        raise UserError(
            f"no manifest at {manifest}: run `scenegan fetch` first, or pass --videos DIR "
            "to build from a folder of videos"
        )
    try:
        connection = sqlite3.connect(f"file:{manifest.resolve()}?mode=ro", uri=True)
    except sqlite3.Error as error:
        raise UserError(f"cannot open manifest {manifest}: {error}") from error
    try:
        connection.row_factory = sqlite3.Row
        columns = {row[1] for row in connection.execute("PRAGMA table_info(videos)")}
        if not {"photo_id", "local_path", "status"} <= columns:
            raise UserError(f"{manifest} has no `videos` table written by `scenegan fetch`")
        wanted = [c for c in (*MANIFEST_COLUMNS, "sha256") if c in columns]
        rows = connection.execute(
            f"SELECT {', '.join(wanted)}, local_path FROM videos "
            "WHERE status = 'downloaded' ORDER BY photo_id"
        ).fetchall()
    except sqlite3.DatabaseError as error:
        raise UserError(f"cannot read manifest {manifest}: {error}") from error
    finally:
        connection.close()
    if not rows:
        raise UserError(f"the manifest {manifest} lists no downloaded videos; run `scenegan fetch`")
    sources = []
    for row in rows:
        provenance = {c: row[c] for c in wanted if row[c] is not None}
        provenance["flickr_id"] = str(provenance.pop("photo_id"))
        source_id = f"flickr-{row['photo_id']}"
        sources.append(Source(source_id, manifest.parent / row["local_path"], provenance))
    return sorted(sources, key=lambda s: s.source_id)
