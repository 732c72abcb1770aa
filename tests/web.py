"""What the tests that talk to a real server or drive a real browser share (test modules never
import from each other): an app served by uvicorn in a thread on a free port of 127.0.0.1, and
headless Chromium through selenium, skipped with a reason saying what is missing."""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
INSTALL = "apt-get install chromium chromium-driver"


@contextlib.contextmanager
def served(app) -> Iterator[str]:
    """`app` served by uvicorn in a thread on 127.0.0.1 (a free port); yields its base URL."""
    import uvicorn

    from scenegan.serve import listening_socket, url_of

    sock = listening_socket("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield url_of(sock)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@contextlib.contextmanager
def server_log() -> Iterator[list[logging.LogRecord]]:
    """The records logged meanwhile by a server `served` runs in this process: uvicorn's own
    loggers (which do not propagate to the root) and the libraries it calls (which do)."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    loggers = [logging.getLogger("uvicorn"), logging.getLogger()]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield records
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


@contextlib.contextmanager
def chromium(width: int = 1280, height: int = 900):
    """A headless Chromium driven by selenium; skips the test where either cannot be had."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("selenium is not installed (pip install -e '.[dev]'): browser test not run")
    browser = next((path for name in BROWSERS if (path := shutil.which(name))), None)
    driver_path = shutil.which("chromedriver")
    if browser is None or driver_path is None:
        missing = "chromium" if browser is None else "chromedriver"
        pytest.skip(f"headless Chromium not found ({missing} is not on PATH; {INSTALL})")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--window-size={width},{height}",
        "--autoplay-policy=no-user-gesture-required",
    ):
        options.add_argument(argument)
    # The driver on PATH: selenium would otherwise try to download one.
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    driver.set_script_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def fetch_bytes(driver, url: str) -> bytes:
    """The bytes behind a URL the page can read (a blob: URL of an animation, say)."""
    script = """
        const done = arguments[arguments.length - 1];
        fetch(arguments[0]).then((r) => r.arrayBuffer()).then((buffer) => {
            let text = "";
            for (const byte of new Uint8Array(buffer)) text += String.fromCharCode(byte);
            done(btoa(text));
        }).catch((error) => done("error: " + error));
    """
    answer = driver.execute_async_script(script, url)
    assert not answer.startswith("error:"), answer
    return base64.b64decode(answer)


def screenshot(driver, name: str) -> None:
    """Save a PNG of the page into $SCENEGAN_SCREENSHOTS when it is set (to look at by eye)."""
    folder = os.environ.get("SCENEGAN_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(folder) / f"{name}.png"))
