"""`scenegan evaluate --groups`: the same rows scored again on named subsets of the clips.

A group is the clips of the source videos matching its patterns, e.g.
`fast=fire-*,water-*,sea-*;calm=clouds-*,trees-*`. Every row's clips and I3D features are the
ones the whole evaluation made, so a group costs no generation and no I3D time: its FVD uses the
features of its clips, over halvings of its own.
"""

from __future__ import annotations

from fnmatch import fnmatch

import numpy as np

from scenegan.errors import UserError


def parse_groups(text: str) -> dict[str, list[str]]:
    """'fast=fire-*,sea-*;calm=clouds-*' -> {'fast': ['fire-*', 'sea-*'], 'calm': ['clouds-*']}."""
    groups: dict[str, list[str]] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        name, _, patterns = part.partition("=")
        wanted = [p.strip() for p in patterns.split(",") if p.strip()]
        if not name.strip() or not wanted:
            raise UserError(f"--groups: {part!r} is not NAME=PATTERN[,PATTERN...]")
        groups[name.strip()] = wanted
    return groups


def members(source_ids: list[str], patterns: list[str]) -> np.ndarray:
    """Indices of the clips whose source id matches any of `patterns`."""
    return np.array(
        [i for i, sid in enumerate(source_ids) if any(fnmatch(sid, p) for p in patterns)], int
    )


def group_reports(config, clips: dict, features: dict | None, source_ids: list[str], score):
    """{name: {'sources', 'n_clips', 'rows'}} for every group of `config.groups`.

    `score(clips, features)` is the evaluation's own row scoring (clip metrics, then FVD when
    features are given) applied to a subset.
    """
    reports = {}
    for name, patterns in parse_groups(config.groups).items():
        index = members(source_ids, patterns)
        if len(index) < 4:
            raise UserError(
                f"--groups {name}: {len(index)} clips match {','.join(patterns)}; a group needs 4"
            )
        sub_clips = {label: c[index] for label, c in clips.items()}
        sub_features = None if features is None else {k: f[index] for k, f in features.items()}
        reports[name] = {
            "sources": ",".join(patterns),
            "n_clips": len(index),
            "rows": score(sub_clips, sub_features),
        }
    return reports
