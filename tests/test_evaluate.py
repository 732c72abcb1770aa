"""`scenegan evaluate` on a tiny dataset: report files, rows, FVD halvings, stage small."""

import json
from dataclasses import replace
from html import escape
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import torch
from click.testing import CliRunner
from media import TinyGenerator, textured_photo, write_splits

from scenegan.cli import cli
from scenegan.clip_format import CLIP, SMALL
from scenegan.errors import UserError
from scenegan.evaluation import evaluate as evaluate_module
from scenegan.evaluation.classes import CAPTION, class_speeds
from scenegan.evaluation.evaluate import (
    CONSTANT_SPEED,
    REAL,
    EvaluateConfig,
    evaluate,
    load_real_clips,
)
from scenegan.model.baselines import CopiedPhoto, DriftingPhoto
from scenegan.model.checkpoint import SHIPPED_CHECKPOINT


def make_dataset(root, n_clips=16, moving=True):
    """A val split of textured photos panning right one pixel per frame (or standing still)."""
    clips = []
    for i in range(n_clips):
        wide = textured_photo(height=45, width=80 + 32, seed=i).round().astype(np.uint8)
        offsets = range(32, 0, -1) if moving else [32] * 32
        clips.append(np.stack([wide[:, o : o + 80] for o in offsets]))
    clips = np.stack(clips)
    write_splits(root, {"val": (clips, [f"video{i % 4}" for i in range(n_clips)])})
    return clips


def frechet(a, b):
    mean = a.mean(0) - b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(cov_a @ cov_b).real
    return float(mean @ mean + np.trace(cov_a + cov_b - 2 * root))


@pytest.fixture
def tiny_fvd(monkeypatch, tmp_path):
    """A 3-number stand-in for I3D features (the real I3D is tested by its own module)."""
    monkeypatch.setenv("SCENEGAN_CACHE", str(tmp_path / "cache"))
    calls = []

    def features(clips, batch_size=8, device="cpu", progress=False):
        calls.append(len(clips))
        x = clips.astype(np.float64)
        left = x[..., :40].mean(axis=(1, 2, 3))
        return np.stack([x.mean(axis=(1, 2, 3)), x.std(axis=(1, 2, 3)), left], axis=1)

    monkeypatch.setattr(
        evaluate_module, "_fvd_functions", lambda color="gray": (features, frechet, "tiny features")
    )
    return calls


def test_evaluate_cli_writes_report_and_plots(tmp_path):
    make_dataset(tmp_path / "data")
    out = tmp_path / "report"
    args = ["evaluate", "--checkpoint", "baseline:drift", "--data", str(tmp_path / "data")]
    args += ["--out", str(out), "--no-fvd", "--n-clips", "12"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    names = {"report.json", "report.md", "correlation.png", "motion_energy.png", "strips.png"}
    assert names <= {p.name for p in out.iterdir()}
    report = json.loads((out / "report.json").read_text())
    assert report["n_clips"] == 12 and report["n_val_clips"] == 16
    rows = report["rows"]
    assert list(rows) == [
        REAL,
        CONSTANT_SPEED,
        "copied photo",
        "drifting photo",
        "model (baseline:drift)",
    ]
    assert rows["copied photo"]["motion_energy"] == 0
    assert rows["copied photo"]["scene_corr"] == pytest.approx(1.0)
    assert rows[REAL]["motion_ratio"] == pytest.approx(1.0)
    assert rows[REAL]["frame0_err"] == 0
    assert rows["drifting photo"]["diversity"] > 0
    assert 0.5 < rows[REAL]["flow_p50"] < 1.5  # the pan is one pixel per frame
    assert len(report["per_frame_correlation"][REAL]) == 32
    table = (out / "report.md").read_text()
    assert "| copied photo |" in table and "12 of 16 held-out clips" in table


def test_fvd_rows_share_halvings_and_features_are_cached(tmp_path, tiny_fvd):
    make_dataset(tmp_path / "data", moving=False)  # static real clips: copying is perfect
    config = EvaluateConfig(
        data=tmp_path / "data", out=tmp_path / "out", checkpoint="baseline:copy", halvings=3
    )
    report = evaluate(config, generator=(CopiedPhoto(), {"arch": "copy"}))
    rows = report["rows"]
    assert len(rows) == 5
    # Static real clips, the copied photo and the model (a copier too) are the same clips, so
    # the cache computes features twice: once for them, once for the drifting photo.
    assert tiny_fvd == [16, 16]
    # The copied photo reproduces each static clip, so it scores exactly the real-vs-real floor.
    assert rows["copied photo"]["fvd_halvings"] == rows[REAL]["fvd_halvings"]
    assert len(rows[REAL]["fvd_halvings"]) == 3
    assert report["fvd_sample_size"] == [8, 8]
    fresh = evaluate(replace(config, fvd_cache=False), generator=(CopiedPhoto(), {"arch": "c"}))
    assert tiny_fvd == [16, 16] + [16] * 4  # without the cache: one pass per row
    assert fresh["rows"][REAL]["fvd_halvings"] == rows[REAL]["fvd_halvings"]
    assert rows["drifting photo"]["fvd"] > rows[REAL]["fvd"]
    # report.md (of the last run) has one table line per row, each with that row's own FVD
    # and frame-0 error.
    table = [line for line in (tmp_path / "out" / "report.md").read_text().splitlines()]
    for label, row in fresh["rows"].items():
        [line] = [line for line in table if line.startswith(f"| {label} |")]
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if label == CONSTANT_SPEED:  # a row of the flow-speed columns alone
            assert cells[1] == cells[2] == cells[-2] == "-"
            continue
        assert cells[1] == f"{row['fvd']:.1f} +- {row['fvd_std']:.1f}"
        assert cells[2] == f"{row['kvd']:.1f} +- {row['kvd_std']:.1f}"
        assert cells[-2] == f"{row['frame0_err']:.2f}"
    # A second run on the same data finds every row's features in the cache.
    again = evaluate(config, generator=(CopiedPhoto(), {"arch": "copy"}))
    assert len(tiny_fvd) == 6  # nothing new computed
    assert again["rows"]["drifting photo"]["fvd"] == rows["drifting photo"]["fvd"]


def test_flow_speed_rows_have_known_answers(tmp_path):
    """Real clips pan 1 px a frame; the copied photo does not move; a drifting photo moves at
    the velocity its noise gives each clip (the model row: one without grain)."""
    make_dataset(tmp_path / "data", n_clips=8)
    config = EvaluateConfig(data=tmp_path / "data", out=tmp_path / "out", fvd=False, seed=3)
    report = evaluate(config, generator=(DriftingPhoto(noise=0.0), {"arch": "drift"}))
    rows = report["rows"]
    real_speeds = np.array(rows[REAL]["flow_speed_clips"])
    assert np.all(np.abs(real_speeds - 1.0) < 0.1)
    assert rows[REAL]["flow_speed_ratio"] == 1.0 and rows[REAL]["speed_factor"] == 1.0
    assert rows[REAL]["speed_w1"] == 0.0
    copied = rows["copied photo"]
    assert copied["flow_speed"] == 0.0 and copied["flow_speed_ratio"] == 0.0
    assert copied["speed_factor"] == pytest.approx(
        np.exp(np.median(np.abs(np.log(0.01 / (real_speeds + 0.01))))), rel=1e-6
    )
    assert copied["speed_w1"] == pytest.approx(np.log10(real_speeds + 0.01).mean() + 2, abs=1e-6)
    # the drifting photo's velocity: z[:, :2] x 0.15 px a frame, z drawn as evaluate draws it
    z = torch.randn(8, 3, generator=torch.Generator().manual_seed(3))
    given = (z[:, :2] * 0.15).norm(dim=1).numpy()
    drifting = np.array(rows["model (drift)"]["flow_speed_clips"])
    assert np.all(np.abs(drifting - given) < 0.05), (drifting, given)  # DIS at 0.05-0.35 px/f
    # the baseline row's 1.5 grey levels of grain read as extra flow on these smooth photos
    assert np.all(np.array(rows["drifting photo"]["flow_speed_clips"]) > drifting)
    constant = rows[CONSTANT_SPEED]
    assert constant["flow_speed"] == pytest.approx(np.median(real_speeds))
    assert constant["speed_factor"] < 1.1  # every real clip moves at about the same speed
    assert np.isnan(rows[REAL]["still_flow"])  # the real clips pan everywhere: nothing still
    assert rows[REAL]["where_corr"] == pytest.approx(1.0)
    assert np.isnan(rows["copied photo"]["where_corr"])  # no flow anywhere: no map to compare


def test_where_correlation_reads_whether_motion_is_where_the_real_clip_moved():
    from scenegan.evaluation.metrics import where_correlation

    rng = np.random.default_rng(0)
    real = rng.uniform(0.0, 2.0, (4, 9, 16)).astype(np.float32)
    assert where_correlation(real, real) == pytest.approx(1.0)
    assert where_correlation(real * 3 + 0.5, real) > 0.9  # faster, in the same places
    swapped = real[:, ::-1, ::-1].copy()  # the same speeds, elsewhere
    assert abs(where_correlation(swapped, real)) < 0.3
    opposite = 1 / (real + 0.01) - 0.01  # log(opposite + 0.01) = -log(real + 0.01)
    assert where_correlation(opposite, real) == pytest.approx(-1.0)  # still where it moved
    everywhere = np.full_like(real, 0.3)  # moves everywhere alike: no answer, skipped
    assert np.isnan(where_correlation(everywhere, real))
    assert where_correlation(np.concatenate([everywhere[:2], real[2:]]), real) == pytest.approx(1)


def test_still_area_flow_reads_motion_where_the_real_clip_stood_still():
    from scenegan.evaluation.metrics import still_area_flow

    real = np.zeros((3, 4, 10), np.float32)
    real[:, :, 5:] = 1.0  # the right half moves, the left half stands still
    everywhere = np.full_like(real, 0.5)
    assert still_area_flow(everywhere, real) == pytest.approx(0.5)
    assert still_area_flow(real, real) == 0.0
    assert still_area_flow(np.zeros_like(real), real) == 0.0
    assert np.isnan(still_area_flow(everywhere, np.ones_like(real)))  # no still place


def test_seed_baseline_row_and_small_stage(tmp_path):
    make_dataset(tmp_path / "data", n_clips=6)
    config = EvaluateConfig(
        data=tmp_path / "data", out=tmp_path / "out", baseline="baseline:copy", fvd=False
    )
    report = evaluate(config, generator=(TinyGenerator(CLIP), {"arch": "tiny"}))
    assert "baseline:copy" in report["rows"] and "model (tiny)" in report["rows"]
    # A named baseline is made at the model's format; a trained one keeps its own.
    shipped = replace(config, baseline=str(SHIPPED_CHECKPOINT))
    with pytest.raises(UserError, match="same stage"):
        evaluate(shipped, generator=(TinyGenerator(SMALL), {"arch": "tiny"}))
    config = EvaluateConfig(data=tmp_path / "data", out=tmp_path / "small", fvd=False)
    report = evaluate(config, generator=(TinyGenerator(SMALL), {"arch": "tiny"}))
    assert report["clip_format"] == SMALL.to_dict()
    assert report["rows"]["model (tiny)"]["diversity"] > 0


def test_evaluate_errors(tmp_path):
    with pytest.raises(UserError, match="no dataset"):
        evaluate(EvaluateConfig(data=tmp_path, out=tmp_path / "o", checkpoint="baseline:copy"))
    make_dataset(tmp_path / "few", n_clips=3)
    config = EvaluateConfig(data=tmp_path / "few", out=tmp_path / "o", checkpoint="baseline:copy")
    with pytest.raises(UserError, match="at least 4"):
        evaluate(config)
    with pytest.raises(UserError, match="n-clips"):
        EvaluateConfig(data=tmp_path, out=tmp_path, n_clips=2)


def test_sources_keeps_the_clips_of_matching_videos(tmp_path):
    clips = make_dataset(tmp_path / "data", n_clips=16)
    config = EvaluateConfig(data=tmp_path / "data", out=tmp_path / "out", sources="video1,video3")
    real, n_clips, ids, rates = load_real_clips(config, CLIP)
    assert len(rates) == len(real)
    assert n_clips == 8 and np.array_equal(real, clips[[i for i in range(16) if i % 2]])
    with pytest.raises(UserError, match="matching nothing-"):
        load_real_clips(replace(config, sources="nothing-*"), CLIP)


def test_groups_score_the_rows_again_on_each_group_of_videos(tmp_path, tiny_fvd):
    make_dataset(tmp_path / "data", n_clips=16)
    config = EvaluateConfig(
        data=tmp_path / "data",
        out=tmp_path / "out",
        checkpoint="baseline:copy",
        halvings=2,
        groups="odd=video1,video3;zero=video0",
    )
    report = evaluate(config, generator=(CopiedPhoto(), {"arch": "copy"}))
    assert len(tiny_fvd) == 3  # real, copied photo (the model is the same), drifting photo
    odd, zero = report["groups"]["odd"], report["groups"]["zero"]
    assert (odd["n_clips"], zero["n_clips"]) == (8, 4)
    assert set(odd["rows"]) == set(report["rows"])
    assert odd["rows"]["model (copy)"]["frame0_err"] == 0
    assert odd["rows"][REAL]["fvd"] >= 0 and "fvd" in zero["rows"]["drifting photo"]
    text = (tmp_path / "out" / "report.md").read_text()
    assert "**odd**: the 8 clips of video1,video3" in text
    assert set(report["classes"]) == {"video0", "video1", "video2", "video3"}  # no '-': a video
    assert report["classes"]["video0"]["rows"]["copied photo"]["flow_speed_ratio"] == 0
    assert CAPTION in text and escape(CAPTION) in (tmp_path / "out" / "report.html").read_text()
    with pytest.raises(UserError, match="a group needs 4"):
        evaluate(replace(config, groups="none=nothing-*"), generator=(CopiedPhoto(), {}))


def test_evaluate_opens_each_shard_once(tmp_path, monkeypatch):
    """The index is read once and every reader takes it: each shard (train and val alike,
    each checked as it opens) is opened once in a whole evaluation."""
    import h5py

    clips = np.random.default_rng(0).integers(0, 256, (14, *CLIP.shape), dtype=np.uint8)
    ids = [f"video{i % 4}" for i in range(14)]
    root = write_splits(
        tmp_path / "data", {"train": (clips[:6], ids[:6]), "val": (clips[6:], ids[6:])}
    )
    opened = []
    real_file = h5py.File

    def counting_file(name, mode="r", *args, **kwargs):
        if mode == "r":
            opened.append(Path(name).name)
        return real_file(name, mode, *args, **kwargs)

    monkeypatch.setattr(h5py, "File", counting_file)
    config = EvaluateConfig(
        data=root, out=tmp_path / "out", checkpoint="baseline:drift", fvd=False, n_clips=8
    )
    report = evaluate(config)
    assert report["n_clips"] == 8
    assert sorted(opened) == ["train-00000.h5", "val-00000.h5"]


def test_class_speeds_measure_each_class_against_its_own_real_clips():
    """A row at the real speed of one class and twice that of the other is 1x / 1 and 2x / 2."""
    ids = ["fire-a.mp4", "fire-b.mp4", "fire-b.mp4", "clouds-x.mp4"]
    real = np.array([1.0, 2.0, 3.0, 0.1])
    made = np.array([1.0, 2.0, 3.0, 0.2])
    classes = class_speeds({REAL: real, "model": made}, REAL, ids)
    assert list(classes) == ["clouds", "fire"]
    assert (classes["fire"]["n_clips"], classes["fire"]["n_videos"]) == (3, 2)
    assert classes["fire"]["rows"]["model"] == {"flow_speed_ratio": 1.0, "speed_factor": 1.0}
    clouds = classes["clouds"]["rows"]["model"]
    assert clouds["flow_speed_ratio"] == 2.0
    assert clouds["speed_factor"] == pytest.approx(0.21 / 0.11)  # the 0.01 px/frame floor
