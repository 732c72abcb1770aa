"""`scenegan serve` with the shipped generator, served for real by uvicorn on 127.0.0.1: POST
/animate over plain HTTP (the bytes `scenegan sample` writes, its errors as one line, concurrent
requests), the command itself, and the page in headless Chromium."""

from __future__ import annotations

import io
import logging
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

import av
import httpx
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from web import chromium, fetch_bytes, screenshot, served, server_log

from scenegan.animation_files import animation_bytes
from scenegan.cli import cli
from scenegan.config import SampleConfig, ServeConfig
from scenegan.model.animator import EXAMPLES
from scenegan.model.sample import sample
from scenegan.serve import create_app
from scenegan.serve_limits import NUMBER_RANGES

PHOTO = EXAMPLES / "lake-dusk.jpg"
LIMIT_MB = 4  # small, so a too-large upload is quick to send


@pytest.fixture(scope="module")
def base_url():
    with served(create_app(ServeConfig(max_upload_mb=LIMIT_MB))) as url:
        yield url


@pytest.fixture(scope="module")
def client(base_url):
    with httpx.Client(base_url=base_url, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def motion_app():
    """A motion model (as initialised from seed 0, untrained), which takes motion and fps."""
    from scenegan.model.archs import build_generator, default_args

    torch.manual_seed(0)
    G = build_generator("motion", default_args("motion", "large")[0]).eval()
    app = create_app(ServeConfig(), generator=(G, {"arch": "motion"}))
    with served(app) as url:
        yield app, url


@pytest.fixture(scope="module")
def flow_url():
    """A flow model (as initialised from seed 0, untrained), which takes neither motion nor
    fps."""
    from scenegan.model.archs import build_generator, default_args

    torch.manual_seed(0)
    G = build_generator("flow", default_args("flow", "large")[0]).eval()
    with served(create_app(ServeConfig(), generator=(G, {"arch": "flow"}))) as url:
        yield url


def post(client, query="", name=PHOTO.name, data=None, field="image", **kwargs):
    files = {field: (name, PHOTO.read_bytes() if data is None else data)}
    return client.post(f"/animate{query}", files=files, **kwargs)


def gif_frames(content: bytes) -> tuple[int, tuple[int, int]]:
    with Image.open(io.BytesIO(content)) as image:
        assert image.format == "GIF"
        return image.n_frames, image.size


def gif_delay(content: bytes) -> float:
    """A GIF's first frame's duration in ms: whole hundredths of a second (24 fps: 40 ms)."""
    with Image.open(io.BytesIO(content)) as image:
        return image.info["duration"]


def big_png(n_bytes: int) -> bytes:
    """A noise PNG of at least n_bytes (noise does not compress)."""
    side = int((n_bytes / 3) ** 0.5) + 16
    pixels = np.random.default_rng(0).integers(0, 256, (side, side, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=0)
    assert buffer.tell() >= n_bytes
    return buffer.getvalue()


# ---------------------------------------------------------------- POST /animate


def test_animate_answers_the_gif_scenegan_sample_writes(client, tmp_path):
    response = post(client, "?seed=5")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/gif"
    assert response.headers["x-seed"] == "5"
    assert 'filename="lake-dusk.gif"' in response.headers["content-disposition"]
    assert gif_frames(response.content) == (32, (80, 45))
    # The same photo and seed through `scenegan sample`: the same file, byte for byte.
    sample(SampleConfig(images=(PHOTO,), seed=5, out=tmp_path))
    assert response.content == (tmp_path / "lake-dusk.gif").read_bytes()
    # Without a seed one is drawn and answered, and it repeats the animation.
    drawn = post(client)
    again = post(client, f"?seed={drawn.headers['x-seed']}")
    assert drawn.content == again.content


def test_animate_options(client, tmp_path):
    sample(SampleConfig(images=(PHOTO,), seed=7, n=3, out=tmp_path / "n3"))
    sample(SampleConfig(images=(PHOTO,), seed=7, n=3, grid=True, out=tmp_path / "grid"))
    second = post(client, "?seed=7&n=3&index=1")
    assert 'filename="lake-dusk-2.gif"' in second.headers["content-disposition"]
    assert second.content == (tmp_path / "n3" / "lake-dusk-2.gif").read_bytes()
    grid = post(client, "?seed=7&n=3")  # the photo and 3 animations, as `sample --grid`
    assert grid.content == (tmp_path / "grid" / "lake-dusk-grid.gif").read_bytes()
    assert gif_frames(grid.content) == (32, (4 * 80 + 3 * 2, 45))
    assert gif_frames(post(client, "?seed=7&scale=3&resample=bicubic").content) == (32, (240, 135))
    looped = post(client, "?seed=7&loop=true&speed=2")
    assert looped.status_code == 200 and looped.content != post(client, "?seed=7").content
    video = post(client, "?seed=7&format=mp4&scale=2", name="my photo.JPG")
    assert video.headers["content-type"] == "video/mp4"
    assert 'filename="my-photo.mp4"' in video.headers["content-disposition"]
    with av.open(io.BytesIO(video.content)) as container:
        frames = [f.to_ndarray(format="gray") for f in container.decode(video=0)]
    assert len(frames) == 32 and frames[0].shape == (90, 160)


def test_motion_and_fps_reach_a_motion_model(motion_app):
    """`?motion=&fps=` animate as the animator does with those controls (`sample --motion
    --fps`), and the GIF or MP4 plays at the asked rate; a value out of its range is a 400."""
    app, url = motion_app
    animator = app.state.service.animator
    with httpx.Client(base_url=url, timeout=60) as api:
        info = api.get("/info").json()
        assert {"motion", "fps"} <= set(info["controls"])
        assert info["ranges"] == {name: list(bounds) for name, bounds in NUMBER_RANGES.items()}
        asked = post(api, "?seed=3&motion=1.5&fps=24")
        own = post(api, "?seed=3")
        assert asked.status_code == own.status_code == 200, asked.text + own.text
        photo = animator.photo(PHOTO)
        frames = animator.animations(photo, 1, 3, motion=1.5, fps=24.0)[0]
        assert asked.content == animation_bytes("gif", frames, fps=24.0)
        assert asked.content != own.content
        assert gif_delay(asked.content) == pytest.approx(1000 / 24, abs=5)
        assert gif_delay(own.content) == pytest.approx(1000 / info["fps"], abs=5)
        video = post(api, "?seed=3&fps=30&format=mp4")
        with av.open(io.BytesIO(video.content)) as container:
            assert container.streams.video[0].average_rate == 30
        for query, words in (("?motion=-0.1", "0..20"), ("?fps=0.5", "1..240")):
            refused = post(api, query)
            assert refused.status_code == 400 and words in refused.text
            assert refused.text.count("\n") == 1


def test_the_query_ranges_are_those_of_sample():
    """`POST /animate?speed=&motion=&fps=` take what `scenegan sample --speed --motion --fps`
    take: one range each, whichever way a model is asked."""
    options = {param.name: param.type for param in cli.commands["sample"].params}
    for name, (low, high) in NUMBER_RANGES.items():
        assert (options[name].min, options[name].max) == (low, high), name


def png_claiming(width: int, height: int, bit_depth: int = 8) -> bytes:
    """A PNG of a few hundred bytes whose header claims width x height grey pixels."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, bit_depth, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))


BAD_REQUESTS = {
    # case: (query, upload keyword arguments, status, words of the one-line answer)
    "not-an-image": ("", {"data": b"hello, not a photo", "name": "notes.jpg"}, 400, "not an image"),
    "empty-file": ("", {"data": b"", "name": "empty.png"}, 400, "not an image"),
    "truncated-jpeg": ("", {"data": PHOTO.read_bytes()[:300]}, 400, "not an image"),
    "wrong-field": ("", {"field": "photo"}, 400, "no field 'image'"),
    "too-large": ("", {"data": b"\xff\xd8" + bytes(LIMIT_MB * 2**20 + 1)}, 413, "too large"),
    "seed-negative": ("?seed=-1", {}, 400, "seed"),
    "seed-word": ("?seed=seven", {}, 400, "seed"),
    "n-zero": ("?n=0", {}, 400, "n="),
    "n-huge": ("?n=1000", {}, 400, "n="),
    "index-past-n": ("?n=2&index=2", {}, 400, "index"),
    "speed-nan": ("?speed=nan", {}, 400, "speed"),
    "speed-negative": ("?speed=-1", {}, 400, "speed"),
    "loop-maybe": ("?loop=maybe", {}, 400, "loop"),
    "motion-negative": ("?motion=-1", {}, 400, "motion='-1'"),
    "fps-zero": ("?fps=0", {}, 400, "fps="),
    "motion-over-20": ("?motion=20.5", {}, 400, "motion='20.5': not a number in 0..20"),
    "motion-inf": ("?motion=inf", {}, 400, "motion='inf'"),
    "motion-word": ("?motion=fast", {}, 400, "motion='fast'"),
    "fps-over-240": ("?fps=241", {}, 400, "fps='241': not a number in 1..240"),
    "fps-nan": ("?fps=nan", {}, 400, "fps='nan'"),
    "format-webm": ("?format=webm", {}, 400, "format"),
    "scale-zero": ("?scale=0", {}, 400, "scale"),
    "unknown-option": ("?sed=3", {}, 400, "unknown option 'sed'"),
    "seed-5000-digits": ("?seed=" + "9" * 5000, {}, 400, "seed: a value of 5000 characters"),
    "n-5000-digits": ("?n=" + "1" * 5000, {}, 400, "n: a value of 5000 characters"),
    "seed-21-digits": ("?seed=" + "9" * 21, {}, 400, "not a whole number"),
    "speed-200-characters": ("?speed=" + "1" * 200, {}, 400, "speed"),
    "13000x13000-png-8-bit": (
        "",
        {"data": png_claiming(13000, 13000), "name": "a.png"},
        413,
        "13000 x 13000",
    ),
    "13000x13000-png-16-bit": (
        "",
        {"data": png_claiming(13000, 13000, 16), "name": "a.png"},
        413,
        "megapixels",
    ),
    "100000x100000-png": ("", {"data": png_claiming(10**5, 10**5), "name": "a.png"}, 413, "pixels"),
    "5000x5000-png-just-over": ("", {"data": png_claiming(5000, 5000), "name": "a.png"}, 413, "24"),
}


@pytest.mark.parametrize("query", ["?motion=1", "?fps=24"])
def test_motion_and_fps_on_a_flow_model_are_one_line(flow_url, query):
    """A flow model takes neither: as `sample --motion`, one line naming those that do."""
    with httpx.Client(base_url=flow_url, timeout=60) as flow:
        assert "motion" not in flow.get("/info").json()["controls"]
        response = post(flow, query)
    assert response.status_code == 400 and response.text.count("\n") == 1, response.text
    assert "needs a model whose architecture" in response.text


@pytest.mark.parametrize("case", BAD_REQUESTS)
def test_bad_request_is_one_line_and_the_server_goes_on(client, case):
    query, upload, status, words = BAD_REQUESTS[case]
    response = post(client, query, **upload)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text.endswith("\n") and response.text.count("\n") == 1, response.text
    assert words in response.text and "Traceback" not in response.text
    assert post(client, "?seed=1").status_code == 200


def test_requests_that_are_not_a_form(client):
    raw = client.post(
        "/animate", content=PHOTO.read_bytes(), headers={"content-type": "image/jpeg"}
    )
    assert raw.status_code == 415 and "multipart/form-data" in raw.text
    field = client.post("/animate", data={"image": "a text field"})  # urlencoded
    assert field.status_code == 415
    broken = client.post(
        "/animate",
        content=b'--xyz\r\nContent-Disposition: form-data; name="image"\r\n\r\nabc',
        headers={"content-type": "multipart/form-data; boundary=xyz"},
    )
    assert 400 <= broken.status_code < 500 and broken.text.count("\n") == 1
    assert client.get("/animate").status_code == 405
    assert post(client, "?seed=1").status_code == 200


DISPOSITION = b'Content-Disposition: form-data; name="image"; filename="lake-dusk.jpg"'


def form(boundary: bytes, head: bytes = DISPOSITION, data: bytes | None = None) -> bytes:
    """A multipart/form-data body of one part: its header lines `head`, then `data` (the photo)."""
    data = PHOTO.read_bytes() if data is None else data
    return b"--" + boundary + b"\r\n" + head + b"\r\n\r\n" + data + b"\r\n--" + boundary + b"--\r\n"


MALFORMED_FORMS = {
    # case: (boundary, the part's header lines, the part's bytes or None: the photo, words)
    "boundary-300-characters": (b"b" * 300, DISPOSITION, None, "Boundary length 300"),
    "boundary-257-characters": (b"b" * 257, DISPOSITION, None, "Boundary length 257"),
    "header-without-colon": (b"xyz", DISPOSITION.replace(b":", b""), None, "invalid character"),
    "header-with-empty-name": (b"xyz", b": x\r\n" + DISPOSITION, None, "0-length header"),
    "part-without-a-name": (
        b"xyz",
        b'Content-Disposition: form-data; filename="a.jpg"',
        None,
        "Field name not found",
    ),
    "part-without-content-disposition": (b"xyz", b"Content-Type: image/jpeg", None, "Field name"),
    "header-of-20000-bytes": (b"xyz", DISPOSITION + b"\r\nX: " + b"a" * 20000, None, "header size"),
    "200-headers": (b"xyz", DISPOSITION + b"\r\nX: a" * 200, None, "header count"),
    "broken-base64": (
        b"xyz",
        DISPOSITION + b"\r\nContent-Transfer-Encoding: base64",
        b"abc",
        "Base64",
    ),
    # not read as if the bytes were the photo itself
    "gzip-transfer-encoding": (
        b"xyz",
        DISPOSITION + b"\r\nContent-Transfer-Encoding: gzip",
        None,
        "Unknown Content-Transfer-Encoding",
    ),
}


@pytest.mark.parametrize("case", MALFORMED_FORMS)
def test_a_malformed_form_is_one_line_and_nothing_in_the_log(client, case):
    """python_multipart's refusals, the boundary it will not take among them (raised when its
    parser is made, not while it reads), are a 400 line like every other bad request: no 500,
    no traceback nor warning in the server's log."""
    boundary, head, data, words = MALFORMED_FORMS[case]
    content_type = "multipart/form-data; boundary=" + boundary.decode()
    with server_log() as records:
        response = client.post(
            "/animate", content=form(boundary, head, data), headers={"content-type": content_type}
        )
        # uvicorn logs an app's exception after the 500 has gone out: the next answer on the
        # connection comes after that line
        assert post(client, "?seed=1").status_code == 200
    assert response.status_code == 400, response.text
    assert response.text.endswith("\n") and response.text.count("\n") == 1, response.text
    assert words in response.text and "Traceback" not in response.text
    logged = [r.getMessage() for r in records if r.levelno >= logging.WARNING]
    assert logged == [], logged


def test_a_70_character_boundary_is_read(client):
    """RFC 2046's longest boundary (curl, browsers and httpx send 40-60 characters)."""
    boundary = b"-" * 10 + b"b" * 60
    response = client.post(
        "/animate?seed=5",
        content=form(boundary),
        headers={"content-type": "multipart/form-data; boundary=" + boundary.decode()},
    )
    assert response.status_code == 200, response.text
    assert response.content == post(client, "?seed=5").content


def test_form_parts_refuses_damaged_forms_with_a_bad_request_only():
    """Bodies and boundaries damaged at random: whatever python_multipart makes of them is a
    BadRequest or the parts, never another exception (which would be a 500)."""
    from scenegan.serve import form_parts
    from scenegan.serve_limits import BadRequest

    rng = random.Random(0)
    whole = form(b"xyz", data=bytes(range(256)))
    pieces = [b"\r", b"\n", b"\r\n", b"--", b"--xyz", b":", b";", b"=", b'"', b"\x00", b"\xff"]
    for _ in range(2000):
        body = bytearray(whole)
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(body) + 1)
            if rng.random() < 0.4:
                del body[at : at + rng.randint(1, 8)]
            else:
                body[at:at] = rng.choice(pieces)
        boundary = rng.choice(["xyz", "xyz", "b" * rng.randint(200, 400), '"xyz"', "x;y"])
        try:
            form_parts("multipart/form-data; boundary=" + boundary, bytes(body))
        except BadRequest as error:
            assert error.status in (400, 415), error


def test_a_large_upload_stays_in_memory(client, monkeypatch, tmp_path):
    """python-multipart spills a file part over 1 MiB to a temporary file unless told not to."""
    spill = tmp_path / "tmp"
    spill.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spill))
    response = post(client, "?seed=2", data=big_png(3 * 2**20), name="noise.png")
    assert response.status_code == 200 and gif_frames(response.content)[0] == 32
    assert list(spill.iterdir()) == []


def test_concurrent_requests_give_the_sequential_bytes(client):
    queries = [f"?seed={seed}" for seed in range(4)] + ["?seed=1&n=2&index=1&format=mp4"]
    sequential = {query: post(client, query).content for query in queries}
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda q: (q, post(client, q)), queries * 3))
    for query, response in answers:
        assert response.status_code == 200
        assert response.content == sequential[query], query
    assert len(set(sequential.values())) == len(queries)


def test_page_info_and_examples(client):
    page = client.get("/")
    assert page.status_code == 200 and 'id="animate"' in page.text
    info = client.get("/info").json()
    assert info["examples"] == sorted(p.name for p in EXAMPLES.glob("*.jpg"))
    assert info["clip_format"] == {"n_frames": 32, "height": 45, "width": 80}
    example = client.get(f"/examples/{info['examples'][0]}")
    assert example.status_code == 200 and example.headers["content-type"] == "image/jpeg"
    assert client.get("/examples/..%2Fserve.py").status_code == 404
    assert client.get("/examples/SOURCES.md").status_code == 404


# ---------------------------------------------------------------- the command


def test_serve_dry_run_prints_the_defaults():
    result = CliRunner().invoke(cli, ["serve", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert '"port": 7860' in result.output and '"max_upload_mb": 20.0' in result.output


def test_scenegan_serve_runs_until_ctrl_c():
    command = [sys.executable, "-m", "scenegan.cli", "serve", "--port", "0"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        line = process.stdout.readline().decode()
        found = re.search(r"at (http://127\.0\.0\.1:\d+/)", line)
        assert found, line + process.stderr.read().decode()
        assert "scenegan-generator.safetensors" in line
        with httpx.Client(base_url=found[1], timeout=60) as client:
            assert gif_frames(post(client, "?seed=0").content)[0] == 32
    finally:
        process.send_signal(signal.SIGINT)
        _, errors = process.communicate(timeout=60)
    assert process.returncode == 0, errors.decode()


# ---------------------------------------------------------------- the page, in Chromium


def count_loaded(driver, selector: str) -> int:
    script = """return [...document.querySelectorAll(arguments[0])].filter(
        (e) => e.tagName === "IMG" ? e.complete && e.naturalWidth > 0
                                   : e.readyState >= 2 && e.videoWidth > 0).length"""
    return driver.execute_script(script, selector)


def test_page_uploads_a_photo_and_shows_its_gifs(base_url):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with chromium() as driver:
        driver.get(base_url)
        wait = WebDriverWait(driver, 60)
        wait.until(lambda d: count_loaded(d, "#examples img") == len(list(EXAMPLES.glob("*.jpg"))))
        # the shipped motion model takes both: the fields are on
        assert all(driver.find_element(By.ID, id).is_enabled() for id in ("motion", "fps"))
        driver.find_element(By.ID, "file").send_keys(str(EXAMPLES / "lake-pier.jpg"))
        driver.execute_script("document.getElementById('n').value = 2")
        driver.find_element(By.ID, "animate").click()
        wait.until(lambda d: count_loaded(d, "img.animation") == 2)
        assert count_loaded(driver, "img.photo") == 1
        links = driver.find_elements(By.CSS_SELECTOR, "figcaption a")
        assert [a.get_attribute("download") for a in links] == [
            "lake-pier-1.gif",
            "lake-pier-2.gif",
        ]
        for img in driver.find_elements(By.CSS_SELECTOR, "img.animation"):
            assert img.size["width"] > 0 and img.size["height"] > 0
            assert gif_frames(fetch_bytes(driver, img.get_attribute("src"))) == (32, (320, 180))
        assert "2 animation(s)" in driver.find_element(By.ID, "status").text
        screenshot(driver, "serve-page")


def test_page_says_what_is_wrong_then_plays_an_example_as_mp4(base_url, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    notes = tmp_path / "notes.jpg"
    notes.write_text("not a photo\n")
    with chromium() as driver:
        driver.get(base_url)
        wait = WebDriverWait(driver, 60)
        wait.until(lambda d: count_loaded(d, "#examples img") > 0)
        driver.find_element(By.ID, "file").send_keys(str(notes))
        driver.find_element(By.ID, "animate").click()
        status = driver.find_element(By.ID, "status")
        wait.until(lambda d: status.get_attribute("class") == "error")
        assert "notes.jpg: not an image" in status.text
        driver.find_element(By.CSS_SELECTOR, '#examples img[data-name="sky-kite.jpg"]').click()
        wait.until(
            lambda d: "sky-kite.jpg" in status.text and "error" not in status.get_attribute("class")
        )
        Select(driver.find_element(By.ID, "format")).select_by_visible_text("mp4")
        driver.execute_script("document.getElementById('n').value = 1")
        driver.find_element(By.ID, "animate").click()
        wait.until(lambda d: count_loaded(d, "video.animation") == 1)
        duration = driver.execute_script("return document.querySelector('video').duration")
        assert duration == pytest.approx(32 / 12, abs=0.2)
        link = driver.find_element(By.CSS_SELECTOR, "figcaption a")
        assert link.get_attribute("download") == "sky-kite.mp4"


def test_page_turns_motion_and_fps_off_for_a_flow_model(flow_url):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with chromium() as driver:
        driver.get(flow_url)
        WebDriverWait(driver, 60).until(lambda d: count_loaded(d, "#examples img") > 0)
        assert not any(driver.find_element(By.ID, id).is_enabled() for id in ("motion", "fps"))


def test_page_sends_motion_and_fps_and_shows_a_value_out_of_range(motion_app):
    """A motion model: the fields take the server's ranges, what is typed in them is sent (the
    GIF is the API's for that query and plays at that rate), and a value outside a range gets
    the server's one line in the status."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    _, url = motion_app
    photo = EXAMPLES / "lake-pier.jpg"
    with chromium() as driver, httpx.Client(base_url=url, timeout=60) as api:
        driver.get(url)
        wait = WebDriverWait(driver, 60)
        wait.until(lambda d: d.find_element(By.ID, "motion").is_enabled())
        fields = {name: driver.find_element(By.ID, name) for name in ("motion", "fps")}
        for name, field in fields.items():
            low, high = NUMBER_RANGES[name]
            assert (field.get_attribute("min"), field.get_attribute("max")) == (
                f"{low:g}",
                f"{high:g}",
            )
        assert fields["fps"].get_attribute("placeholder") == "auto (12)"
        driver.find_element(By.ID, "file").send_keys(str(photo))
        driver.execute_script("document.getElementById('n').value = 1")
        status = driver.find_element(By.ID, "status")

        def animate(motion: str, fps: str) -> None:
            for name, value in (("motion", motion), ("fps", fps)):
                fields[name].clear()
                fields[name].send_keys(value)
            driver.find_element(By.ID, "animate").click()
            wait.until(lambda d: d.find_element(By.ID, "animate").is_enabled())

        animate("1.5", "24")
        assert "1 animation(s)" in status.text, status.text
        shown = fetch_bytes(
            driver, driver.find_element(By.CSS_SELECTOR, "img.animation").get_attribute("src")
        )
        expected = post(
            api, "?seed=0&scale=4&motion=1.5&fps=24", name=photo.name, data=photo.read_bytes()
        )
        assert shown == expected.content
        assert gif_delay(shown) == pytest.approx(1000 / 24, abs=5)
        animate("50", "")
        assert status.get_attribute("class") == "error"
        assert status.text == "motion='50': not a number in 0..20"
        screenshot(driver, "serve-page-motion")
