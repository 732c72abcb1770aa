"""A local stand-in for Flickr's REST API and video hosts: a threaded HTTP server on 127.0.0.1
that answers flickr.photos.search / getSizes / licenses.getInfo in Flickr's JSON format and
serves real MP4 files, with Flickr's 4000-result cap, key errors and injected faults."""

from __future__ import annotations

import json
import re
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

# Flickr's own license table (flickr.photos.licenses.getInfo, 2024).
LICENSES: tuple[tuple[int, str, str], ...] = (
    (0, "All Rights Reserved", ""),
    (
        1,
        "Attribution-NonCommercial-ShareAlike License",
        "https://creativecommons.org/licenses/by-nc-sa/2.0/",
    ),
    (2, "Attribution-NonCommercial License", "https://creativecommons.org/licenses/by-nc/2.0/"),
    (
        3,
        "Attribution-NonCommercial-NoDerivs License",
        "https://creativecommons.org/licenses/by-nc-nd/2.0/",
    ),
    (4, "Attribution License", "https://creativecommons.org/licenses/by/2.0/"),
    (5, "Attribution-ShareAlike License", "https://creativecommons.org/licenses/by-sa/2.0/"),
    (6, "Attribution-NoDerivs License", "https://creativecommons.org/licenses/by-nd/2.0/"),
    (7, "No known copyright restrictions", "https://www.flickr.com/commons/usage/"),
    (8, "United States Government Work", "http://www.usa.gov/copyright.shtml"),
    (9, "Public Domain Dedication (CC0)", "https://creativecommons.org/publicdomain/zero/1.0/"),
    (10, "Public Domain Mark", "https://creativecommons.org/publicdomain/mark/1.0/"),
)
_PHOTO_LICENSES = (4, 5, 9, 10, 0, 2)  # cycled over the fake photos
_PHOTO_TAGS = ("sea", "forest", "waterfall", "clouds")
FIRST_UPLOAD = 1_600_000_000  # unix time of the first fake upload; one upload per hour after


class _QuietServer(ThreadingHTTPServer):
    """A client hanging up mid-request (yt-dlp closing a probe, an injected 'cut') is normal
    here: no traceback on stderr for it."""

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@dataclass
class Faults:
    """Faults to inject. `api_statuses` are HTTP statuses answered to the next API calls, in
    order (e.g. (429, 500)); `api_bodies` are raw answers, (method, HTTP status, content type,
    body), e.g. garbage JSON or a proxy's HTML error page: each answers, once, the next call of
    its method ("" for any) after `api_statuses` are used up;
    `videos` maps a photo id to 'http500', 'truncated' (half the file served as if complete),
    'cut' (connection dropped mid-body), 'not_video' or 'zero_length' (a valid MP4 holding a
    video stream but not one frame)."""

    api_statuses: list[int] = field(default_factory=list)
    api_bodies: list[tuple[str, int, str, bytes]] = field(default_factory=list)
    videos: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FakePhoto:
    photo_id: str
    video: Path
    license_id: int
    tags: tuple[str, ...]
    date_upload: int


class FlickrStandin:
    """`with FlickrStandin(videos, n_photos=10) as flickr: ... flickr.api_url ...`

    Photo i shows `videos[i % len(videos)]`, has license `_PHOTO_LICENSES[i % 6]`, tag
    `_PHOTO_TAGS[i % 4]` plus 'nature', and was uploaded at FIRST_UPLOAD + i hours.
    """

    def __init__(
        self,
        videos: list[Path],
        *,
        n_photos: int = 12,
        api_key: str = "standin-key",
        result_cap: int = 4000,
        faults: Faults | None = None,
    ) -> None:
        if not videos:
            raise ValueError("FlickrStandin needs at least one video file to serve")
        self.api_key = api_key
        self.result_cap = result_cap
        self.faults = faults or Faults()
        self.photos = [
            FakePhoto(
                photo_id=str(50_000_000 + i),
                video=Path(videos[i % len(videos)]),
                license_id=_PHOTO_LICENSES[i % len(_PHOTO_LICENSES)],
                tags=(_PHOTO_TAGS[i % len(_PHOTO_TAGS)], "nature"),
                date_upload=FIRST_UPLOAD + 3600 * i,
            )
            for i in range(n_photos)
        ]
        self.calls: list[str] = []  # API method names, in order (for tests)
        self.video_requests: list[str] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> FlickrStandin:
        self._server = _QuietServer(("127.0.0.1", 0), _make_handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FlickrStandin:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start the stand-in first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/services/rest/"

    # ------------------------------------------------------------------ REST methods
    def answer(self, params: dict[str, str], key: str | None) -> tuple[int, dict]:
        """(HTTP status, JSON body) for one API call."""
        method = params.get("method", "")
        with self._lock:
            self.calls.append(method)
            if self.faults.api_statuses:
                status = self.faults.api_statuses.pop(0)
                return status, {"stat": "fail", "code": 0, "message": f"HTTP {status}"}
        if key != self.api_key:
            return 200, {"stat": "fail", "code": 100, "message": "Invalid API Key (Key not found)"}
        handlers = {
            "flickr.photos.search": self._search,
            "flickr.photos.getSizes": self._get_sizes,
            "flickr.photos.licenses.getInfo": self._licenses,
        }
        if method not in handlers:
            return 200, {"stat": "fail", "code": 112, "message": f'Method "{method}" not found'}
        return 200, handlers[method](params)

    def _licenses(self, params: dict[str, str]) -> dict:
        rows = [{"id": i, "name": name, "url": url} for i, name, url in LICENSES]
        return {"licenses": {"license": rows}, "stat": "ok"}

    def _search(self, params: dict[str, str]) -> dict:
        photos = [p for p in self.photos]
        if params.get("media", "all") not in ("all", "videos"):
            photos = []
        wanted_tags = [t.strip().lower() for t in params.get("tags", "").split(",") if t.strip()]
        if wanted_tags:
            match = all if params.get("tag_mode", "any") == "all" else any
            photos = [p for p in photos if match(t in p.tags for t in wanted_tags)]
        if params.get("license"):
            allowed = {int(x) for x in params["license"].split(",")}
            photos = [p for p in photos if p.license_id in allowed]
        if params.get("min_upload_date"):
            photos = [p for p in photos if p.date_upload >= int(params["min_upload_date"])]
        if params.get("max_upload_date"):
            photos = [p for p in photos if p.date_upload <= int(params["max_upload_date"])]
        photos.sort(key=lambda p: -p.date_upload)  # Flickr's default: newest first
        per_page = max(1, min(500, int(params.get("per_page", 100))))
        page = max(1, int(params.get("page", 1)))
        total = len(photos)
        reachable = photos[: self.result_cap]
        n_reachable_pages = max(1, -(-len(reachable) // per_page))
        # Past the cap Flickr repeats earlier results instead of failing.
        served_page = (page - 1) % n_reachable_pages + 1
        chunk = reachable[(served_page - 1) * per_page : served_page * per_page]
        extras = set(params.get("extras", "").split(","))
        return {
            "photos": {
                "page": page,
                "pages": max(1, -(-total // per_page)),
                "perpage": per_page,
                "total": total,
                "photo": [self._photo_json(p, extras) for p in chunk],
            },
            "stat": "ok",
        }

    def _photo_json(self, photo: FakePhoto, extras: set[str]) -> dict:
        row: dict = {
            "id": photo.photo_id,
            "owner": f"{photo.photo_id[-4:]}@N00",
            "secret": "abc123",
            "server": "65535",
            "farm": 66,
            "title": f"Scenery / {' '.join(photo.tags)} ../{photo.photo_id}",
            "ispublic": 1,
            "isfriend": 0,
            "isfamily": 0,
        }
        if "license" in extras:
            row["license"] = str(photo.license_id)
        if "date_upload" in extras:
            row["dateupload"] = str(photo.date_upload)
        if "date_taken" in extras:
            row["datetaken"] = "2020-09-13 12:00:00"
            row["datetakengranularity"] = 0
        if "owner_name" in extras:
            row["ownername"] = f"Owner {photo.photo_id[-4:]}"
        if "tags" in extras:
            row["tags"] = " ".join(photo.tags)
        if "media" in extras:
            row["media"] = "video"
            row["media_status"] = "ready"
        if "o_dims" in extras:
            row["o_width"] = "1280"
            row["o_height"] = "720"
        return row

    def _get_sizes(self, params: dict[str, str]) -> dict:
        photo_id = params.get("photo_id", "")
        if not any(p.photo_id == photo_id for p in self.photos):
            return {"stat": "fail", "code": 1, "message": "Photo not found"}
        video_url = f"{self.base_url}/video/{photo_id}.mp4"
        page = f"https://www.flickr.com/photos/owner/{photo_id}/"
        sizes = [
            {
                "label": "Square",
                "width": 75,
                "height": 75,
                "media": "photo",
                "source": f"{self.base_url}/img/{photo_id}_s.jpg",
                "url": page + "sizes/sq/",
            },
            {
                "label": "Mobile MP4",
                "width": 480,
                "height": 270,
                "media": "video",
                "source": video_url,
                "url": page + "play/mobile/",
            },
            {
                "label": "Site MP4",
                "width": 640,
                "height": 360,
                "media": "video",
                "source": video_url,
                "url": page + "play/site/",
            },
            {
                "label": "HD MP4",
                "width": 1280,
                "height": 720,
                "media": "video",
                "source": video_url,
                "url": page + "play/hd/",
            },
        ]
        return {
            "sizes": {"canblog": 0, "canprint": 0, "candownload": 1, "size": sizes},
            "stat": "ok",
        }


def _key_from_request(auth_header: str, params: dict[str, str]) -> str | None:
    """flickrapi signs with OAuth 1 and sends the key as oauth_consumer_key in the header."""
    found = re.search(r'oauth_consumer_key="([^"]*)"', auth_header or "")
    if found:
        return unquote(found.group(1))
    return params.get("api_key") or params.get("oauth_consumer_key")


def _make_handler(standin: FlickrStandin) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # silence stderr
            pass

        def _params(self) -> dict[str, str]:
            parts = urlsplit(self.path)
            raw = parse_qs(parts.query)
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                raw.update(parse_qs(self.rfile.read(length).decode("utf-8")))
            return {k: v[-1] for k, v in raw.items()}

        def _send(self, status: int, body: bytes, content_type: str, length: int | None = None):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body) if length is None else length))
            self.end_headers()
            self.wfile.write(body)

        def _api(self) -> None:
            params = self._params()
            method = params.get("method", "")
            with standin._lock:
                bodies = [] if standin.faults.api_statuses else standin.faults.api_bodies
                raw = next((b for b in bodies if b[0] in ("", method)), None)
                if raw is not None:
                    bodies.remove(raw)
                    standin.calls.append(method)
            if raw is not None:
                _, status, content_type, body = raw
                self._send(status, body, content_type)
                return
            status, payload = standin.answer(
                params, _key_from_request(self.headers.get("Authorization", ""), params)
            )
            self._send(status, json.dumps(payload).encode(), "application/json")

        def _video(self, photo_id: str) -> None:
            standin.video_requests.append(photo_id)
            photo = next((p for p in standin.photos if p.photo_id == photo_id), None)
            if photo is None:
                self._send(404, b"not found", "text/plain")
                return
            fault = standin.faults.videos.get(photo_id)
            data = photo.video.read_bytes()
            if fault == "http500":
                self._send(500, b"internal error", "text/plain")
            elif fault == "not_video":
                self._send(200, b"<html>this is not a video</html>" * 64, "video/mp4")
            elif fault == "truncated":
                self._send(200, data[: len(data) // 2], "video/mp4")
            elif fault == "zero_length":
                self._send(200, _zero_length_mp4(), "video/mp4")
            elif fault == "cut":
                self._send(200, data[: len(data) // 2], "video/mp4", length=len(data))
                self.close_connection = True
            else:
                self._send(200, data, "video/mp4")

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if path.startswith("/services/rest"):
                self._api()
            elif path.startswith("/video/") and path.endswith(".mp4"):
                self._video(path[len("/video/") : -len(".mp4")])
            else:
                self._send(404, b"not found", "text/plain")

        def do_POST(self) -> None:
            if urlsplit(self.path).path.startswith("/services/rest"):
                self._api()
            else:
                self._send(404, b"not found", "text/plain")

    return Handler


def _zero_length_mp4() -> bytes:
    """A well-formed MP4 (ftyp, moov) of 0 s: the muxer drops the video stream that never got
    a frame, so it holds no track at all."""
    import io

    import av

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        container.start_encoding()
    return buffer.getvalue()
