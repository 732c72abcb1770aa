"""Where source videos come from: a folder of video files, or the fetch manifest (SQLite)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from scenegan.errors import UserError
from scenegan.pipeline import manifest

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


def manifest_sources(manifest_file: Path) -> list[Source]:
    """Videos with status 'downloaded' in the fetch manifest, sorted by Flickr id."""
    rows = manifest.read_downloaded(manifest_file)
    if not rows:
        raise UserError(
            f"the manifest {manifest_file} lists no downloaded videos; run `scenegan fetch`"
        )
    sources = []
    for row in rows:
        local_path = row.pop("local_path")
        provenance = {c: v for c, v in row.items() if v is not None}
        provenance["flickr_id"] = str(provenance.pop("photo_id"))
        source_id = f"flickr-{row['photo_id']}"
        sources.append(Source(source_id, manifest_file.parent / local_path, provenance))
    return sorted(sources, key=lambda s: s.source_id)
