"""The fetch manifest: one SQLite file (`manifest.sqlite`, table `videos`) with one row per Flickr
video, written by `scenegan fetch` and read by `scenegan build-dataset`."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from scenegan.errors import UserError

MANIFEST_NAME = "manifest.sqlite"
STATUSES = ("found", "downloaded", "failed", "skipped")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS videos (
    photo_id      TEXT PRIMARY KEY,
    owner         TEXT,
    owner_name    TEXT,
    title         TEXT,
    license_id    TEXT,
    license_name  TEXT,
    license_url   TEXT,
    page_url      TEXT,
    tags          TEXT,
    query         TEXT,
    date_taken    TEXT,
    date_upload   TEXT,
    width         INTEGER,
    height        INTEGER,
    duration      REAL,
    source_url    TEXT,
    local_path    TEXT,
    sha256        TEXT,
    status        TEXT NOT NULL DEFAULT 'found'
                  CHECK (status IN ('found', 'downloaded', 'failed', 'skipped')),
    error         TEXT,
    updated_at    TEXT DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE IF NOT EXISTS searches (
    query_key     TEXT PRIMARY KEY,
    n_results     INTEGER,
    updated_at    TEXT DEFAULT CURRENT_TIMESTAMP
);
"""


@dataclass(frozen=True)
class VideoRecord:
    """One manifest row; `local_path` is relative to the manifest's folder."""

    photo_id: str
    owner: str = ""
    owner_name: str = ""
    title: str = ""
    license_id: str = ""
    license_name: str = ""
    license_url: str = ""
    page_url: str = ""
    tags: str = ""
    query: str = ""
    date_taken: str = ""
    date_upload: str = ""
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    source_url: str | None = None
    local_path: str | None = None
    sha256: str | None = None
    status: str = "found"
    error: str | None = None


_COLUMNS = [f.name for f in fields(VideoRecord)]


def manifest_path(out_dir: Path) -> Path:
    return Path(out_dir) / MANIFEST_NAME


@contextmanager
def open_manifest(out_dir: Path) -> Iterator[sqlite3.Connection]:
    """Open (creating if needed) the manifest in `out_dir`; commits on clean exit."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    # WAL + a busy timeout let two fetches into the same folder share one manifest.
    path = manifest_path(out_dir)
    connection = sqlite3.connect(path, timeout=30.0)
    connection.row_factory = sqlite3.Row
    try:
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.executescript(_SCHEMA)
        except sqlite3.DatabaseError as error:
            raise UserError(
                f"{path} is not a readable manifest ({error}); move it away or use another --out"
            ) from None
        yield connection
        connection.commit()
    finally:
        connection.close()


def upsert_found(connection: sqlite3.Connection, records: Iterable[VideoRecord]) -> int:
    """Insert newly found videos; a known photo keeps its status, file and hash but gets fresh
    metadata, and its `query` accumulates the new query. Returns the number of new rows."""
    n_new = 0
    for record in records:
        row = connection.execute(
            "SELECT query FROM videos WHERE photo_id = ?", (record.photo_id,)
        ).fetchone()
        if row is None:
            values = asdict(record)
            connection.execute(
                f"INSERT INTO videos ({', '.join(_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(_COLUMNS))})",
                [values[c] for c in _COLUMNS],
            )
            n_new += 1
            continue
        queries = [q for q in (row["query"] or "").split(";") if q]
        if record.query and record.query not in queries:
            queries.append(record.query)
        metadata = {
            c: getattr(record, c)
            for c in _COLUMNS
            if c not in ("photo_id", "query", "local_path", "sha256", "status", "error")
            and getattr(record, c) not in (None, "")
        }
        metadata["query"] = ";".join(queries)
        assignments = ", ".join(f"{c} = ?" for c in metadata)
        connection.execute(
            f"UPDATE videos SET {assignments}, updated_at = CURRENT_TIMESTAMP WHERE photo_id = ?",
            [*metadata.values(), record.photo_id],
        )
    connection.commit()
    return n_new


def update_video(connection: sqlite3.Connection, photo_id: str, **values: object) -> None:
    """Set some columns of one row (e.g. status, error, local_path, sha256)."""
    unknown = set(values) - set(_COLUMNS)
    if unknown:
        raise ValueError(f"unknown manifest columns: {sorted(unknown)}")
    if "status" in values and values["status"] not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}, got {values['status']!r}")
    assignments = ", ".join(f"{c} = ?" for c in values)
    connection.execute(
        f"UPDATE videos SET {assignments}, updated_at = CURRENT_TIMESTAMP WHERE photo_id = ?",
        [*values.values(), photo_id],
    )
    connection.commit()


def read_videos(connection: sqlite3.Connection, status: str | None = None) -> list[VideoRecord]:
    """All rows (or those with one status), ordered by photo id."""
    query = f"SELECT {', '.join(_COLUMNS)} FROM videos"
    params: tuple = ()
    if status is not None:
        query += " WHERE status = ?"
        params = (status,)
    rows = connection.execute(query + " ORDER BY photo_id", params).fetchall()
    return [VideoRecord(**dict(row)) for row in rows]


def read_manifest(out_dir: Path, status: str | None = None) -> list[VideoRecord]:
    """Convenience for readers (build-dataset): the rows of `out_dir/manifest.sqlite`."""
    if not manifest_path(out_dir).exists():
        return []
    with open_manifest(out_dir) as connection:
        return read_videos(connection, status)


def search_done(connection: sqlite3.Connection, query_key: str) -> bool:
    """True when this exact search window was already searched to the end."""
    row = connection.execute("SELECT 1 FROM searches WHERE query_key = ?", (query_key,)).fetchone()
    return row is not None


def mark_search_done(connection: sqlite3.Connection, query_key: str, n_results: int) -> None:
    connection.execute(
        "INSERT OR REPLACE INTO searches (query_key, n_results) VALUES (?, ?)",
        (query_key, n_results),
    )
    connection.commit()


# What a build records of each video in its shards' provenance.
PROVENANCE_COLUMNS = (
    "photo_id",
    "owner",
    "title",
    "license_id",
    "license_name",
    "page_url",
    "sha256",
)


def read_downloaded(manifest_file: Path) -> list[dict]:
    """The downloaded videos of a manifest, read-only (a build never changes it), sorted by id:
    for each, its PROVENANCE_COLUMNS present in the file and `local_path`."""
    if not manifest_file.is_file():
        raise UserError(
            f"no manifest at {manifest_file}: run `scenegan fetch` first, or pass --videos DIR "
            "to build from a folder of videos"
        )
    try:
        connection = sqlite3.connect(f"file:{manifest_file.resolve()}?mode=ro", uri=True)
    except sqlite3.Error as error:
        raise UserError(f"cannot open manifest {manifest_file}: {error}") from error
    try:
        connection.row_factory = sqlite3.Row
        columns = {row[1] for row in connection.execute("PRAGMA table_info(videos)")}
        if not {"photo_id", "local_path", "status"} <= columns:
            raise UserError(f"{manifest_file} has no `videos` table written by `scenegan fetch`")
        wanted = [c for c in PROVENANCE_COLUMNS if c in columns]
        rows = connection.execute(
            f"SELECT {', '.join(wanted)}, local_path FROM videos "
            "WHERE status = 'downloaded' ORDER BY photo_id"
        ).fetchall()
    except sqlite3.DatabaseError as error:
        raise UserError(f"cannot read manifest {manifest_file}: {error}") from error
    finally:
        connection.close()
    rows = [dict(row) for row in rows]
    for row in rows:
        if problem := _local_path_problem(row["local_path"]):
            raise UserError(
                f"{manifest_file} is damaged: video {row['photo_id']!r} is downloaded but its "
                f"local_path is {problem}; `scenegan fetch --out {manifest_file.parent}` again "
                "downloads it anew"
            )
    return rows


def _local_path_problem(local_path) -> str | None:
    """What is wrong with a row's `local_path` (a file inside the manifest's folder), or None."""
    if not isinstance(local_path, str) or not local_path.strip():
        return "empty" if local_path is not None else "NULL"
    relative = Path(local_path)
    if relative.is_absolute() or ".." in relative.parts:
        return f"{local_path!r}, outside the manifest's folder"
    return None
