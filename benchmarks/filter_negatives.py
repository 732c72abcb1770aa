"""What the per-video filters (people, overlay, moving camera, zoom) catch of labelled videos,
side by side with the clip filters alone, in one run.

    python benchmarks/filter_negatives.py FOLDER [FOLDER ...] [--workers 2]

Each FOLDER holds videos and a `labels.tsv`: a line per video, tab-separated, the file's stem,
its kind and a description (further columns are ignored). The kinds `people`, `camera` and
`overlay` should give no clip at all (issue 36); `scenery` should keep its clips; any other kind
(`cgi`, `montage`, ...) is counted as it comes. Each folder's videos are cut twice with the
build's defaults: once with the per-video filters and `zoom` switched off (their thresholds out
of reach), once as they are. The table gives, by kind, the videos that give no clip either way,
and the clips that the scenery keeps; then, per video of the three kinds that still gives clips,
what the filters measured, and, per video of the other kinds that gives none, why. Numbers in
docs/filters.md ("The negatives") come from this script.
"""

from __future__ import annotations

import argparse
import math
import tempfile
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

from scenegan.config import BuildConfig
from scenegan.pipeline.build import extract_all, load_part, prepare_out
from scenegan.pipeline.extract import ExtractConfig
from scenegan.pipeline.sources import folder_sources

SHOULD_GO = ("people", "camera", "overlay")
OFF = math.inf
WITHOUT = {  # the per-video filters and zoom, out of reach
    "people_min_face": OFF,
    "people_min_person": OFF,
    "people_steady_person": OFF,
    "people_clear_person": OFF,
    "people_min_footwear": OFF,
    "overlay_max_area": OFF,
    "overlay_max_bars": OFF,
    "overlay_max_text": OFF,
    "camera_min_share": OFF,
    "camera_max_glide": OFF,
    "camera_max_flight": OFF,
    "zoom_max_scale": OFF,
    "zoom_fast_scale": OFF,
}


def labels_of(folder: Path) -> dict[str, tuple[str, str]]:
    """{file stem: (kind, description)} from the folder's labels.tsv."""
    labels = {}
    for line in (folder / "labels.tsv").read_text().splitlines():
        if line.strip():
            name, kind, *rest = line.split("\t")
            labels[name] = (kind, rest[0] if rest else "")
    return labels


def per_video(folder: Path, config: BuildConfig) -> dict[str, dict]:
    """{file stem: its saved result (clips kept, skip reason, the per-video verdict)}."""
    sources = folder_sources(folder)
    with tempfile.TemporaryDirectory() as out:
        parts = prepare_out(Path(out) / "ds", ExtractConfig.of(config).fingerprint())
        extract_all(sources, config, parts)
        return {s.path.stem: load_part(parts, s) for s in sources}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    table: dict = defaultdict(lambda: [0, 0, 0, 0, 0])  # videos, none before, now; clips x2
    still, others = [], []
    for folder in args.folders:
        labels = labels_of(folder)
        config = BuildConfig(videos=folder, workers=args.workers)
        alone = replace(config, filters=replace(config.filters, **WITHOUT))
        before, now = per_video(folder, alone), per_video(folder, config)
        for name, (kind, description) in sorted(labels.items()):
            if name not in now:
                continue
            clips_before, clips_now = before[name]["n_clips"], now[name]["n_clips"]
            row = table[kind]
            row[0] += 1
            row[1] += clips_before == 0
            row[2] += clips_now == 0
            row[3] += clips_before
            row[4] += clips_now
            if kind in SHOULD_GO and clips_now:
                note = now[name]["scene"].get("note", "")
                still.append(f"{folder.name}/{name} ({kind}, {clips_now} clips): {note}")
                still.append(f"  {description}")
            elif kind not in SHOULD_GO and not clips_now:
                others.append(f"{folder.name}/{name} ({kind}): {why_no_clip(now[name])}")
    print_table(table)
    print("\nStill giving clips:")
    for line in still:
        print(line if line.startswith("  ") else f"- {line}")
    print("\nThe other kinds (CGI, montages, scenery) that give no clip, and why:")
    for line in others:
        print(f"- {line}")


def why_no_clip(result: dict) -> str:
    """The per-video reason, the skip reason, or the clip filters' counts of a video's result."""
    if result["skip_reason"]:
        return f"skipped: {result['skip_reason']}"
    reason = (result.get("scene") or {}).get("reason")
    if reason:
        return reason
    rejected = ", ".join(f"{count} {why}" for why, count in result["rejected"].items())
    return f"every candidate dropped ({rejected or 'none'})"


def print_table(table: dict) -> None:
    print("| kind | videos | no clip, clip filters alone | no clip, all filters | clips kept |")
    print("|---|---|---|---|---|")
    go = [0, 0, 0]
    for kind, (videos, none_before, none_now, clips_before, clips_now) in sorted(table.items()):
        kept = f"{clips_now} of {clips_before}" + (
            f" ({clips_now / clips_before:.1%})" if clips_before else ""
        )
        print(f"| {kind} | {videos} | {none_before} | {none_now} | {kept} |")
        if kind in SHOULD_GO:
            go = [go[0] + videos, go[1] + none_before, go[2] + none_now]
    if go[0]:
        print(
            f"| {', '.join(SHOULD_GO)} | {go[0]} | {go[1]} ({go[1] / go[0]:.0%}) | "
            f"**{go[2]} ({go[2] / go[0]:.0%})** | |"
        )


if __name__ == "__main__":
    main()
