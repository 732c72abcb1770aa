"""`scenegan fetch` end to end: the real flickrapi client and the real yt-dlp against the local
Flickr stand-in, which serves small MP4s written here by PyAV."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import av
import numpy as np
import pytest
from click.testing import CliRunner

from scenegan.cli import cli
from scenegan.pipeline.fetch import FetchConfig, run_fetch
from scenegan.pipeline.flickr_client import FlickrClient, SearchQuery, iter_search
from scenegan.pipeline.manifest import read_manifest
from scenegan.testing.flickr_standin import Faults, FlickrStandin

KEY = "k3y-5ecret-abcdef0123456789"
SECRET = "s3cr3t-fedcba9876543210"


@pytest.fixture(scope="module")
def mp4(tmp_path_factory) -> Path:
    """A 2 s, 10 fps, 96 x 64 H.264 clip."""
    path = tmp_path_factory.mktemp("media") / "waves.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        rng = np.random.default_rng(0)
        for _ in range(20):
            image = rng.integers(0, 255, (64, 96, 3), dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def _env(flickr: FlickrStandin) -> dict[str, str]:
    return {
        "FLICKR_API_KEY": KEY,
        "FLICKR_API_SECRET": SECRET,
        "SCENEGAN_FLICKR_API_URL": flickr.api_url,
    }


FAST = ["--calls-per-second", "0"]


def test_fetch_end_to_end_with_faults_and_resume(mp4, tmp_path):
    faults = Faults(videos={"50000001": "truncated", "50000003": "not_video"})
    out = tmp_path / "datasets"
    with FlickrStandin([mp4], n_photos=8, api_key=KEY, faults=faults) as flickr:
        runner = CliRunner()
        result = runner.invoke(
            cli, ["fetch", "--tags", "sea,forest", "--out", str(out), *FAST], env=_env(flickr)
        )
        assert result.exit_code == 0, result.output
        rows = {r.photo_id: r for r in read_manifest(out)}
        # sea/forest are photos 0,1,4,5; license ids 4,5,9,10,0,2 cycle -> 0,1 allowed, 4 is
        # "All Rights Reserved" and 5 is NC: excluded by the default licenses.
        assert set(rows) == {"50000000", "50000001"}
        good, bad = rows["50000000"], rows["50000001"]
        assert good.status == "downloaded" and good.local_path == "videos/50000000.mp4"
        assert (out / good.local_path).is_file() and len(good.sha256) == 64
        assert good.source_url.endswith("/video/50000000.mp4")
        assert good.license_name == "Attribution License" and good.duration == pytest.approx(2.0)
        assert bad.status == "failed" and bad.error.startswith("not a video")
        assert not list(out.rglob("*.part"))
        assert "50000000" in (out / "ATTRIBUTION.md").read_text()
        assert "failed (not a video): 1" in result.output

        # Re-run with another tag into the same folder: rows are kept, nothing downloaded twice.
        n_video_requests = len(flickr.video_requests)
        result = runner.invoke(
            cli,
            [
                "fetch",
                "--tags",
                "waterfall,clouds",
                "--licenses",
                "cc-by,cc-by-sa,cc0,pdm,4,5",
                "--out",
                str(out),
                *FAST,
            ],
            env=_env(flickr),
        )
        assert result.exit_code == 0, result.output
        rows = {r.photo_id: r for r in read_manifest(out)}
        assert {"50000000", "50000001", "50000002", "50000003"} <= set(rows)
        assert rows["50000000"].status == "downloaded"
        assert rows["50000001"].status == "failed"  # not retried without --retry-failed
        assert rows["50000003"].status == "failed"  # not_video fault
        assert rows["50000002"].status == "downloaded"
        requested = set(flickr.video_requests[n_video_requests:])
        assert requested == {"50000002", "50000003", "50000006", "50000007"}
        assert "already had 1" in result.output

        # --retry-failed after the fault is gone.
        faults.videos.pop("50000001")
        result = runner.invoke(
            cli,
            ["fetch", "--tags", "sea", "--out", str(out), "--retry-failed", *FAST],
            env=_env(flickr),
        )
        assert result.exit_code == 0, result.output
        assert {r.photo_id: r for r in read_manifest(out)}["50000001"].status == "downloaded"


def test_key_never_written_or_shown(mp4, tmp_path):
    out = tmp_path / "datasets"
    faults = Faults(api_statuses=[500], videos={"50000000": "http500"})
    with FlickrStandin([mp4], n_photos=6, api_key=KEY, faults=faults) as flickr:
        result = CliRunner().invoke(
            cli, ["fetch", "--tags", "sea,forest", "--out", str(out), *FAST], env=_env(flickr)
        )
    assert result.exit_code == 0, result.output
    for path in out.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert KEY.encode() not in data and SECRET.encode() not in data, path
    assert KEY not in result.output and SECRET not in result.output
    rows = {r.photo_id: r for r in read_manifest(out)}
    assert rows["50000000"].status == "failed" and "500" in rows["50000000"].error


def test_bad_or_missing_key_is_one_clear_error(mp4, tmp_path):
    with FlickrStandin([mp4], n_photos=2, api_key="the-right-key") as flickr:
        result = CliRunner().invoke(
            cli, ["fetch", "--tags", "sea", "--out", str(tmp_path), *FAST], env=_env(flickr)
        )
        assert result.exit_code != 0
        assert "Invalid API Key" in str(result.exception)
        assert "flickr.com/services/apps/create" in str(result.exception)
        assert KEY not in str(result.exception)
        env = {**_env(flickr), "FLICKR_API_KEY": "", "HOME": str(tmp_path)}
        result = CliRunner().invoke(cli, ["fetch", "--tags", "sea"], env=env)
        assert result.exit_code != 0 and "FLICKR_API_KEY" in str(result.exception)


def test_search_splits_windows_past_the_cap_and_deduplicates(mp4):
    # A cap of 5 results with 23 matching photos forces the date range to be split.
    with FlickrStandin([mp4], n_photos=23, api_key=KEY, result_cap=5) as flickr:
        client = FlickrClient(KEY, SECRET, api_url=flickr.api_url, calls_per_second=0, result_cap=5)
        query = SearchQuery(("nature",), "any", tuple(str(i) for i in range(11)), 0, 2**31)
        ids = [p["id"] for _, photos in iter_search(client, query, per_page=2) for p in photos]
    assert sorted(ids) == sorted(p.photo_id for p in flickr.photos)
    assert len(ids) == len(set(ids))


def test_backoff_on_429_and_dry_run_downloads_nothing(mp4, tmp_path):
    faults = Faults(api_statuses=[429, 503])
    with FlickrStandin([mp4], n_photos=6, api_key=KEY, faults=faults) as flickr:
        config = FetchConfig(
            tags=("sea", "forest"),
            out=tmp_path,
            api_url=flickr.api_url,
            calls_per_second=0,
            backoff_seconds=0.01,
            dry_run=True,
        )
        summary = run_fetch(config, KEY, SECRET)
    assert summary.would_download == ["50000000", "50000001"]
    assert summary.n_api_calls >= 4
    assert flickr.video_requests == []
    assert not (tmp_path / "videos").exists()
    with sqlite3.connect(tmp_path / "manifest.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM videos").fetchone()[0] == 0


def test_stale_part_file_and_cut_connection(mp4, tmp_path):
    from scenegan.pipeline.video_download import DownloadOptions, download_video

    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "50000000.mp4.part").write_bytes(b"left over from a killed run")
    with FlickrStandin([mp4], n_photos=2, faults=Faults(videos={"50000001": "cut"})) as flickr:
        url = f"{flickr.base_url}/video/"
        good = download_video(url + "50000000.mp4", "50000000", tmp_path, DownloadOptions())
        cut = download_video(url + "50000001.mp4", "50000001", tmp_path, DownloadOptions(retries=1))
    assert good.status == "downloaded"
    assert (tmp_path / good.local_path).read_bytes() == mp4.read_bytes()
    assert cut.status == "failed" and cut.error.startswith("download")
    assert not (tmp_path / "videos" / "50000001.mp4").exists()
