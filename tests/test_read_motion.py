"""read_motion (pipeline/shards.py): per-clip motion annotations and frame rate in read_split's
order, read from the shards or, for datasets built before them, computed once and cached."""

import os

import numpy as np
import pytest
from media import moving_window

from scenegan.clip_format import CLIP
from scenegan.pipeline import motion_fields, shards
from scenegan.pipeline.motion_fields import annotate_clip
from scenegan.pipeline.shards import (
    MOTION_CACHE_DIR,
    read_motion,
    read_photos,
    read_split,
    shard_name,
    write_index,
    write_shard,
)

T = CLIP.n_frames


def _clips(speeds: list[float]) -> np.ndarray:
    return np.stack(
        [moving_window([(s * t, 0.0) for t in range(T)], seed=i) for i, s in enumerate(speeds)]
    )


def _old_dataset(root, per_shard: list[list[float]], fps: float = 12.0):
    """A dataset of the first format: clips, source ids and start times, no annotations."""
    root.mkdir(parents=True, exist_ok=True)
    entries = []
    for number, speeds in enumerate(per_shard):
        name = shard_name("train", number)
        ids = [f"video{number}-{i}" for i in range(len(speeds))]
        write_shard(root / name, _clips(speeds), ids, [0.0] * len(ids), {i: {} for i in ids})
        entries.append({"file": name, "split": "train", "n_clips": len(speeds)})
    write_index(root, CLIP, fps, entries, {})
    return root


def _no_annotating(monkeypatch):
    def refuse(frames):
        raise AssertionError("annotations were computed again")

    monkeypatch.setattr(motion_fields, "annotate_clip", refuse)


def test_old_dataset_is_annotated_once_in_read_split_order(tmp_path, monkeypatch):
    speeds = [[0.0, 1.0, 2.0], [0.5, 1.5]]
    root = _old_dataset(tmp_path / "old", speeds)
    motion = read_motion(root, "train")
    assert set(motion) == {"mean_flow", "motion_map", "motion", "flow_std", "fps"}
    assert motion["mean_flow"].shape == (5, 45, 80, 2) and motion["mean_flow"].dtype == np.float16
    assert motion["motion_map"].shape == (5, 45, 80) and motion["motion_map"].dtype == np.float16
    for key in ("motion", "flow_std", "fps"):
        assert motion[key].shape == (5,) and motion[key].dtype == np.float32
    assert np.all(motion["fps"] == 12.0)
    clips, _ = read_split(root, "train")
    for clip, speed, measured, field in zip(
        clips, sum(speeds, []), motion["motion"], motion["mean_flow"], strict=True
    ):
        assert measured == pytest.approx(speed, abs=0.15)  # the order is read_split's
        assert np.array_equal(field, annotate_clip(clip).mean_flow)
    assert sorted(p.name for p in (root / MOTION_CACHE_DIR).iterdir()) == [
        "train-00000.npz",
        "train-00001.npz",
    ]
    _no_annotating(monkeypatch)
    again = read_motion(root, "train")
    for key in motion:
        assert np.array_equal(again[key], motion[key])
    assert read_motion(root, "val")["motion"].shape == (0,)


def test_a_rewritten_shard_is_annotated_again(tmp_path):
    root = _old_dataset(tmp_path / "old", [[1.0]])
    assert read_motion(root, "train")["motion"][0] == pytest.approx(1.0, abs=0.1)
    write_shard(root / "train-00000.h5", _clips([2.0]), ["v"], [0.0], {"v": {}})
    os.utime(root / "train-00000.h5", ns=(1, 1))  # a new file, whatever the clock says
    assert read_motion(root, "train")["motion"][0] == pytest.approx(2.0, abs=0.15)


def test_unwritable_dataset_caches_in_the_user_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SCENEGAN_CACHE", str(tmp_path / "cache"))
    root = _old_dataset(tmp_path / "old", [[1.0]])
    (root / MOTION_CACHE_DIR).write_text("in the way")  # no folder can be made there (even root)
    first = read_motion(root, "train")
    assert list((tmp_path / "cache" / "motion").rglob("*.npz"))
    _no_annotating(monkeypatch)
    assert np.array_equal(read_motion(root, "train")["motion"], first["motion"])


def test_stored_annotations_are_read_as_they_are(tmp_path, monkeypatch):
    clips = _clips([1.0, 0.0])
    details = {
        "fps": np.array([12.0, 24.0]),
        "crop_box": np.array([[0, 0, 1, 1], [0.1, 0.2, 0.5, 0.5]]),
        "mean_flow": np.full((2, 45, 80, 2), 0.25),
        "motion_map": np.full((2, 45, 80), 0.5),
        "motion": np.array([0.5, 0.5]),
        "flow_std": np.array([0.0, 0.1]),
    }
    root = tmp_path / "new"
    root.mkdir()
    write_shard(root / "val-00000.h5", clips, ["a", "b"], [0.0, 1.0], {}, CLIP, details)
    write_index(root, CLIP, 12.0, [{"file": "val-00000.h5", "split": "val", "n_clips": 2}], {})
    _no_annotating(monkeypatch)
    motion = read_motion(root, "val")
    assert motion["fps"].tolist() == [12.0, 24.0]
    assert np.all(motion["mean_flow"] == np.float16(0.25))
    assert motion["flow_std"].tolist() == pytest.approx([0.0, 0.1])
    assert not (root / MOTION_CACHE_DIR).exists()
    assert shards.clip_details_dtypes(CLIP)["mean_flow"] == (np.dtype(np.float16), (45, 80, 2))


def test_read_photos_is_frame_0_of_read_split_over_shards(tmp_path):
    root = _old_dataset(tmp_path / "data", [[0.5, 1.0], [2.0]])
    clips, _ = read_split(root, "train")
    photos = read_photos(root, "train")
    assert photos.shape == (3, *CLIP.image_shape) and np.array_equal(photos, clips[:, 0])
    assert read_photos(root, "val").shape == (0, *CLIP.image_shape)
