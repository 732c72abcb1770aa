"""Flickr REST calls through flickrapi: a rate limiter, back-off on HTTP 429 / 5xx and Flickr's
transient error codes, the license table, the search page loop with date-window splitting
(Flickr serves only the first 4000 results of a query), and a video's playable MP4 URL."""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import flickrapi
from flickrapi.exceptions import FlickrError

from scenegan.config import DEFAULT_API_URL
from scenegan.errors import UserError

FLICKR_RESULT_CAP = 4000
SEARCH_EXTRAS = "owner_name,license,date_upload,date_taken,tags,media,o_dims"
GET_A_KEY = (
    "get a key at https://www.flickr.com/services/apps/create/ and set FLICKR_API_KEY and "
    "FLICKR_API_SECRET"
)
_TRANSIENT_CODES = {0, 10, 105, 106, 201}  # Flickr: service unavailable, write failed, ...
_KEY_CODES = {100}  # Invalid API Key

# flickrapi logs request parameters and bodies (an error page's whole HTML at ERROR); keep it
# quiet so nothing secret reaches a log and a failure is the one line of its exception.
logging.getLogger("flickrapi").setLevel(logging.CRITICAL)


class TransientError(Exception):
    """A call that failed after every retry (network, HTTP 429 / 5xx, Flickr busy)."""


class RateLimiter:
    """At most `calls_per_second` calls, spaced evenly, across threads."""

    def __init__(self, calls_per_second: float) -> None:
        self.interval = 0.0 if calls_per_second <= 0 else 1.0 / calls_per_second
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = time.monotonic()
            delay = self._next - now
            self._next = max(now, self._next) + self.interval
        if delay > 0:
            time.sleep(delay)


@dataclass(frozen=True)
class License:
    license_id: str
    name: str
    url: str


@dataclass(frozen=True)
class SearchQuery:
    tags: tuple[str, ...]
    tag_mode: str  # "any" | "all"
    license_ids: tuple[str, ...]
    min_upload: int  # unix seconds, inclusive
    max_upload: int

    def key(self) -> str:
        """A stable text key for this window (no credentials), used to resume searches."""
        return (
            f"tags={','.join(self.tags)};mode={self.tag_mode};"
            f"licenses={','.join(self.license_ids)};{self.min_upload}-{self.max_upload}"
        )

    def label(self) -> str:
        return f"tags={','.join(self.tags)} ({self.tag_mode})"


class FlickrClient:
    """One Flickr endpoint, one key, every call rate-limited and retried."""

    def __init__(
        self,
        api_key: str,
        api_secret: str,
        *,
        api_url: str = DEFAULT_API_URL,
        calls_per_second: float = 1.0,
        max_retries: int = 4,
        backoff_seconds: float = 2.0,
        timeout: float = 30.0,
        result_cap: int = FLICKR_RESULT_CAP,
    ) -> None:
        if not api_key or not api_secret:
            raise UserError(f"no Flickr API key: {GET_A_KEY}")
        self._api = flickrapi.FlickrAPI(
            api_key, api_secret, format="parsed-json", store_token=False, timeout=timeout
        )
        self._api.REST_URL = api_url  # instance attribute: the configurable endpoint
        self._secrets = (api_key, api_secret)
        self.limiter = RateLimiter(calls_per_second)
        self.max_retries = max_retries
        self.backoff_seconds = backoff_seconds
        self.result_cap = result_cap
        self.n_calls = 0

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def call(self, method: str, **params: object) -> dict:
        """Call one REST method; retry transient failures with exponential back-off."""
        attempt = 0
        while True:
            self.limiter.wait()
            self.n_calls += 1
            try:
                return self._api.do_flickr_call(method, **params)
            except FlickrError as error:
                code = _error_code(error)
                message = self._scrub(str(error))
                if code in _KEY_CODES:
                    reason = f"Flickr rejected the API key ({message})"
                    raise UserError(f"{reason}: {GET_A_KEY}") from None
                http_status = _http_status(message)
                transient = code in _TRANSIENT_CODES or (
                    http_status is not None and (http_status == 429 or http_status >= 500)
                )
                if not transient:
                    raise FlickrCallError(f"{method}: {message}") from None
            except OSError as error:  # requests' ConnectionError / Timeout derive from OSError
                message = self._scrub(f"{type(error).__name__}: {error}")
            except ValueError as error:  # a 200 answer that is not JSON: a proxy's page, garbage
                message = self._scrub(f"the answer is not Flickr's JSON ({error})")
            attempt += 1
            if attempt > self.max_retries:
                raise TransientError(f"{method} failed {attempt} times: {message}") from None
            time.sleep(self.backoff_seconds * 2 ** (attempt - 1))

    # ------------------------------------------------------------------ methods
    def licenses(self) -> dict[str, License]:
        method = "flickr.photos.licenses.getInfo"
        with _answer_shape(method):
            rows = self.call(method)["licenses"]["license"]
            return {str(r["id"]): License(str(r["id"]), r["name"], r.get("url", "")) for r in rows}

    def search_page(self, query: SearchQuery, page: int, per_page: int) -> dict:
        with _answer_shape("flickr.photos.search"):
            photos = self._search_page(query, page, per_page)
            int(photos["total"]), int(photos["pages"]), list(photos["photo"])
            return photos

    def _search_page(self, query: SearchQuery, page: int, per_page: int) -> dict:
        return self.call(
            "flickr.photos.search",
            tags=",".join(query.tags),
            tag_mode=query.tag_mode,
            license=",".join(query.license_ids),
            media="videos",
            min_upload_date=query.min_upload,
            max_upload_date=query.max_upload,
            extras=SEARCH_EXTRAS,
            sort="date-posted-desc",
            per_page=per_page,
            page=page,
        )["photos"]

    def video_url(self, photo_id: str, max_width: int = 640) -> tuple[str, int, int]:
        """The smallest video size at most `max_width` wide (else the smallest): (url, w, h)."""
        with _answer_shape("flickr.photos.getSizes"):
            sizes = self.call("flickr.photos.getSizes", photo_id=photo_id)["sizes"]["size"]
            videos = [s for s in sizes if s.get("media") == "video" and s.get("source")]
            if not videos:
                raise FlickrCallError(f"getSizes: no video size for photo {photo_id}")
            videos.sort(key=lambda s: int(s.get("width") or 0))
            fitting = [s for s in videos if int(s.get("width") or 0) <= max_width]
            chosen = fitting[-1] if fitting else videos[0]
            # Any small size is enough for 80 x 45, but skip ones smaller than that.
            width, height = int(chosen.get("width") or 0), int(chosen.get("height") or 0)
            return str(chosen["source"]), width, height


class FlickrCallError(Exception):
    """A call Flickr answered with a permanent error (photo gone, bad parameter, ...)."""


@contextlib.contextmanager
def _answer_shape(method: str) -> Iterator[None]:
    """JSON that is not shaped as Flickr's answer to `method` is a FlickrCallError."""
    try:
        yield
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        what = f"no {error}" if isinstance(error, KeyError) else f"{type(error).__name__}: {error}"
        raise FlickrCallError(f"{method}: the answer is not shaped as Flickr's ({what})") from None


def _error_code(error: FlickrError) -> int | None:
    code = getattr(error, "code", None)
    try:
        return int(code) if code is not None else None
    except (TypeError, ValueError):
        return None


def _http_status(message: str) -> int | None:
    found = re.search(r"Status code (\d{3})", message)
    return int(found.group(1)) if found else None


def iter_search(
    client: FlickrClient,
    query: SearchQuery,
    *,
    per_page: int = 500,
    is_done: Callable[[SearchQuery], bool] = lambda q: False,
    on_window_done: Callable[[SearchQuery, int], None] = lambda q, n: None,
    on_page: Callable[[], None] = lambda: None,
) -> Iterator[tuple[SearchQuery, list[dict]]]:
    """Yield (window, photos of one page) for every result of `query`, splitting the upload-date
    range in halves until each window holds fewer than the result cap. Windows already searched
    (`is_done`) are skipped; each finished window is reported to `on_window_done`."""
    pending = [query]
    while pending:
        window = pending.pop()
        if is_done(window):
            continue
        first = client.search_page(window, 1, per_page)
        on_page()
        total = int(first["total"])
        if total >= client.result_cap and window.max_upload > window.min_upload:
            middle = (window.min_upload + window.max_upload) // 2
            pending.append(_window(window, middle + 1, window.max_upload))
            pending.append(_window(window, window.min_upload, middle))
            continue
        yield window, first["photo"]
        n_pages = min(int(first["pages"]), -(-min(total, client.result_cap) // per_page))
        for page in range(2, n_pages + 1):
            photos = client.search_page(window, page, per_page)["photo"]
            on_page()
            yield window, photos
        on_window_done(window, total)


def _window(query: SearchQuery, min_upload: int, max_upload: int) -> SearchQuery:
    return SearchQuery(query.tags, query.tag_mode, query.license_ids, min_upload, max_upload)
