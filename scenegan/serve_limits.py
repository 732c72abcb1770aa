"""What keeps `scenegan serve` up under load and abuse, in one place: a deadline for a request's
head and for its body, an upload read into memory only up to its size limit, a pixel limit read
from the image header before anything is decoded, at most K decodes (and encodes) at once, query
numbers parsed with a length limit and within the ranges `scenegan sample` takes, and an aborted
upload logged in one line.

Each refusal is a BadRequest: an HTTP status and one plain-text line.
"""

from __future__ import annotations

import asyncio
import io
import logging
import math
import re
import time
import warnings

from starlette.requests import ClientDisconnect, Request

LOG = logging.getLogger("uvicorn.error")  # where uvicorn's own lines go, in its format
MULTIPART_SLACK = 64 * 1024  # boundaries and part headers around the photo's bytes
# Python refuses int() of over 4300 digits with a ValueError (a 500); no option needs 20.
MAX_DIGITS = 20
MAX_TEXT = 32  # characters of any other query value (speed, format, ...)
MAX_N = 8  # animations per request: each costs a generator pass under the one lock
MAX_SCALE = 8
# The query's numbers, low..high: the ranges of `scenegan sample`'s options of the same names
# (tests/test_serve.py holds them equal). speed: a factor on the motion; motion: pixels per frame
# at the dataset's size; fps: the rate to animate at, which the file then plays at.
NUMBER_RANGES = {"speed": (0.0, 8.0), "motion": (0.0, 20.0), "fps": (1.0, 240.0)}
# Uploads read into memory at once: about this many bytes of them (at least 2 uploads), so
# 50 clients sending 20 MB each wait their turn instead of taking 1 GB.
UPLOAD_MEMORY = 256 * 2**20


class BadRequest(Exception):
    """A request the server refuses: an HTTP status and one line saying why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ClientGone(Exception):
    """The client went away in the middle of its upload: one log line, no answer."""


def whole_number(name: str, text: str, low: int, high: int) -> int:
    """A query value that must be a whole number in low..high; anything else is a 400 (a
    thousand-digit number too, checked by length before it is converted)."""
    if len(text) > MAX_DIGITS or not re.fullmatch(r"\d+", text) or not low <= int(text) <= high:
        shown = text if len(text) <= MAX_DIGITS else f"{text[:MAX_DIGITS]}... ({len(text)} chars)"
        raise BadRequest(400, f"{name}={shown!r}: not a whole number in {low}..{high}")
    return int(text)


def number_between(name: str, text: str, low: float, high: float) -> float:
    """A query value that must be a number in low..high; anything else (nan, inf) is a 400."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not low <= value <= high:  # nan fails too
        raise BadRequest(400, f"{name}={text!r}: not a number in {low:g}..{high:g}")
    return value


def short_text(name: str, text: str) -> str:
    """A query value of any other kind: at most MAX_TEXT characters, else a 400."""
    if len(text) > MAX_TEXT:
        raise BadRequest(400, f"{name}: a value of {len(text)} characters is not an option")
    return text


class UploadGate:
    """How many uploads are read into memory at once, and how long a client may keep one
    waiting: `timeout` seconds without a byte, four times that for the whole body."""

    def __init__(self, limit: int, timeout: float) -> None:
        self.limit, self.timeout = limit, timeout
        self.slots = asyncio.Semaphore(max(2, UPLOAD_MEMORY // max(limit + MULTIPART_SLACK, 1)))

    async def read_body(self, request: Request) -> bytes:
        """The request body, refused with 413 once longer than the limit and with 408 when the
        client stalls; an upload the client aborts raises ClientGone."""
        too_large = BadRequest(413, f"upload too large: the limit is {self.limit / 2**20:g} MB")
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.limit + MULTIPART_SLACK:
            raise too_large
        async with self.slots:
            chunks, size = [], 0
            stream = request.stream().__aiter__()
            deadline = time.monotonic() + 4 * self.timeout
            while True:
                wait = min(self.timeout, deadline - time.monotonic())
                try:
                    chunk = await asyncio.wait_for(stream.__anext__(), max(wait, 0))
                except StopAsyncIteration:
                    break
                except (asyncio.TimeoutError, TimeoutError):
                    raise BadRequest(
                        408,
                        f"the upload stalled after {size} bytes (a client may be silent for "
                        f"{self.timeout:g} s and take {4 * self.timeout:g} s in all)",
                    ) from None
                except ClientDisconnect:
                    client = request.client.host if request.client else "a client"
                    LOG.warning("upload aborted by %s after %d bytes", client, size)
                    raise ClientGone from None
                size += len(chunk)
                if size > self.limit + MULTIPART_SLACK:
                    raise too_large
                chunks.append(chunk)
            return b"".join(chunks)


def check_pixels(data: bytes, max_pixels: int, name: str) -> None:
    """Refuse (413) an image whose header claims more than `max_pixels`, before any of it is
    decoded: a 165 KB PNG can claim 13000 x 13000 pixels and take gigabytes to decode. A file
    Pillow cannot even identify is left to the decoder, which says so."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():  # Pillow warns above 89 MP; the answer says it
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:  # reads the header only
                width, height = image.size
    except Image.DecompressionBombError:
        width = height = None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return
    if width is None or width * height > max_pixels:
        size = "far too many" if width is None else f"{width} x {height}"
        raise BadRequest(
            413,
            f"{name}: {size} pixels is over this server's limit of "
            f"{max_pixels / 1e6:g} megapixels; scale the photo down (it becomes 80 x 45)",
        )


def timed_protocol(head_timeout: float):
    """uvicorn's HTTP/1.1 protocol, with a deadline for each request's head: a client that
    connects (or keeps a connection alive) and does not send a whole request line and headers
    within `head_timeout` seconds is disconnected with one log line. uvicorn itself times out
    only idle keep-alive connections, so a slow-loris client would hold its socket forever."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeadDeadlineProtocol(H11Protocol):
        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._deadline = None
            self._arm()

        def _arm(self) -> None:
            self._disarm()
            self._partial = False  # bytes of a head arrived, but not the whole head
            self._deadline = self.loop.call_later(head_timeout, self._head_timed_out)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def data_received(self, data: bytes) -> None:
            self._partial = True
            super().data_received(data)

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()  # the next request on this connection has its own deadline

        def connection_lost(self, exc) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _head_timed_out(self) -> None:
            self._deadline = None
            if self.cycle is not None and not self.cycle.response_complete:
                return  # a request is in hand: its body has the app's deadlines
            if self.transport.is_closing():
                return
            if self._partial:  # an idle connection (a browser's spare) is closed quietly
                client = self.client[0] if self.client else "a client"
                LOG.warning(
                    "closed a connection from %s: no whole request head in %g s",
                    client,
                    head_timeout,
                )
            self.transport.close()

    return HeadDeadlineProtocol
