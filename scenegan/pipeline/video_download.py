"""Download one video URL with yt-dlp (generic extractor, `.part` files, retries, rate limit),
then check it is a decodable video with PyAV: a bad download becomes a recorded reason."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import av
import yt_dlp

from scenegan.files import sha256_of


@dataclass(frozen=True)
class DownloadOptions:
    retries: int = 3
    rate_limit: float | None = None  # bytes per second, None = unlimited
    socket_timeout: float = 30.0
    min_duration: float = 0.0
    max_duration: float = float("inf")


@dataclass(frozen=True)
class DownloadResult:
    status: str  # "downloaded" | "failed" | "skipped"
    local_path: str | None = None  # relative to the output folder
    sha256: str | None = None
    duration: float | None = None
    error: str | None = None


class _QuietLogger:
    """yt-dlp logger that drops its messages (errors come back as exceptions)."""

    def __init__(self) -> None:
        self.log = logging.getLogger("scenegan.fetch.yt_dlp")

    def debug(self, message: str) -> None:
        pass

    def info(self, message: str) -> None:
        pass

    def warning(self, message: str) -> None:
        self.log.debug(message)

    def error(self, message: str) -> None:
        self.log.debug(message)


def video_relpath(photo_id: str) -> str:
    """Files are named by photo id only; no title or owner string ever enters a path."""
    if not photo_id.isdigit():
        raise ValueError(f"photo id must be digits, got {photo_id!r}")
    return f"videos/{photo_id}.mp4"


def download_video(
    url: str, photo_id: str, out_dir: Path, options: DownloadOptions
) -> DownloadResult:
    """Fetch `url` into `out_dir/videos/<photo_id>.mp4` and verify it."""
    relpath = video_relpath(photo_id)
    target = Path(out_dir) / relpath
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)  # an unverified leftover is never counted as done
    ydl_options = {
        "outtmpl": str(target),
        "force_generic_extractor": True,
        "noplaylist": True,
        "proxy": "",  # direct connection: works against 127.0.0.1 and an API proxy alike
        "retries": options.retries,
        "file_access_retries": 1,
        "socket_timeout": options.socket_timeout,
        "ratelimit": options.rate_limit,
        "continuedl": True,
        "nopart": False,
        "overwrites": True,
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "logger": _QuietLogger(),
        "cachedir": False,
    }
    try:
        with yt_dlp.YoutubeDL(ydl_options) as ydl:
            ydl.download([url])
    except yt_dlp.utils.DownloadError as error:
        return DownloadResult("failed", error=_short(f"download: {error}"))
    if not target.exists():
        return DownloadResult("failed", error="download: no file was written")
    try:
        duration = probe_duration(target)
    except (av.error.FFmpegError, ValueError) as error:
        target.unlink(missing_ok=True)
        return DownloadResult(
            "failed", error=_short(f"not a video: {error}".replace(str(target), relpath))
        )
    if not options.min_duration <= duration <= options.max_duration:
        target.unlink(missing_ok=True)
        return DownloadResult(
            "skipped",
            duration=duration,
            error=f"duration {duration:.1f} s outside "
            f"[{options.min_duration:g}, {options.max_duration:g}] s",
        )
    return DownloadResult("downloaded", relpath, sha256_of(target), duration)


def probe_duration(path: Path) -> float:
    """Decode the whole video stream (catches truncation) and return its duration in seconds."""
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise ValueError("no video stream")
        stream = container.streams.video[0]
        n_frames = 0
        last_time = 0.0
        for frame in container.decode(stream):
            n_frames += 1
            if frame.time is not None:
                last_time = float(frame.time)
        if n_frames == 0:
            raise ValueError("no decodable frames")
        rate = float(stream.average_rate or 0) or 25.0
        expected = stream.frames or 0
        if expected and n_frames < expected:
            raise ValueError(f"truncated: {n_frames} of {expected} frames decode")
        return last_time + 1.0 / rate


def _short(message: str, limit: int = 300) -> str:
    message = " ".join(str(message).split())
    return message if len(message) <= limit else message[: limit - 3] + "..."
