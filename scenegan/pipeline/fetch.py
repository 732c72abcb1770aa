"""`scenegan fetch`: search Flickr for scenery videos by tag, download each through the URL the
API gives, and record every video with its license in the manifest; also the attribution file."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from scenegan.config import FetchConfig
from scenegan.errors import UserError
from scenegan.files import atomic_write_text
from scenegan.pipeline import manifest
from scenegan.pipeline.flickr_client import (
    GET_A_KEY,
    FlickrCallError,
    FlickrClient,
    License,
    SearchQuery,
    TransientError,
    iter_search,
)
from scenegan.pipeline.video_download import (
    DownloadOptions,
    DownloadResult,
    download_video,
    sha256_of,
)

# License short names -> a pattern of the license URL Flickr gives in licenses.getInfo.
LICENSE_PATTERNS = {
    "cc-by": "/licenses/by/",
    "cc-by-sa": "/licenses/by-sa/",
    "cc-by-nd": "/licenses/by-nd/",
    "cc-by-nc": "/licenses/by-nc/",
    "cc-by-nc-sa": "/licenses/by-nc-sa/",
    "cc-by-nc-nd": "/licenses/by-nc-nd/",
    "cc0": "/publicdomain/zero/",
    "pdm": "/publicdomain/mark/",
}
ATTRIBUTION_NAME = "ATTRIBUTION.md"
CREDENTIALS_FILE = Path("~/.config/scenegan/flickr.json")


@dataclass
class FetchSummary:
    n_found: int = 0  # distinct videos the search returned
    n_new: int = 0  # of them, not in the manifest before
    n_downloaded: int = 0
    n_already_had: int = 0
    n_skipped: int = 0
    failed: Counter = field(default_factory=Counter)  # reason -> count
    n_api_calls: int = 0
    would_download: list[str] = field(default_factory=list)  # dry run only

    def lines(self) -> list[str]:
        out = [
            f"found {self.n_found} videos ({self.n_new} new), downloaded {self.n_downloaded}, "
            f"already had {self.n_already_had}, skipped {self.n_skipped}, "
            f"failed {sum(self.failed.values())}, API calls {self.n_api_calls}"
        ]
        out += [f"  failed ({reason}): {n}" for reason, n in sorted(self.failed.items())]
        return out

    def problem(self) -> str | None:
        """Why the run counts as failed: it tried videos and not one of them could be had."""
        n_failed = sum(self.failed.values())
        if not n_failed or self.n_downloaded:
            return None
        reasons = ", ".join(f"{n} {reason}" for reason, n in sorted(self.failed.items()))
        return (
            f"none of the {n_failed} videos tried could be downloaded ({reasons}); the manifest "
            "says why for each; try again later with --retry-failed"
        )


def load_credentials() -> tuple[str, str]:
    """FLICKR_API_KEY / FLICKR_API_SECRET, else ~/.config/scenegan/flickr.json
    ({"api_key": ..., "api_secret": ...}); missing ones are a UserError saying how to get them."""
    key = os.environ.get("FLICKR_API_KEY", "").strip()
    secret = os.environ.get("FLICKR_API_SECRET", "").strip()
    path = CREDENTIALS_FILE.expanduser()
    if (not key or not secret) and path.exists():
        try:
            stored = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            raise UserError(f"{path} is not valid JSON; {GET_A_KEY}") from None
        key = key or str(stored.get("api_key", "")).strip()
        secret = secret or str(stored.get("api_secret", "")).strip()
    if not key or not secret:
        raise UserError(f"no Flickr API key: {GET_A_KEY} (or write them to {CREDENTIALS_FILE})")
    return key, secret


def resolve_licenses(wanted: tuple[str, ...], table: dict[str, License]) -> tuple[str, ...]:
    """Turn short names (cc-by, cc0, ...) or ids into Flickr license ids, using Flickr's own
    table from licenses.getInfo rather than a hard-coded one."""
    ids: list[str] = []
    for name in wanted:
        name = name.strip().lower()
        if name in table:
            ids.append(name)
        elif name in LICENSE_PATTERNS:
            ids += [i for i, lic in table.items() if LICENSE_PATTERNS[name] in lic.url]
        else:
            known = ", ".join([*LICENSE_PATTERNS, *sorted(table, key=int)])
            raise UserError(f"unknown license {name!r}; use one of: {known}")
    if not ids:
        raise UserError(f"no Flickr license matches {','.join(wanted)}")
    return tuple(sorted(set(ids), key=int))


def _to_unix(day: str | None, default: int, end_of_day: bool = False) -> int:
    if day is None:
        return default
    try:
        date = dt.datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        raise UserError(f"dates are YYYY-MM-DD, got {day!r}") from None
    return int(date.timestamp()) + (86399 if end_of_day else 0)


def _record(photo: dict, query: SearchQuery, licenses: dict[str, License]) -> manifest.VideoRecord:
    license_ = licenses.get(str(photo.get("license", "")), License("", "", ""))
    upload = photo.get("dateupload")
    owner = str(photo.get("owner", ""))
    return manifest.VideoRecord(
        photo_id=str(photo["id"]),
        owner=owner,
        owner_name=str(photo.get("ownername", "")),
        title=str(photo.get("title", "")),
        license_id=license_.license_id,
        license_name=license_.name,
        license_url=license_.url,
        page_url=f"https://www.flickr.com/photos/{owner}/{photo['id']}/",
        tags=str(photo.get("tags", "")),
        query=query.label(),
        date_taken=str(photo.get("datetaken", "")),
        date_upload=(
            dt.datetime.fromtimestamp(int(upload), dt.timezone.utc).isoformat() if upload else ""
        ),
        width=int(photo["o_width"]) if photo.get("o_width") else None,
        height=int(photo["o_height"]) if photo.get("o_height") else None,
    )


def run_fetch(config: FetchConfig, api_key: str, api_secret: str) -> FetchSummary:
    """Search, record, download; resumable. The key is an argument, never part of the config."""
    if not config.tags:
        raise UserError("give at least one tag, e.g. --tags sea,forest")
    if config.tag_mode not in ("any", "all"):
        raise UserError("--tag-mode is 'any' or 'all'")
    since, until = _to_unix(config.since, 0), _to_unix(config.until, 0, end_of_day=True)
    if config.since and config.until and since > until:
        raise UserError(f"--since {config.since} is after --until {config.until}")
    client = FlickrClient(
        api_key,
        api_secret,
        api_url=config.api_url,
        calls_per_second=config.calls_per_second,
        max_retries=config.max_retries,
        backoff_seconds=config.backoff_seconds,
        result_cap=config.result_cap,
    )
    summary = FetchSummary()
    try:
        license_table = client.licenses()
    except (TransientError, FlickrCallError) as error:
        raise UserError(f"cannot reach Flickr at {config.api_url}: {error}") from None
    now = int(dt.datetime.now(dt.timezone.utc).timestamp())
    query = SearchQuery(
        tags=tuple(t.strip().lower() for t in config.tags if t.strip()),
        tag_mode=config.tag_mode,
        license_ids=resolve_licenses(config.licenses, license_table),
        min_upload=_to_unix(config.since, 0),
        max_upload=_to_unix(config.until, now, end_of_day=True),
    )
    with manifest.open_manifest(config.out) as db:
        try:
            seen = _search(client, query, license_table, db, config, summary)
        except (TransientError, FlickrCallError) as error:
            raise UserError(
                f"the Flickr search failed: {error}; what was found so far is in the manifest, "
                "run the same command again to go on"
            ) from None
        todo = _pending(db, config, seen if config.dry_run else None, summary)
        if config.limit is not None:
            todo = todo[: config.limit]
        if config.dry_run:
            summary.would_download = [r.photo_id for r in todo]
            summary.n_api_calls = client.n_calls + len(todo)  # one getSizes per video
            return summary
        _download_all(client, todo, db, config, summary)
        write_attribution(config.out, manifest.read_videos(db, "downloaded"))
    summary.n_api_calls = client.n_calls
    return summary


def _search(client, query, license_table, db, config, summary) -> dict[str, manifest.VideoRecord]:
    """Page through every window; record what is found (not in a dry run)."""
    seen: dict[str, manifest.VideoRecord] = {}
    # Resume only closed windows: one that ends in the future may still grow.
    now = int(dt.datetime.now(dt.timezone.utc).timestamp())

    def is_done(window: SearchQuery) -> bool:
        return window.max_upload < now and manifest.search_done(db, window.key())

    def on_window_done(window: SearchQuery, n_results: int) -> None:
        if not config.dry_run and window.max_upload < now:
            manifest.mark_search_done(db, window.key(), n_results)

    with tqdm(desc="search pages", unit="page", leave=False) as bar:
        pages = iter_search(
            client,
            query,
            per_page=config.per_page,
            is_done=is_done,
            on_window_done=on_window_done,
            on_page=lambda: bar.update(1),
        )
        for _, photos in pages:
            try:
                records = [_record(p, query, license_table) for p in photos]
            except (KeyError, TypeError, ValueError, AttributeError) as error:
                raise FlickrCallError(
                    f"a search result is not shaped as Flickr's ({error!r})"
                ) from None
            records = [r for r in records if r.photo_id not in seen]
            seen.update((r.photo_id, r) for r in records)
            if not config.dry_run:
                summary.n_new += manifest.upsert_found(db, records)
            if config.limit is not None and not config.dry_run and len(seen) >= config.limit:
                break
    summary.n_found = len(seen)
    return seen


def _pending(db, config, dry_run_seen, summary) -> list[manifest.VideoRecord]:
    """Rows still to download: found ones, failed ones with --retry-failed, and downloaded ones
    whose file is gone or changed (nothing half-downloaded counts as done)."""
    if dry_run_seen is not None:
        known = {r.photo_id: r for r in manifest.read_videos(db)}
        wanted = ("found", "failed") if config.retry_failed else ("found",)
        return [
            r
            for pid, r in sorted(dry_run_seen.items())
            if pid not in known or known[pid].status in wanted
        ]
    todo = manifest.read_videos(db, "found")
    if config.retry_failed:
        todo += manifest.read_videos(db, "failed")
    for row in manifest.read_videos(db, "downloaded"):
        path = Path(config.out) / (row.local_path or "")
        if row.local_path and path.is_file() and sha256_of(path) == row.sha256:
            summary.n_already_had += 1
        else:
            todo.append(row)
    return sorted(todo, key=lambda r: r.photo_id)


def _download_one(client: FlickrClient, record: manifest.VideoRecord, config: FetchConfig):
    try:
        url, _, _ = client.video_url(record.photo_id, config.max_video_width)
    except (TransientError, FlickrCallError) as error:
        return None, url_failure(error)
    options = DownloadOptions(
        retries=config.download_retries,
        rate_limit=config.rate_limit,
        min_duration=config.min_duration,
        max_duration=config.max_duration,
    )
    return url, download_video(url, record.photo_id, config.out, options)


def url_failure(error: Exception) -> DownloadResult:
    return DownloadResult("failed", error=f"api: {error}")


def _download_all(client, todo, db, config, summary) -> None:
    workers = max(1, min(4, config.workers))
    with (
        ThreadPoolExecutor(workers) as pool,
        tqdm(total=len(todo), desc="downloads", unit="video", leave=False) as bar,
    ):
        futures = {pool.submit(_download_one, client, r, config): r for r in todo}
        for future in as_completed(futures):
            record = futures[future]
            source_url, result = future.result()
            manifest.update_video(
                db,
                record.photo_id,
                status=result.status,
                local_path=result.local_path,
                sha256=result.sha256,
                duration=result.duration,
                source_url=source_url,
                error=result.error,
            )
            if result.status == "downloaded":
                summary.n_downloaded += 1
            elif result.status == "skipped":
                summary.n_skipped += 1
            else:
                summary.failed[(result.error or "unknown").split(":", 1)[0]] += 1
            bar.update(1)


def write_attribution(out_dir: Path, rows: list[manifest.VideoRecord]) -> Path:
    """ATTRIBUTION.md beside the manifest: one credit line per downloaded video."""
    lines = [
        "# Attribution",
        "",
        "Videos from Flickr used in this dataset, with their authors and licenses.",
        "",
    ]
    for row in sorted(rows, key=lambda r: r.photo_id):
        title = " ".join(row.title.split()) or "untitled"
        author = row.owner_name or row.owner
        license_text = (
            f"[{row.license_name}]({row.license_url})"
            if row.license_url
            else (row.license_name or "license unknown")
        )
        lines.append(f'- "{title}" by {author}, {row.page_url}, {license_text}')
    path = Path(out_dir) / ATTRIBUTION_NAME
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path
