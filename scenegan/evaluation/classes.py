"""The flow speed of every row class by class: a scene's class is its source id up to the first
'-' (`fire-campfire-night.mp4` is fire), as the scenery collection names its videos. A row can
move the median scene right and still move waterfalls at a twentieth and smoke at seven times
their speed; this table shows it without --groups."""

from __future__ import annotations

import numpy as np

from scenegan.evaluation import metrics

CAPTION = (
    "Flow speed by class (a source id up to its first '-'): each row's median flow speed "
    "over the real one / its per-photo speed factor"
)


def scene_class(source_id: str) -> str:
    return source_id.split("-", 1)[0]


def class_speeds(
    speeds: dict[str, np.ndarray], real_label: str, source_ids: list[str]
) -> dict[str, dict]:
    """{class: {'n_clips', 'n_videos', 'real_speed', 'rows': {label: {'flow_speed_ratio',
    'speed_factor'}}}} from each row's per-clip flow speeds (`speeds`, the real clips' under
    `real_label`), classes in name order."""
    real = speeds[real_label]
    classes = np.array([scene_class(s) for s in source_ids])
    table = {}
    for name in sorted(set(classes)):
        chosen = classes == name
        table[name] = {
            "n_clips": int(chosen.sum()),
            "n_videos": len({s for s, c in zip(source_ids, chosen, strict=True) if c}),
            "real_speed": float(np.median(real[chosen])),
            "rows": {
                label: {
                    "flow_speed_ratio": metrics.speed_ratio(row[chosen], real[chosen]),
                    "speed_factor": metrics.per_photo_speed_factor(row[chosen], real[chosen]),
                }
                for label, row in speeds.items()
                if label != real_label
            },
        }
    return table


def class_cells(classes: dict[str, dict]) -> tuple[list[str], list[list[str]]]:
    """The header and the cells of the by-class table (report.md and report.html draw it): a
    row per class, 'ratio / factor' per model row."""
    if not classes:
        return [], []
    labels = list(next(iter(classes.values()))["rows"])
    header = ["class", "clips", "videos", "real px/frame", *labels]
    cells = [
        [name, str(entry["n_clips"]), str(entry["n_videos"]), f"{entry['real_speed']:.3f}"]
        + [
            f"{row['flow_speed_ratio']:.2f}x / {row['speed_factor']:.2f}"
            for row in entry["rows"].values()
        ]
        for name, entry in classes.items()
    ]
    return header, cells
