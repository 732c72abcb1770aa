"""`scenegan serve`: a small web page at `/` and `POST /animate`, over one generator loaded once.

Starlette + uvicorn (docs/serve.md says why not Gradio). An upload is read into memory up
to a size limit and never written to disk; one lock lets one generator call run at a time, so
concurrent requests get the same bytes as sequential ones. A bad request gets a 4xx and one line.
"""

from __future__ import annotations

import io
import logging
import math
import random
import re
import socket
import threading
from dataclasses import dataclass
from pathlib import Path

import anyio
import click
import numpy as np
import torch
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
)
from starlette.routing import Route

from scenegan.animation_files import RESAMPLING, animation_bytes
from scenegan.config import ServeConfig
from scenegan.errors import UserError
from scenegan.model.animator import EXAMPLES, Animator, controls_of, grid_frames, output_names
from scenegan.serve_limits import (
    MAX_N,
    MAX_SCALE,
    NUMBER_RANGES,
    BadRequest,
    ClientGone,
    UploadGate,
    check_pixels,
    number_between,
    short_text,
    timed_protocol,
    whole_number,
)

PAGE = Path(__file__).with_name("serve.html")
MEDIA_TYPES = {"gif": "image/gif", "mp4": "video/mp4"}


@dataclass(frozen=True)
class AnimateOptions:
    """The query parameters of `POST /animate`, named as `scenegan sample`'s options."""

    seed: int | None = None  # None: a random seed, answered in the X-Seed header
    n: int = 1  # animations drawn (one noise each, as `sample --n`)
    index: int | None = None  # only animation `index` (0-based) of the n; None: see clip()
    loop: bool = False
    speed: float = 1.0
    motion: float | None = None  # motion models: pixels per frame (None: from the photo)
    fps: float | None = None  # motion models: the rate to animate at (None: the dataset's)
    format: str = "gif"
    scale: int = 1
    resample: str = "nearest"


def parse_options(query: dict[str, str]) -> AnimateOptions:
    """The options of a query string; a bad or unknown one is a BadRequest (400)."""
    names = AnimateOptions.__dataclass_fields__
    unknown = sorted(set(query) - set(names))
    if unknown:
        raise BadRequest(400, f"unknown option {unknown[0]!r}; options: {', '.join(names)}")
    for name, value in query.items():
        short_text(name, value)
    options: dict = {}
    if "seed" in query:
        options["seed"] = whole_number("seed", query["seed"], 0, 2**32 - 1)
    if "n" in query:
        options["n"] = whole_number("n", query["n"], 1, MAX_N)
    if "index" in query:
        options["index"] = whole_number("index", query["index"], 0, options.get("n", 1) - 1)
    if "scale" in query:
        options["scale"] = whole_number("scale", query["scale"], 1, MAX_SCALE)
    if "loop" in query:
        value = query["loop"].lower()
        if value not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
            raise BadRequest(400, f"loop={query['loop']!r}: use true or false")
        options["loop"] = value in ("true", "1", "yes", "on")
    for name, (low, high) in NUMBER_RANGES.items():
        if name in query:
            options[name] = number_between(name, query[name], low, high)
    for name, choices in (("format", MEDIA_TYPES), ("resample", RESAMPLING)):
        if name in query:
            if query[name] not in choices:
                raise BadRequest(400, f"{name}={query[name]!r}: use one of {', '.join(choices)}")
            options[name] = query[name]
    return AnimateOptions(**options)


class Service:
    """The model, loaded once, and the lock its calls take turns on."""

    def __init__(self, animator: Animator) -> None:
        self.animator = animator
        # torch promises nothing about one module run from several threads, and parallel passes
        # would only share the same cores: one at a time, each with its own seeded noise.
        self.lock = threading.Lock()

    def clip(self, photo: np.ndarray, options: AnimateOptions, seed: int) -> np.ndarray:
        """uint8 (T, H, W): animation `index` of n; else with n > 1 the photo and its n
        animations side by side (as `sample --grid`); else the one animation."""
        with self.lock:
            animations = self.animator.animations(photo, options.n, seed, **controls_of(options))
        if options.index is not None:
            return animations[options.index]
        return grid_frames(photo, animations) if options.n > 1 else animations[0]

    def describe(self) -> dict:
        """What the page shows and offers: the model, the example photos, the limits."""
        animator = self.animator
        return {
            "checkpoint": Path(animator.source).name,
            "arch": animator.arch,
            "clip_format": animator.fmt.to_dict(),
            "fps": animator.fps,
            "controls": list(animator.controls),
            "examples": [p.name for p in sorted(EXAMPLES.glob("*.jpg"))],
            "max_n": MAX_N,
            "ranges": {name: list(bounds) for name, bounds in NUMBER_RANGES.items()},
        }


def form_parts(content_type: str, body: bytes) -> dict[str, tuple[str, bytes]]:
    """field name -> (file name, bytes) of a multipart/form-data body, all kept in memory."""
    from python_multipart.exceptions import FormParserError
    from python_multipart.multipart import FormParser, parse_options_header

    kind, params = parse_options_header(content_type)
    if kind != b"multipart/form-data" or not params.get(b"boundary"):
        raise BadRequest(
            415,
            "send the photo as multipart/form-data in the field `image` (curl -F image=@photo.jpg)",
        )
    parts: dict[str, tuple[str, bytes]] = {}

    def on_file(file) -> None:
        file.file_object.seek(0)
        name = (file.file_name or b"").decode("utf-8", "replace")
        parts[(file.field_name or b"").decode("utf-8", "replace")] = (name, file.file_object.read())

    def on_field(field) -> None:
        parts[(field.field_name or b"").decode("utf-8", "replace")] = ("", field.value or b"")

    # MAX_MEMORY_FILE_SIZE: never spill a file part to a temporary file on disk.
    # UPLOAD_ERROR_ON_BAD_CTE: a part in a transfer encoding the parser cannot undo (gzip, say)
    # is refused, not read as if it were the bytes themselves.
    config = {"MAX_MEMORY_FILE_SIZE": math.inf, "UPLOAD_ERROR_ON_BAD_CTE": True}
    try:
        # The constructor checks the boundary (at most 256 characters in python_multipart
        # 0.0.34): a longer one raises here, not in write().
        parser = FormParser(
            "multipart/form-data", on_field, on_file, boundary=params[b"boundary"], config=config
        )
        parser.write(body)
        parser.finalize()
    except FormParserError as error:
        raise BadRequest(400, f"the multipart form could not be read ({error})") from None
    return parts


def uploaded_image(content_type: str, body: bytes, limit: int) -> tuple[str, bytes]:
    """(file name, bytes) of the form's field `image`; a form without it, or with one over
    `limit` bytes, is a BadRequest. Only the image's bytes outlive the call, not the body's."""
    parts = form_parts(content_type, body)
    if "image" not in parts:
        fields = ", ".join(repr(name) for name in parts) or "none"
        raise BadRequest(400, f"no field 'image' in the form (fields: {fields})")
    file_name, data = parts["image"]
    if len(data) > limit:
        raise BadRequest(413, f"upload too large: the limit is {limit / 2**20:g} MB")
    return file_name, data


def animation_response(content: bytes, options: AnimateOptions, stem: str, seed: int) -> Response:
    """The answer of `POST /animate`: the file, named as `sample` names it, and its seed."""
    names = output_names(stem, options.n, grid=options.index is None and options.n > 1)
    name = names[options.index or 0] + "." + options.format
    headers = {
        "Content-Disposition": f'inline; filename="{name}"',
        "X-Seed": str(seed),
        "Cache-Control": "no-store",
    }
    return Response(content, media_type=MEDIA_TYPES[options.format], headers=headers)


def download_stem(file_name: str) -> str:
    """`Lake at dusk.JPG` -> `Lake-at-dusk`: the upload's name, safe in a header and a path."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(file_name).stem).strip("-.")
    return stem[:80] or "photo"


async def _refuse(request: Request, error: BadRequest) -> Response:
    return PlainTextResponse(_one_line(str(error)) + "\n", status_code=error.status)


async def _gone(request: Request, error: ClientGone) -> Response:
    return Response(status_code=499)  # logged in one line; nobody is there to read it


def create_app(config: ServeConfig, generator: tuple[torch.nn.Module, dict] | None = None):
    """The Starlette app of `scenegan serve`, with its model loaded now (once).

    `generator` (G, info) replaces loading `config.checkpoint` (for callers holding a model).
    """
    service = Service(Animator.load(config.checkpoint, device=config.device, given=generator))
    # python_multipart logs a warning for each malformed form before it raises: the client gets
    # the reason in its 400 line, and the log is not a place any client can write lines into.
    logging.getLogger("python_multipart").setLevel(logging.ERROR)
    limit = int(config.max_upload_mb * 2**20)
    gate = UploadGate(limit, config.timeout)
    max_pixels = int(config.max_megapixels * 1e6)
    # Decoding a photo (up to max_pixels) and encoding an answer take memory: K at once.
    heavy = anyio.CapacityLimiter(config.decoders)

    page_html = PAGE.read_text()

    async def page(request: Request) -> Response:
        return HTMLResponse(page_html)

    async def describe(request: Request) -> Response:
        return JSONResponse(service.describe())

    async def example(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in service.describe()["examples"]:  # names only: no path reaches out
            raise BadRequest(404, f"no example photo {name!r}")
        return FileResponse(EXAMPLES / name, media_type="image/jpeg")

    async def animate_upload(request: Request) -> Response:
        options = parse_options(dict(request.query_params))
        content_type = request.headers.get("content-type", "")
        file_name, data = uploaded_image(content_type, await gate.read_body(request), limit)
        name = file_name or "the upload"
        check_pixels(data, max_pixels, name)  # from the header, before any decoding
        seed = options.seed if options.seed is not None else random.randrange(2**31)
        stem = download_stem(file_name)

        def decode() -> np.ndarray:
            return service.animator.photo(io.BytesIO(data), name=name)

        def encode(frames: np.ndarray) -> bytes:
            return animation_bytes(
                options.format,
                frames,
                fps=service.animator.plays_at(options.fps),
                scale=options.scale,
                resample=options.resample,
            )

        try:
            photo = await anyio.to_thread.run_sync(decode, limiter=heavy)
            frames = await run_in_threadpool(service.clip, photo, options, seed)
        except UserError as error:
            raise BadRequest(400, str(error)) from None
        content = await anyio.to_thread.run_sync(encode, frames, limiter=heavy)
        return animation_response(content, options, stem, seed)

    routes = [
        Route("/", page),
        Route("/info", describe),
        Route("/examples/{name}", example),
        Route("/animate", animate_upload, methods=["POST"]),
    ]
    handlers = {BadRequest: _refuse, ClientGone: _gone}
    app = Starlette(routes=routes, exception_handlers=handlers)
    app.state.service = service
    return app


def _one_line(text: str) -> str:
    return "; ".join(line.strip() for line in text.splitlines() if line.strip())


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to host:port (port 0: any free one); a port in use is one clear line."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as error:
        raise UserError(
            f"--host {host}: not an address of this machine ({error.strerror})"
        ) from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)  # from now on connections wait in the backlog until uvicorn takes them
    except OSError as error:
        sock.close()
        raise UserError(f"cannot listen on {host}:{port} ({error.strerror})") from None
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def serve(config: ServeConfig) -> None:
    """Load the model, listen on config.host:config.port and serve until Ctrl+C."""
    import uvicorn

    app = create_app(config)
    sock = listening_socket(config.host, config.port)
    service: Service = app.state.service
    server = uvicorn.Server(
        uvicorn.Config(
            app, log_level="warning", access_log=False, http=timed_protocol(config.timeout)
        )
    )
    click.echo(
        f"serving {service.animator.source} at {url_of(sock)} "
        f"(uploads up to {config.max_upload_mb:g} MB; Ctrl+C stops)"
    )
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn stops gracefully, then raises Ctrl+C again; or it came
        pass  # before uvicorn was listening for it
    click.echo("stopped")
