"""A bounded load test of `scenegan serve` on 127.0.0.1: the real command in its own process,
hit at once by good uploads, near-bombs (photos just under the pixel limit, which are decoded),
over-limit bombs (refused from their header), clients that stall in the request head or the
body and clients that abort their upload. What it measures: how many good requests were
answered, their latency, the server's peak resident memory (VmHWM) and whether it still serves.

Used by tests/test_serve_load.py (assertions) and benchmarks/serve_load.py (a table).
"""

from __future__ import annotations

import http.client
import io
import math
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

BOUNDARY = "scenegan-load-boundary"


@dataclass
class LoadResult:
    good: list[int] = field(default_factory=list)  # status per good upload
    near_bombs: list[int] = field(default_factory=list)
    over_limit: list[int] = field(default_factory=list)
    body_stalls: list[int] = field(default_factory=list)  # status the server answered (or 0)
    head_stalls: list[bool] = field(default_factory=list)  # closed by the server in time
    aborted: int = 0
    latencies: list[float] = field(default_factory=list)  # seconds, good uploads
    peak_rss: int = 0  # bytes, the server's VmHWM
    still_up: bool = False
    log: str = ""
    seconds: float = 0.0

    @property
    def p95(self) -> float:
        ordered = sorted(self.latencies)
        return ordered[max(math.ceil(0.95 * len(ordered)) - 1, 0)] if ordered else math.nan

    def table(self) -> str:
        answered = sum(s == 200 for s in self.good)
        rows = [
            ("good uploads answered 200", f"{answered} / {len(self.good)}"),
            ("near-bombs (just under the limit) answered 200", _count(self.near_bombs, 200)),
            ("over-limit bombs refused 413 (header)", _count(self.over_limit, 413)),
            ("stalled bodies answered 408", _count(self.body_stalls, 408)),
            ("stalled heads closed", f"{sum(self.head_stalls)} / {len(self.head_stalls)}"),
            ("aborted uploads: one log line each", f"{self.log.count('upload aborted')}"),
            ("good latency p50 / p95 / max (s)", self._latency_text()),
            ("server peak RSS (VmHWM)", f"{self.peak_rss / 2**20:.0f} MB"),
            ("server still up afterwards", "yes" if self.still_up else "NO"),
            ("tracebacks in the server log", str(self.log.count("Traceback"))),
            ("wall time of the run (s)", f"{self.seconds:.1f}"),
        ]
        width = max(len(name) for name, _ in rows)
        return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)

    def _latency_text(self) -> str:
        if not self.latencies:
            return "-"
        ordered = sorted(self.latencies)
        return f"{ordered[len(ordered) // 2]:.2f} / {self.p95:.2f} / {ordered[-1]:.2f}"


def _count(statuses: list[int], wanted: int) -> str:
    return f"{sum(s == wanted for s in statuses)} / {len(statuses)}"


def multipart(name: str, data: bytes) -> bytes:
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="image"; filename="{name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    return head + data + f"\r\n--{BOUNDARY}--\r\n".encode()


def request_head(length: int, query: str = "") -> bytes:
    return (
        f"POST /animate{query} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


def png_claiming(width: int, height: int) -> bytes:
    """A PNG of a few hundred bytes whose header claims width x height pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat)


NEAR_BOMB_MODES = {"L": 90, "I;16": 30000, "RGB": (40, 90, 160)}  # 8-bit, 16-bit grey, colour


def near_bomb(max_pixels: int, mode: str) -> bytes:
    """A real, flat PNG of 98 % of `max_pixels` (16:9): small on the wire, big to decode."""
    from PIL import Image

    height = int(math.sqrt(0.98 * max_pixels * 9 / 16))
    width = int(0.98 * max_pixels / height)
    image = Image.new(mode, (width, height), NEAR_BOMB_MODES[mode])
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def post(port: int, name: str, data: bytes, query: str = "?seed=1") -> tuple[int, float]:
    """One upload on its own connection: (status, seconds to the whole answer)."""
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    try:
        body = multipart(name, data)
        connection.request(
            "POST",
            f"/animate{query}",
            body=body,
            headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
        )
        response = connection.getresponse()
        response.read()
        return response.status, time.perf_counter() - started
    finally:
        connection.close()


def stall_in_body(port: int, data: bytes, wait: float) -> int:
    """Send the head and a third of the body, then nothing: the status the server answers
    (0 if it answers nothing within `wait` seconds)."""
    body = multipart("stalled.jpg", data)
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(request_head(len(body)) + body[: len(body) // 3])
        try:
            answer = sock.recv(64)
        except TimeoutError:
            return 0
    match = re.match(rb"HTTP/1\.1 (\d+)", answer)
    return int(match.group(1)) if match else 0


def stall_in_head(port: int, wait: float) -> bool:
    """Send half a request head, then nothing: whether the server closes the connection within
    `wait` seconds."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(b"POST /animate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty")
        try:
            return sock.recv(64) == b""
        except (TimeoutError, ConnectionResetError):
            return False


def abort_upload(port: int, data: bytes) -> None:
    """Send the head and half the body, then hang up."""
    body = multipart("aborted.jpg", data)
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request_head(len(body)) + body[: len(body) // 2])
        time.sleep(0.5)


def peak_rss(pid: int) -> int:
    """VmHWM: the most resident memory the process has held, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def start_server(args: list[str], log: Path) -> tuple[subprocess.Popen, int]:
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    command = [sys.executable, "-m", "scenegan.cli", "serve", "--port", "0", *args]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=open(log, "wb"), text=True, env=env
    )
    line = process.stdout.readline()  # "serving ... at http://127.0.0.1:PORT/ (...)"
    match = re.search(r"127\.0\.0\.1:(\d+)/", line)
    if match is None:
        process.kill()
        raise RuntimeError(f"scenegan serve did not start: {line!r} {log.read_text()[-2000:]}")
    return process, int(match.group(1))


def run_load(
    workdir: Path,
    *,
    n_good: int = 40,
    n_near_bombs: int = 10,
    n_over_limit: int = 2,
    n_body_stalls: int = 3,
    n_head_stalls: int = 2,
    n_aborted: int = 2,
    timeout: float = 3.0,
    max_megapixels: float = 24.0,
    decoders: int = 2,
) -> LoadResult:
    """Start `scenegan serve`, send everything at once, measure, stop it."""
    from scenegan.model.animator import EXAMPLES

    photos = sorted(EXAMPLES.glob("*.jpg"))
    max_pixels = int(max_megapixels * 1e6)
    bombs = [near_bomb(max_pixels, mode) for mode in NEAR_BOMB_MODES]
    uploads = [("good", p.name, p.read_bytes()) for p in photos] * math.ceil(n_good / len(photos))
    uploads = uploads[:n_good]
    uploads += [("near", f"near-{i}.png", bombs[i % len(bombs)]) for i in range(n_near_bombs)]
    uploads += [("over", "bomb.png", png_claiming(13000, 13000)) for _ in range(n_over_limit)]

    log = workdir / "serve.log"
    args = ["--timeout", str(timeout), "--max-megapixels", str(max_megapixels)]
    process, port = start_server([*args, "--decoders", str(decoders)], log)
    result = LoadResult()
    started = time.perf_counter()
    try:
        wait = 4 * timeout + 60
        with ThreadPoolExecutor(max_workers=len(uploads) + 16) as pool:
            body_stalls = [
                pool.submit(stall_in_body, port, photos[0].read_bytes(), wait)
                for _ in range(n_body_stalls)
            ]
            head_stalls = [pool.submit(stall_in_head, port, wait) for _ in range(n_head_stalls)]
            aborted = [
                pool.submit(abort_upload, port, photos[0].read_bytes()) for _ in range(n_aborted)
            ]
            gate = threading.Barrier(len(uploads))

            def send(upload):
                kind, name, data = upload
                gate.wait()
                return kind, *post(port, name, data)

            for kind, status, seconds in pool.map(send, uploads):
                if kind == "good":
                    result.good.append(status)
                    result.latencies.append(seconds)
                else:
                    (result.near_bombs if kind == "near" else result.over_limit).append(status)
            result.body_stalls = [f.result() for f in body_stalls]
            result.head_stalls = [f.result() for f in head_stalls]
            for future in aborted:
                future.result()
            result.aborted = len(aborted)
        result.seconds = time.perf_counter() - started
        time.sleep(0.5)  # the server's log lines of the last aborted uploads
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", "/info")
        result.still_up = connection.getresponse().status == 200 and process.poll() is None
        connection.close()
        result.peak_rss = peak_rss(process.pid)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        result.log = log.read_text(errors="replace")
    return result
