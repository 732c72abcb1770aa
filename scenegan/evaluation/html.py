"""report.html of `scenegan evaluate`: the table, the plots, and for a few held-out photos the
photo, the real continuation and every row's animation side by side, so a person sees at once
what the numbers mean. Every file it links is in the report folder (the GIFs in `clips/`)."""

from __future__ import annotations

from html import escape
from pathlib import Path

import numpy as np

from scenegan.animation_files import write_animation
from scenegan.clip_format import DEFAULT_FPS, ClipFormat
from scenegan.evaluation.classes import CAPTION, class_cells
from scenegan.evaluation.report import REAL, spread, table_columns
from scenegan.files import atomic_path, atomic_write_text

CLIPS_FOLDER = "clips"
N_CLIPS = 6  # held-out photos shown side by side
SHOWN_WIDTH = 150  # CSS pixels of each GIF, whatever the stage's frame size: 7 columns fit
PLOTS = {
    "correlation.png": "Correlation of each frame with the photo",
    "motion_energy.png": "Motion energy per frame",
    "strips.png": "Frames of a few clips, row by row",
}

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1400px;
       padding: 0 24px; color: #222; }
table { border-collapse: collapse; margin: 12px 0; }
th, td { padding: 4px 10px; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.scroll { overflow-x: auto; }
.samples td, .samples th { padding: 3px; text-align: center; vertical-align: top;
                          font-size: 13px; }
.samples img { image-rendering: pixelated; display: block; }
.plots img { max-width: 100%; margin: 8px 0 20px; }
.note { color: #555; font-size: 14px; }
"""


def _slug(label: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in label.lower()).strip("-")


def write_samples(clips: dict[str, np.ndarray], out: Path, fps: float) -> list[dict[str, str]]:
    """For each shown clip: its photo (PNG) and every row's animation (GIF) in out/clips/;
    returns, per clip, column -> path relative to `out`."""
    from PIL import Image

    folder = out / CLIPS_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    for old in [*folder.glob("clip-*.gif"), *folder.glob("clip-*.png")]:  # an earlier run's
        old.unlink()
    real = clips[REAL]  # (N, *clip shape); frame 0 is the photo every row animates
    samples = []
    for k, i in enumerate(spread(len(real), N_CLIPS)):
        photo = f"{CLIPS_FOLDER}/clip-{k}-photo.png"
        with atomic_path(out / photo) as tmp:
            Image.fromarray(real[i, 0]).save(tmp, format="PNG")
        cells = {"photo": photo}
        for label, row_clips in clips.items():
            name = f"{CLIPS_FOLDER}/clip-{k}-{_slug(label)}.gif"
            write_animation(out / name, row_clips[i], fps=fps)
            cells[label] = name
        samples.append(cells)
    return samples


def table(report: dict, rows: dict | None = None) -> str:
    """The metrics table: the same columns, headers and cells as report.md's (metrics.METRICS)
    of `rows` (default: the report's rows)."""
    columns = table_columns(report)
    head = "".join(f"<th>{escape(m.header)}</th>" for m in columns)
    body = "".join(
        f"<tr><td>{escape(label)}</td>"
        + "".join(f"<td>{escape(m.cell(row))}</td>" for m in columns)
        + "</tr>"
        for label, row in (rows if rows is not None else report["rows"]).items()
    )
    return f"<table><tr><th>row</th>{head}</tr>{body}</table>"


def group_tables(report: dict) -> str:
    """The table again for each --groups group of source videos."""
    return "".join(
        f"<h3>{escape(name)}: the {group['n_clips']} clips of {escape(group['sources'])}</h3>"
        + table(report, group["rows"])
        for name, group in report.get("groups", {}).items()
    )


def class_speed_table(report: dict) -> str:
    """The flow speed by class, the table report.md also draws."""
    header, cells = class_cells(report.get("classes") or {})
    if not cells:
        return ""
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in cells
    )
    return f"<h3>{escape(CAPTION)}</h3><table><tr>{head}</tr>{body}</table>"


def samples_table(samples: list[dict[str, str]], labels: list[str]) -> str:
    header = ["photo"] + ["real continuation" if label == REAL else label for label in labels]
    rows = "".join(
        "<tr>"
        + "".join(
            f'<td><img src="{escape(cells[key])}" alt="{escape(key)}" width="{SHOWN_WIDTH}"></td>'
            for key in ["photo", *labels]
        )
        + "</tr>"
        for cells in samples
    )
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    return f'<div class="scroll"><table class="samples"><tr>{head}</tr>{rows}</table></div>'


def fvd_note(report: dict) -> str:
    if not report["halvings"]:
        return "FVD: not computed (--no-fvd)."
    half_a, half_b = report["fvd_sample_size"]
    return (
        f"FVD: {half_a} generated vs {half_b} real clips in every row, averaged over "
        f"{report['halvings']} random halvings (+- is their standard deviation). "
        f"Preprocessing: {report['fvd_preprocessing']}."
    )


def html_page(report: dict, samples: list[dict[str, str]], labels: list[str]) -> str:
    fmt = report["clip_format"]
    baseline = f", baseline <code>{escape(str(report['baseline']))}</code>"
    summary = (
        f"Checkpoint <code>{escape(str(report['checkpoint']))}</code>"
        + (baseline if report.get("baseline") else "")
        + f"; dataset <code>{escape(report['dataset'])}</code>, split "
        f"<code>{escape(report['split'])}</code>: {report['n_clips']} of "
        f"{report['n_val_clips']} held-out clips ({ClipFormat.from_dict(fmt).describe()}), "
        "each row animating their frame 0."
    )
    definitions = "".join(
        f"<li><b>{escape(name)}</b>: {escape(meaning)}</li>"
        for name, meaning in report["definitions"].items()
    )
    plots = "".join(
        f'<h3>{escape(title)}</h3><img src="{name}" alt="{escape(title)}">'
        for name, title in PLOTS.items()
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>scenegan evaluation</title>
<style>{STYLE}</style></head>
<body>
<h1>scenegan evaluation</h1>
<p>{summary}</p>
{table(report)}
{group_tables(report)}
{class_speed_table(report)}
<p class="note">{escape(fvd_note(report))} The same numbers are in report.json and report.md.</p>
<h2>Held-out photos, side by side</h2>
<p class="note">Each row: one held-out photo (frame 0 of a real clip), its real continuation,
then what each baseline and the model make of the photo ({len(samples)} clips spread over the
{report["n_clips"]}, shown at {SHOWN_WIDTH} px wide).</p>
{samples_table(samples, labels)}
<h2>Plots</h2>
<div class="plots">{plots}</div>
<h2>Definitions</h2>
<ul>{definitions}</ul>
</body></html>
"""


def write_html(report: dict, clips: dict[str, np.ndarray], out: Path) -> Path:
    """report.html and its GIFs in `out` (the plots are written beside it by write_report)."""
    samples = write_samples(clips, out, float(report.get("fps") or DEFAULT_FPS))
    path = out / "report.html"
    atomic_write_text(path, html_page(report, samples, list(clips)))
    return path
