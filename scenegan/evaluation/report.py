"""The files `scenegan evaluate` leaves behind: report.json, report.md and matplotlib PNG plots
(report.html is html.py's, which reads the same report)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from scenegan.clip_format import ClipFormat
from scenegan.errors import UserError
from scenegan.evaluation.classes import CAPTION, class_cells
from scenegan.evaluation.metrics import METRICS
from scenegan.files import atomic_path, atomic_write_text, is_within

STRIP_FRAMES = 8  # frames shown per clip in the sample strips
REAL = "real vs real"  # the row of the real clips: its FVD is one half against the other


def _plain(value):
    """NaN -> None and numpy scalars -> floats, so report.json is strict JSON."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def table_columns(report: dict) -> list:
    """The metrics of the table (report.md's and report.html's): FVD only if it was computed."""
    has_fvd = any("fvd" in row for row in report["rows"].values())
    return [m for m in METRICS if has_fvd or m.name != "fvd"]


def spread(n_total: int, n: int) -> np.ndarray:
    """`n` indices spread evenly over 0..n_total-1: the clips the strips and report.html show."""
    return np.linspace(0, n_total - 1, min(n, n_total)).round().astype(int)


def table(rows: dict, columns: list) -> list[str]:
    """A markdown table: a line per row, a column per metric."""
    header = ["row"] + [m.header for m in columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for label, row in rows.items():
        lines.append("| " + " | ".join([label] + [m.cell(row) for m in columns]) + " |")
    return lines


def markdown(report: dict) -> str:
    """One table (a row per model or baseline), then what the numbers mean."""
    has_fvd = any("fvd" in row for row in report["rows"].values())
    columns = table_columns(report)
    lines = table(report["rows"], columns)
    for name, group in report.get("groups", {}).items():
        lines += ["", f"**{name}**: the {group['n_clips']} clips of {group['sources']}", ""]
        lines += table(group["rows"], columns)
    header, cells = class_cells(report.get("classes") or {})
    if cells:
        lines += ["", f"**{CAPTION}**", "", "| " + " | ".join(header) + " |"]
        lines += ["|" + "---|" * len(header)] + ["| " + " | ".join(row) + " |" for row in cells]
    fmt = report["clip_format"]
    half_a, half_b = report["fvd_sample_size"]
    text = [
        "# scenegan evaluation",
        "",
        f"Checkpoint `{report['checkpoint']}`"
        + (f", baseline `{report['baseline']}`" if report["baseline"] else "")
        + f"; dataset `{report['dataset']}`, split `{report['split']}`"
        + (f", sources `{report['sources']}`" if report.get("sources", "all") != "all" else "")
        + f": {report['n_clips']} of "
        f"{report['n_val_clips']} held-out clips ({ClipFormat.from_dict(fmt).describe()}), "
        "each row animating their frame 0.",
        "",
        "\n".join(lines),
        "",
        (
            f"FVD: {half_a} generated vs {half_b} real clips in every row, averaged over "
            f"{report['halvings']} random halvings (+- is their standard deviation: differences "
            f"smaller than it are noise). Preprocessing: {report['fvd_preprocessing']}."
            if has_fvd
            else "FVD: not computed (--no-fvd)."
        ),
        f"Diversity: {report['diversity_samples'][0]} photos x {report['diversity_samples'][1]} "
        "noise seeds. Real clips' motion energy: "
        f"{report['rows'][next(iter(report['rows']))]['motion_energy']:.2f} grey levels per frame.",
        "Scene correlation and motion energy alone can be met by bad models (flicker passes "
        "both): read them next to FVD, flicker and frame-0 error.",
        "",
        "## Definitions",
        "",
    ]
    text += [f"- **{name}**: {meaning}" for name, meaning in report["definitions"].items()]
    text += [
        "",
        "Plots: `correlation.png`, `motion_energy.png`, `strips.png`; `report.html` shows them, "
        "this table and a few held-out photos animated by every row.",
        "",
    ]
    return "\n".join(text)


def _save(figure, path: Path) -> None:
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format=path.suffix[1:], dpi=110, bbox_inches="tight")


def plot_curves(curves: dict[str, list[float]], path: Path, *, ylabel: str, first: int) -> None:
    """One line per row over frame index (`first` is the index of the first value)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axis = plt.subplots(figsize=(6.4, 3.6))
    for label, values in curves.items():
        style = "--" if label == "real vs real" else "-"
        axis.plot(range(first, first + len(values)), values, style, label=label)
    axis.set_xlabel("frame")
    axis.set_ylabel(ylabel)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    _save(figure, path)
    plt.close(figure)


def plot_strips(clips: dict[str, np.ndarray], path: Path, n_clips: int) -> None:
    """For a few clips: one row of frames per model or baseline, the same photo in each block."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    labels = list(clips)
    picked = spread(len(next(iter(clips.values()))), n_clips)
    n_clips = len(picked)
    n_frames = next(iter(clips.values())).shape[1]
    shown = np.linspace(0, n_frames - 1, STRIP_FRAMES).round().astype(int)
    n_rows = n_clips * len(labels)
    figure, axes = plt.subplots(
        n_rows, 1, figsize=(STRIP_FRAMES * 1.2, n_rows * 0.62), squeeze=False
    )
    for c in range(n_clips):
        for r, label in enumerate(labels):
            axis = axes[c * len(labels) + r, 0]
            strip = np.concatenate(list(clips[label][picked[c], shown]), axis=1)  # (H, 8 W)
            axis.imshow(strip, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            axis.set_xticks([])
            axis.set_yticks([])
            name = "real" if label == REAL else label
            axis.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=7)
            if c == 0 and r == 0:
                axis.set_title(f"frames {', '.join(map(str, shown))}", fontsize=8)
    _save(figure, path)
    plt.close(figure)


# What a report folder holds: a folder holding anything else is not replaced by a new report.
REPORT_NAMES = frozenset(
    {"report.json", "report.md", "report.html", "correlation.png", "motion_energy.png"}
    | {"strips.png", "clips", ".scenegan.lock"}
)


def check_report_folder(out: Path, inputs: tuple = ()) -> None:
    """`out` must be new or an earlier report: a new report replaces it as a whole, so a folder
    of other files, or one that holds or is an input of this run (the dataset, a checkpoint),
    is a UserError before any work is done."""
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file; give a folder for the report")
    for given in inputs:
        if given is None or str(given).startswith("baseline:"):
            continue
        if is_within(given, out) or is_within(out, given):
            raise UserError(
                f"--out {out} would replace {given}, an input of this evaluation; "
                "give the report a folder of its own"
            )
    if out.is_dir():
        others = sorted(p.name for p in out.iterdir() if p.name not in REPORT_NAMES)
        if others:
            raise UserError(
                f"--out {out} holds other files than a report ({', '.join(others[:3])}"
                f"{', ...' if len(others) > 3 else ''}), which a new report would replace; "
                "give a new or empty folder"
            )


def write_report(report: dict, clips: dict[str, np.ndarray], out: Path, n_strip_clips: int = 3):
    """report.json, report.md, correlation.png, motion_energy.png and strips.png in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(
        out / "report.json", json.dumps(_plain(report), indent=2, allow_nan=False) + "\n"
    )
    atomic_write_text(out / "report.md", markdown(report))
    plot_curves(
        report["per_frame_correlation"],
        out / "correlation.png",
        ylabel="correlation with the photo",
        first=0,
    )
    plot_curves(
        report["motion_energy_curve"],
        out / "motion_energy.png",
        ylabel="mean |x_t - x_(t-1)| (grey levels)",
        first=1,
    )
    plot_strips(clips, out / "strips.png", n_strip_clips)
