"""Duplicate footage across source videos: a fingerprint of a few sampled frames per video (small
gray thumbnails of the 16:9 frame) and a comparison that survives re-encoding, rescaling and
cropping: a coarse look at every pair of videos, then the likely pairs aligned frame by frame
over a few scales and shifts, their fine detail correlated. Near-duplicate sources are grouped
so that the build puts each group in one split (or keeps one of it, `--dedup drop`)."""

from __future__ import annotations

import cv2
import numpy as np

THUMB_SIZE = (96, 54)  # (width, height) of a fingerprint frame
COARSE_SIZE = (16, 9)  # the coarse look: centre boxes of a thumbnail at this size
COARSE_SHARES = (1.0, 0.9, 0.8)  # the sides of those boxes, as shares of the thumbnail's
COARSE_MIN = 0.8  # pairs of videos whose best frame pair looks this alike coarsely are aligned
ALIGNED_FRAME_PAIRS = 3  # frame pairs (the coarsely closest) aligned per pair of videos
# A copy cropped by up to a fifth, rescaled, and shifted by up to a tenth of the frame is found
# (the other may be the one cropped): the larger view is magnified by each scale and the
# smaller one's centre TEMPLATE_SHARE is looked for in it.
SCALES = (1.0, 1.06, 1.12, 1.19, 1.26)
TEMPLATE_SHARE = 0.8


def thumbnails(frames: list[np.ndarray]) -> np.ndarray:
    """Sampled (H, W) gray 16:9 frames -> the video's fingerprint, uint8 (N, 54, 96)."""
    if not frames:
        return np.zeros((0, THUMB_SIZE[1], THUMB_SIZE[0]), np.uint8)
    return np.stack([cv2.resize(f, THUMB_SIZE, interpolation=cv2.INTER_AREA) for f in frames])


def _coarse(fingerprint: np.ndarray) -> np.ndarray:
    """(N * len(COARSE_SHARES), 144) zero-mean unit vectors: each thumbnail's centre boxes of
    COARSE_SHARES of its sides, blurred to COARSE_SIZE (a copy cropped by a tenth matches its
    source's 0.9 box)."""
    height, width = fingerprint.shape[1:]
    small = []
    for thumb in fingerprint:
        for share in COARSE_SHARES:
            rows, columns = round(height * share), round(width * share)
            top, left = (height - rows) // 2, (width - columns) // 2
            box = thumb[top : top + rows, left : left + columns]
            small.append(cv2.resize(box, COARSE_SIZE, interpolation=cv2.INTER_AREA))
    vectors = np.stack(small).reshape(len(small), -1).astype(np.float64)
    vectors -= vectors.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-6)


def _detail(thumb: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """A thumbnail magnified by `scale`, its slow shading removed (what a copy shares with its
    source, and two views of a similar place do not)."""
    image = thumb.astype(np.float32)
    if scale != 1.0:
        size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
        image = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
    return image - cv2.GaussianBlur(image, (0, 0), 3.0)


def aligned_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """How alike two thumbnails are in fine detail, at the best of SCALES and shifts, either
    one the larger view: the peak normalised correlation (1: the same picture)."""
    best = -1.0
    height, width = a.shape
    rows, columns = round(height * TEMPLATE_SHARE), round(width * TEMPLATE_SHARE)
    top, left = (height - rows) // 2, (width - columns) // 2
    for larger, smaller in ((a, b), (b, a)):
        template = _detail(smaller)[top : top + rows, left : left + columns]
        if float(template.std()) < 1e-3:
            continue
        for scale in SCALES:
            found = cv2.matchTemplate(_detail(larger, scale), template, cv2.TM_CCOEFF_NORMED)
            best = max(best, float(found.max()))
    return best


def video_similarity(a: np.ndarray, b: np.ndarray, coarse_a=None, coarse_b=None) -> float:
    """How alike two fingerprints are: the best aligned similarity of their coarsely closest
    frame pairs, or -1 when no frame pair looks alike even coarsely."""
    if not len(a) or not len(b):
        return -1.0
    coarse_a = _coarse(a) if coarse_a is None else coarse_a
    coarse_b = _coarse(b) if coarse_b is None else coarse_b
    scores = coarse_a @ coarse_b.T  # (Na, Nb)
    if scores.max() < COARSE_MIN:
        return -1.0
    n_shares = len(COARSE_SHARES)
    frames = scores.reshape(len(a), n_shares, len(b), n_shares).max(axis=(1, 3))  # (Na, Nb)
    order = np.argsort(frames, axis=None)[::-1][:ALIGNED_FRAME_PAIRS]
    pairs = [np.unravel_index(i, frames.shape) for i in order if frames.flat[i] >= COARSE_MIN]
    return max(aligned_similarity(a[i], b[j]) for i, j in pairs)


def duplicate_pairs(
    fingerprints: dict[str, np.ndarray], min_similarity: float
) -> list[tuple[str, str, float]]:
    """Every pair of sources (sorted ids) whose footage is the same: (id, id, similarity).
    The coarse look at all pairs is one matrix product per source; only pairs that pass it
    are aligned."""
    ids = sorted(source for source, fp in fingerprints.items() if len(fp))
    coarse = [_coarse(fingerprints[source]) for source in ids]
    owner = np.concatenate([np.full(len(c), n) for n, c in enumerate(coarse)]) if ids else []
    every = np.concatenate(coarse) if ids else np.zeros((0, 1))
    pairs = []
    for first, vectors in enumerate(coarse):
        scores = (vectors @ every.T).max(axis=0)  # best frame of `first` against every frame
        best = np.full(len(ids), -1.0)
        np.maximum.at(best, owner, scores)
        for second in np.flatnonzero(best >= COARSE_MIN):
            if second <= first:
                continue
            a, b = ids[first], ids[second]
            similarity = video_similarity(fingerprints[a], fingerprints[b], vectors, coarse[second])
            if similarity >= min_similarity:
                pairs.append((a, b, round(similarity, 4)))
    return pairs


def duplicate_groups(ids: list[str], pairs: list[tuple[str, str, float]]) -> dict[str, str]:
    """Each source's group, named by its smallest id (union-find over the pairs); a source in
    no pair is its own group."""
    parent = {source: source for source in ids}

    def root(source: str) -> str:
        while parent[source] != source:
            parent[source] = parent[parent[source]]
            source = parent[source]
        return source

    for first, second, _ in pairs:
        low, high = sorted((root(first), root(second)))
        parent[high] = low
    return {source: root(source) for source in ids}


def group_duplicates(
    fingerprints: dict[str, np.ndarray], n_clips: dict[str, int], min_similarity: float, dedup: str
) -> dict:
    """Near-duplicate sources: {"pairs": [(id, id, similarity)], "group": id -> its group's
    first id (every id of `n_clips`), "dropped": ids whose clips go (`dedup` "drop": all but
    the source with the most clips of each group)}."""
    pairs = duplicate_pairs(fingerprints, min_similarity)
    group = duplicate_groups(sorted(n_clips), pairs)
    dropped: set[str] = set()
    if dedup == "drop":
        members: dict[str, list[str]] = {}
        for source, name in group.items():
            members.setdefault(name, []).append(source)
        for sources in members.values():
            keep = min(sources, key=lambda source: (-n_clips[source], source))
            dropped.update(source for source in sources if source != keep)
    return {"pairs": pairs, "group": group, "dropped": dropped}


def duplicate_stats(stats: dict, metas: dict, duplicates: dict) -> dict:
    """stats.json with the duplicate pairs, the videos the per-video filters rejected, and the
    clips of sources dropped as duplicates counted as rejected (`duplicate`)."""
    stats = dict(stats)
    stats["duplicate_pairs"] = [
        {"sources": [first, second], "similarity": similarity}
        for first, second, similarity in duplicates["pairs"]
    ]
    videos: dict[str, int] = {}
    for meta in metas.values():
        reason = (meta.get("scene") or {}).get("reason")
        if reason:
            videos[reason] = videos.get(reason, 0) + 1
    dropped_clips = sum(metas[source]["n_clips"] for source in duplicates["dropped"])
    if duplicates["dropped"]:
        videos["duplicate"] = len(duplicates["dropped"])
        rejected = dict(stats["clips_rejected"], duplicate=dropped_clips)
        stats["clips_rejected"] = dict(sorted(rejected.items()))
        stats["clips_over_target"] -= dropped_clips
    stats["videos_rejected"] = dict(sorted(videos.items()))
    return stats
