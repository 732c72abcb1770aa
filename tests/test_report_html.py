"""report.html of `scenegan evaluate` on a tiny dataset: the table from the metric registry,
the plots, the side-by-side GIFs, every link relative and inside the report folder, and every
image loading in headless Chromium."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest
from media import TinyGenerator, write_panning_dataset
from PIL import Image
from web import chromium, screenshot

from scenegan.config import EvaluateConfig
from scenegan.evaluation.evaluate import CONSTANT_SPEED, REAL, evaluate
from scenegan.evaluation.metrics import METRICS


class Links(HTMLParser):
    """The src of every <img>, the cells of every table row."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs)["src"])
        elif tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("report")
    write_panning_dataset(root / "data", n_clips=12)
    config = EvaluateConfig(
        data=root / "data", out=root / "report", baseline="baseline:copy", fvd=False, n_clips=8
    )
    report = evaluate(config, generator=(TinyGenerator(), {"arch": "tiny"}))
    return root / "report", report


def test_report_html_shows_the_table_plots_and_clips(report_dir):
    out, report = report_dir
    page = Links()
    page.feed((out / "report.html").read_text())
    # The table: one row per report row, the registry's headers, cells as report.md has them.
    columns = [m for m in METRICS if m.name != "fvd"]  # --no-fvd
    header = next(row for row in page.rows if row and row[0] == "row")
    assert header == ["row", *[m.header for m in columns]]
    for label, row in report["rows"].items():
        [cells] = [cells for cells in page.rows if cells and cells[0] == label]
        assert cells[1:] == [m.cell(row) for m in columns]
    # Every image is a relative link to a file inside the report folder.
    for src in page.images:
        assert not Path(src).is_absolute() and ".." not in Path(src).parts and ":" not in src
        assert (out / src).resolve().is_relative_to(out.resolve()) and (out / src).is_file()
    for plot in ("correlation.png", "motion_energy.png", "strips.png"):
        assert plot in page.images
    # The side-by-side table: per shown clip the photo, the real clip, every row's animation.
    labels = [label for label in report["rows"] if label != CONSTANT_SPEED]  # it has no clips
    assert labels[0] == REAL and "baseline:copy" in labels and "model (tiny)" in labels
    samples = [src for src in page.images if src.startswith("clips/")]
    assert len(samples) == 6 * (1 + len(labels))  # 6 clips spread over the 8
    with Image.open(out / samples[0]) as photo:
        assert photo.format == "PNG" and photo.size == (80, 45)
    real, model = samples[1], samples[len(labels)]
    for gif in (real, model):  # both move in every frame, so no frame merges into the next
        with Image.open(out / gif) as image:
            assert image.format == "GIF" and image.n_frames == 32 and image.size == (80, 45)
            assert abs(image.info["duration"] - 1000 / 12) <= 10  # GIF counts 1/100 s
    assert "report.html" in (out / "report.md").read_text()


def test_every_image_of_report_html_loads_in_chromium(report_dir):
    out, _ = report_dir
    with chromium(height=2400) as driver:
        driver.get((out / "report.html").as_uri())
        images = driver.execute_script(
            "return [...document.images].map((i) => [i.getAttribute('src'), i.complete,"
            " i.naturalWidth])"
        )
        assert len(images) > 3
        assert [src for src, complete, width in images if not (complete and width > 0)] == []
        screenshot(driver, "report-html")
