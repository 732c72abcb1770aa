"""`scenegan build-dataset` on videos PyAV writes here: decode, filters, bad input, shards,
determinism, resume, manifest input, preview and the CLI."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner
from media import (
    moving_texture,
    moving_window,
    panning_texture,
    write_audio_only,
    write_truncated,
    write_video,
)
from PIL import Image, ImageDraw
from test_bad_input import assert_one_error, scenegan

from scenegan.cli import cli, main
from scenegan.clip_format import CLIP
from scenegan.config import parse_rates
from scenegan.errors import UserError
from scenegan.pipeline import build as build_module
from scenegan.pipeline.build import BuildConfig, build_dataset, extract_all, spread_quotas
from scenegan.pipeline.decode import (
    decode_video,
    iter_rates,
    prepare_window,
    source_rates,
    window_source,
)
from scenegan.pipeline.filters import FilterConfig, filter_clip
from scenegan.pipeline.frames import prepare_image
from scenegan.pipeline.motion_fields import annotate_clip
from scenegan.pipeline.preview import contact_sheet, wrapped
from scenegan.pipeline.shards import read_index, read_motion, read_split
from scenegan.pipeline.sources import folder_sources, split_of

SCENERY = Path(
    os.environ.get(
        "SCENEGAN_SCENERY", Path(__file__).resolve().parents[1] / ".." / "shared" / "scenery"
    )
)


@pytest.fixture(scope="module")
def video_folder(tmp_path_factory) -> Path:
    """Good videos of several sizes, rates and a rotation, plus every kind of bad file."""
    folder = tmp_path_factory.mktemp("videos")
    write_video(folder / "moving-30fps.mp4", moving_texture(90, 90, 160, seed=1), fps=30)
    write_video(folder / "portrait-24fps.mp4", moving_texture(72, 160, 90, seed=2), fps=24)
    write_video(folder / "wide-60fps.mp4", moving_texture(180, 64, 192, seed=3), fps=60)
    write_video(folder / "square-25fps.mp4", moving_texture(75, 64, 64, seed=4), fps=25)
    write_video(folder / "rotated.mp4", moving_texture(90, 90, 160, seed=5), fps=30, rotation=90)
    still = np.repeat(moving_texture(1, 90, 160, seed=6), 90, axis=0)
    write_video(folder / "static.mp4", still, fps=30)
    calm = [moving_texture(45, 90, 160, seed=seed, speed=0.3) for seed in (7, 8)]
    cut = np.concatenate([calm[0], 255 - calm[1]])
    write_video(folder / "cut.mp4", cut, fps=30)
    write_video(folder / "pan.mp4", panning_texture(90, 90, 160, step=3), fps=30)
    write_video(folder / "short.mp4", moving_texture(30, 90, 160), fps=30)
    write_video(folder / "slideshow.mp4", moving_texture(40, 90, 160), fps=2)
    write_truncated(folder / "truncated.mp4", folder / "moving-30fps.mp4", keep=0.4)
    faststart = write_video(
        tmp_path_factory.mktemp("full") / "f.mp4", moving_texture(90, 90, 160), faststart=True
    )
    write_truncated(folder / "truncated-faststart.mp4", faststart, keep=0.5)
    (folder / "notes.mp4").write_text("this is a text file, not a video\n")
    (folder / "empty.mov").write_bytes(b"")
    write_audio_only(folder / "audio-only.mp4")
    (folder / "README.txt").write_text("not a video suffix: ignored\n")
    return folder


def small_config(videos: Path, out: Path, **changes) -> BuildConfig:
    """The default build, but one framing per clip (the `cropped` fixture has crop windows)."""
    return replace(BuildConfig(videos=videos, out=out, workers=1, stride=8, crops=1), **changes)


@pytest.fixture(scope="module")
def built(video_folder, tmp_path_factory) -> tuple[BuildConfig, dict]:
    config = small_config(video_folder, tmp_path_factory.mktemp("ds") / "clips", val_fraction=0.3)
    return config, build_dataset(config)


# ---------------------------------------------------------------- decode


@pytest.mark.parametrize(
    "name, n_frames", [("moving-30fps.mp4", 36), ("portrait-24fps.mp4", 36), ("wide-60fps.mp4", 36)]
)
def test_decode_resamples_to_target_fps(video_folder, name, n_frames):
    frames = decode_video(video_folder / name, fps=12.0)
    assert frames.shape == (n_frames, *CLIP.frame_shape) and frames.dtype == np.uint8


def test_decode_honours_rotation(tmp_path):
    stored = np.zeros((10, 90, 160), np.uint8)
    stored[:, :, :80] = 255  # left half white in the stored frame
    frames = decode_video(write_video(tmp_path / "r.mp4", stored, rotation=90), fps=12.0)
    # Displayed 90 degrees counter-clockwise: the stored left side is at the bottom.
    assert frames.shape[1:] == CLIP.frame_shape
    assert frames[0, :5].mean() < 20 and frames[0, -5:].mean() > 235


def test_decode_expands_video_range_to_full(tmp_path):
    levels = np.stack([np.full((64, 64), 0, np.uint8), np.full((64, 64), 255, np.uint8)] * 3)
    frames = decode_video(write_video(tmp_path / "levels.mp4", levels, fps=12), fps=12.0)
    assert frames[0].mean() < 3 and frames[1].mean() > 252


# ---------------------------------------------------------------- filters


def test_filters_on_synthetic_clips():
    config = FilterConfig()
    moving = moving_texture(32, 45, 80)
    assert filter_clip(moving, config) is None
    assert filter_clip(np.repeat(moving[:1], 32, axis=0), config) == "static"
    cut = np.concatenate([moving[:16], 255 - moving[16:]])
    assert filter_clip(cut, config) == "scene_cut"
    assert filter_clip((moving // 16).astype(np.uint8), config) == "dark"
    assert filter_clip((255 - moving // 16).astype(np.uint8), config) == "blown_out"
    assert filter_clip(panning_texture(32, 45, 80, step=1), config) == "camera_pan"
    shaky = np.stack([np.roll(f, 3 * (i % 2), axis=1) for i, f in enumerate(moving)])
    assert filter_clip(shaky, config) == "camera_shake"


def test_spread_quotas_is_even_and_capped():
    counts = {"a": 1, "b": 10, "c": 10, "d": 3}
    assert spread_quotas(counts, 100, seed=0) == counts
    quotas = spread_quotas(counts, 12, seed=0)
    assert sum(quotas.values()) == 12 and quotas["a"] == 1 and quotas["d"] == 3
    assert sorted([quotas["b"], quotas["c"]]) == [4, 4]
    assert spread_quotas(counts, 12, seed=0) == quotas


def test_split_is_by_stable_hash():
    ids = [f"video-{i}" for i in range(4000)]
    val = {i for i in ids if split_of(i, 0.1) == "val"}
    assert 320 < len(val) < 480
    # More data does not move anyone: with 4000 more sources, the first 4000 keep their split,
    # and a select split takes its share from train, never from val.
    more = ids + [f"other-{i}" for i in range(4000)]
    assert val == {i for i in more[:4000] if split_of(i, 0.1) == "val"}
    assert val == {i for i in ids if split_of(i, 0.1, 0.15) == "val"}
    select = {i for i in ids if split_of(i, 0.1, 0.15) == "select"}
    assert 480 < len(select) < 720 and not select & val
    assert not [i for i in ids if split_of(i, 0.0) == "val"]


# ---------------------------------------------------------------- the build


def test_build_writes_the_dataset_contract(built):
    config, stats = built
    index = read_index(config.out)
    assert index.fmt == CLIP and index.fps == 12.0  # the first rate of --fps
    names = sorted(p.name for p in config.out.glob("*.h5"))
    assert names and all(n.startswith(("train-", "val-")) for n in names)
    train, train_ids = read_split(config.out, "train")
    val, val_ids = read_split(config.out, "val")
    assert train.shape[1:] == CLIP.shape and train.dtype == np.uint8
    assert len(train) + len(val) == stats["clips_written"]["total"] > 0
    assert not set(train_ids) & set(val_ids)  # split by source, never by clip
    with h5py.File(config.out / names[0], "r") as shard:
        assert shard["clips"].chunks == (1, *CLIP.shape)
        assert shard["clips"].compression == "gzip"
        assert len(shard["start_time"]) == len(shard["clips"])
        provenance = json.loads(shard.attrs["provenance"])
        first = shard["source_id"][0].decode()
        assert provenance[first]["path"] == first
    assert json.loads((config.out / "stats.json").read_text()) == stats


def test_build_keeps_good_videos_and_rejects_bad_clips(built):
    _, stats = built
    train_and_val = set(read_split(built[0].out, "train")[1] + read_split(built[0].out, "val")[1])
    good = {"moving-30fps.mp4", "portrait-24fps.mp4", "wide-60fps.mp4", "square-25fps.mp4"}
    assert good | {"rotated.mp4"} <= train_and_val
    assert not {"static.mp4", "pan.mp4"} & train_and_val
    rejected = stats["clips_rejected"]
    assert rejected["static"] > 0 and rejected["camera_pan"] > 0 and rejected["scene_cut"] > 0
    assert not stats["target_reached"]


def test_build_skips_bad_files_with_reasons(built):
    _, stats = built
    reasons = {entry["file"]: entry["reason"] for entry in stats["skipped"]}
    assert reasons["notes.mp4"] == "not_a_video"
    assert reasons["empty.mov"] == "empty_file"
    assert reasons["audio-only.mp4"] == "no_video_stream"
    assert reasons["short.mp4"] == "too_short"
    assert reasons["slideshow.mp4"] == "low_fps"
    assert reasons["truncated.mp4"] == "corrupt"  # cut before its index: cannot be opened
    assert "README.txt" not in reasons
    # Index first, cut at half: at 12 fps too short before the damage, at its own 30 fps not,
    # so the clips before the damage are used.
    assert "truncated-faststart.mp4" not in reasons
    [damaged] = stats["videos_damaged_used"]
    assert damaged["file"] == "truncated-faststart.mp4"
    assert stats["videos_skipped"] == len(reasons) == 6
    assert stats["videos_found"] == 15


def test_build_is_deterministic_and_resumes(built, tmp_path):
    config, _ = built
    again = replace(config, out=tmp_path / "again", workers=2)  # other worker count, same bytes
    build_dataset(again)
    for shard in sorted(config.out.glob("*.h5")):
        assert shard.read_bytes() == (again.out / shard.name).read_bytes(), shard.name

    # An interrupted run: no index yet, one source unfinished, a half-written shard left over.
    (again.out / "index.json").unlink()
    parts = again.out / ".parts"
    source = folder_sources(config.videos)[0]
    (parts / f"{source.key}.json").unlink()
    (again.out / ".train-00000.h5.999.tmp").write_bytes(b"half a shard")
    assert extract_all(folder_sources(config.videos), again, parts) == 1
    build_dataset(again)
    for shard in sorted(config.out.glob("*.h5")):
        assert shard.read_bytes() == (again.out / shard.name).read_bytes(), shard.name
    read_split(again.out, "train")


def test_build_from_manifest(video_folder, tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    (videos / "a.mp4").symlink_to(video_folder / "moving-30fps.mp4")
    (videos / "b.mp4").symlink_to(video_folder / "wide-60fps.mp4")
    manifest = tmp_path / "manifest.sqlite"
    with sqlite3.connect(manifest) as db:
        db.execute(
            "CREATE TABLE videos (photo_id TEXT, owner TEXT, title TEXT, license_id INTEGER, "
            "license_name TEXT, page_url TEXT, local_path TEXT, status TEXT, sha256 TEXT)"
        )
        db.executemany(
            "INSERT INTO videos VALUES (?, 'someone', ?, 4, 'CC BY 2.0', ?, ?, ?, 'x')",
            [
                ("111", "waves", "https://flickr.com/p/111", "videos/a.mp4", "downloaded"),
                ("222", "wind", "https://flickr.com/p/222", "videos/b.mp4", "downloaded"),
                ("333", "gone", "https://flickr.com/p/333", "videos/c.mp4", "failed"),
            ],
        )
    db.close()
    config = BuildConfig(manifest=manifest, out=tmp_path / "ds", workers=1, val_fraction=0.0)
    stats = build_dataset(config)
    assert stats["videos_found"] == 2
    with h5py.File(tmp_path / "ds" / "train-00000.h5", "r") as shard:
        provenance = json.loads(shard.attrs["provenance"])
    assert set(provenance) == {"flickr-111", "flickr-222"}
    assert provenance["flickr-111"]["license_name"] == "CC BY 2.0"
    assert provenance["flickr-111"]["flickr_id"] == "111"


@pytest.mark.skipif(not SCENERY.is_dir(), reason="real scenery clips not available")
def test_build_on_one_real_clip(tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    (videos / "water-boiling.mp4").symlink_to(SCENERY.resolve() / "water-boiling.mp4")
    stats = build_dataset(BuildConfig(videos=videos, out=tmp_path / "ds", workers=1))
    assert stats["clips_written"]["total"] >= 5
    clips, _ = read_split(tmp_path / "ds", "train")
    clips = clips if len(clips) else read_split(tmp_path / "ds", "val")[0]
    assert 40 < clips.mean() < 200 and clips.std() > 20


# ---------------------------------------------------------------- CLI and preview


def test_cli_build_with_two_workers_and_preview(video_folder, tmp_path):
    out = tmp_path / "ds"
    args = ["build-dataset", "--videos", str(video_folder), "--out", str(out)]
    result = CliRunner().invoke(cli, [*args, "--workers", "2", "--preview", "--clips", "3"])
    assert result.exit_code == 0, result.output
    assert "wrote 3 clips" in result.output and "skipped 6 videos" in result.output
    assert (out / "preview" / "preview.png").stat().st_size > 0
    assert (out / "preview" / "preview.gif").stat().st_size > 0
    result = CliRunner().invoke(cli, ["inspect", str(out), "--out", str(tmp_path / "p")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "p" / "preview.gif").is_file()


def test_cli_dry_run_prints_config(tmp_path):
    result = CliRunner().invoke(cli, ["build-dataset", "--videos", str(tmp_path), "--dry-run"])
    assert result.exit_code == 0
    assert json.loads(result.output)["stride"] == 8


@pytest.mark.parametrize(
    "setup, message",
    [
        (lambda tmp: ["--videos", str(tmp / "nowhere")], "does not exist"),
        (lambda tmp: ["--videos", str(tmp)], "no video files"),
        (lambda tmp: ["--manifest", str(tmp / "none.sqlite")], "run `scenegan fetch`"),
    ],
)
def test_cli_bad_input_is_one_line(tmp_path, monkeypatch, capsys, setup, message):
    out = ["--out", str(tmp_path / "ds")]
    monkeypatch.setattr(sys, "argv", ["scenegan", "build-dataset", *setup(tmp_path), *out])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code in (1, 2)  # 2: a click usage error
    error = capsys.readouterr().err
    assert error.startswith("error: ") and message in error and error.count("\n") == 1


def test_out_folder_with_other_files_is_refused(video_folder, tmp_path):
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "holiday.jpg").write_bytes(b"x")
    args = ["build-dataset", "--videos", str(video_folder), "--out", str(tmp_path / "ds")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code != 0
    assert isinstance(result.exception, UserError) and "not a scenegan dataset" in str(
        result.exception
    )


def test_build_killed_mid_way_finishes_on_rerun(built, tmp_path, monkeypatch):
    """SIGKILL a build after its first video is done; the rerun decodes only the others and
    writes the same bytes. The build holds still right after saving that video's part (its
    save is wrapped to sleep then), so it is killed mid-way whatever the machine's speed."""
    config, _ = built
    out = tmp_path / "killed"
    saved = tmp_path / "saved"
    script = f"""
import sys, time
from pathlib import Path
from scenegan.cli import main
from scenegan.pipeline import build

save = build.save_part

def save_then_wait(parts, result, extract_config):
    save(parts, result, extract_config)
    Path({str(saved)!r}).write_text(result.source.source_id)
    time.sleep(600)  # killed here

build.save_part = save_then_wait
main(sys.argv[1:])
"""
    args = ["build-dataset", "--videos", str(config.videos), "--out", str(out)]
    args += ["--workers", "1", "--val-fraction", str(config.val_fraction)]
    args += ["--crops", str(config.crops)]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    command = [sys.executable, "-c", script, *args]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(60000):  # a guard against a hung child, not a timing
            if saved.is_file() or process.poll() is not None:
                break
            time.sleep(0.01)
        assert saved.is_file(), process.stderr.read().decode()[-2000:]
        assert process.poll() is None  # still running: the kill ends it, not the build
    finally:
        process.kill()
        process.wait()
        process.stderr.close()
    assert not (out / "index.json").exists()  # the build was cut off before its end
    extracted = []
    real_extract = build_module.extract_source
    monkeypatch.setattr(
        build_module,
        "extract_source",
        lambda source, *a: extracted.append(source.source_id) or real_extract(source, *a),
    )
    build_dataset(replace(config, out=out))
    n_sources = len(folder_sources(config.videos))
    assert saved.read_text() not in extracted and len(extracted) == n_sources - 1
    for shard in sorted(config.out.glob("*.h5")):
        assert shard.read_bytes() == (out / shard.name).read_bytes(), shard.name


@pytest.mark.parametrize(
    "attribute, value, words",
    [
        ("format_version", 4, "format version 4, expected 3"),
        ("clip_format", '{"n_frames": 32, "height": 90, "width": 160}', "gray 160x90"),
        ("clip_format", "not json", "no readable clip_format"),
    ],
)
def test_shard_attributes_are_checked_on_open(tmp_path, attribute, value, words):
    """A shard whose own format attributes disagree with index.json is from another build."""
    from media import write_splits

    clips = np.zeros((2, *CLIP.shape), np.uint8)
    root = write_splits(tmp_path / "ds", {"train": (clips, ["a", "b"])})
    with h5py.File(root / "train-00000.h5", "r+") as f:
        f.attrs[attribute] = value
    with pytest.raises(UserError, match="train-00000.h5 is damaged or from another build") as e:
        read_split(root, "train")
    assert words in str(e.value) and "rebuild the dataset" in str(e.value)


# ---------------------------------------------------------------- frame rates, crops, motion


def test_rates_are_parsed_and_never_faked():
    assert parse_rates("12,24") == (12.0, 24.0)
    assert parse_rates(" 12 , Native ") == (12.0, "native")
    for bad, words in [
        ("0,12", "0 is not"),
        ("12,abc", "'abc'"),
        ("12,12", "twice"),
        ("", "not a frame rate"),
    ]:
        with pytest.raises(ValueError, match=words):
            parse_rates(bad)
    # a 25 fps source gives 12 and its own 25 but not 30; 24 from 23.976 is within 1%
    assert source_rates((12.0, 30.0, "native"), 25.0) == (12.0, 25.0)
    assert source_rates((24.0, "native"), 23.976) == (24.0,)  # native: the same rate again
    assert source_rates((12.0, 24.0), 10.0) == ()
    assert source_rates(("native",), 2.0, min_source_fps=8.0) == ()


def test_decoding_several_rates_at_once_gives_each_rate_alone(video_folder):
    path = video_folder / "moving-30fps.mp4"
    together: dict[int, list] = {0: [], 1: []}
    for output in iter_rates(path, (12.0, 30.0)):
        together[output.rate_index].append(output.frame)
    assert np.array_equal(np.stack(together[0]), decode_video(path, 12.0))
    assert np.array_equal(np.stack(together[1]), decode_video(path, 30.0))
    assert len(together[1]) == 90  # every frame of the source, none repeated


@pytest.fixture(scope="module")
def cropped(video_folder, tmp_path_factory) -> tuple[BuildConfig, dict]:
    """Three good videos at 12 fps and their own rate, two framings per clip."""
    videos = tmp_path_factory.mktemp("three")
    for name in ("moving-30fps.mp4", "portrait-24fps.mp4", "rotated.mp4"):
        (videos / name).symlink_to(video_folder / name)
    config = small_config(
        videos, tmp_path_factory.mktemp("c") / "ds", fps="12,native", crops=2, val_fraction=0.5
    )
    return config, build_dataset(config)


def test_clips_carry_rate_crop_box_and_motion(cropped):
    config, stats = cropped
    assert stats["clips_by_fps"].keys() == {"12", "24", "30"}
    assert stats["clips_by_framing"]["window"] > 0
    assert sum(stats["clips_by_fps"].values()) == stats["clips_written"]["total"]
    for split in ("train", "val"):
        clips, ids = read_split(config.out, split)
        motion = read_motion(config.out, split)
        own = [24.0 if i == "portrait-24fps.mp4" else 30.0 for i in ids]
        assert all(f in (12.0, o) for f, o in zip(motion["fps"], own, strict=True))
        if not len(clips):
            continue
        with h5py.File(config.out / f"{split}-00000.h5", "r") as shard:
            whole = np.all(shard["crop_box"][()] == [0, 0, 1, 1], axis=1)
        for i in np.flatnonzero(whole)[:4]:
            expected = annotate_clip(clips[i])  # a whole frame's annotations are its own
            assert np.array_equal(motion["mean_flow"][i], expected.mean_flow)
            assert motion["motion"][i] == pytest.approx(expected.motion, rel=1e-6)
        assert np.all(motion["motion"][~whole] > 0)
    with h5py.File(config.out / "train-00000.h5", "r") as shard:
        assert shard.attrs["format_version"] == 3
        boxes = shard["crop_box"][()]
        whole = np.all(boxes == [0, 0, 1, 1], axis=1)
        assert whole.any() and not whole.all()
        sides = boxes[~whole, 2]
        assert np.all((sides >= 0.5) & (sides <= 0.75)) and np.all(boxes[~whole, 3] == sides)
        assert np.all(boxes[:, :2] + boxes[:, 2:] <= 1 + 1e-6)


def test_crops_are_reproducible_and_stay_in_their_split(cropped, tmp_path):
    config, _ = cropped
    again = replace(config, out=tmp_path / "again", workers=2)
    build_dataset(again)
    for shard in sorted(config.out.glob("*.h5")):
        assert shard.read_bytes() == (again.out / shard.name).read_bytes(), shard.name
    train_ids = set(read_split(config.out, "train")[1])
    val_ids = set(read_split(config.out, "val")[1])
    assert train_ids and not train_ids & val_ids


def test_a_window_is_the_same_place_of_the_whole_frame():
    # a 4:3 frame, 0..199 left to right; its 16:9 box is all columns, rows 75..524
    full = np.tile((np.arange(800) // 4).astype(np.uint8)[None, :], (600, 1))
    source = window_source(full, 0, CLIP)
    assert source.shape == (180, 320)  # 4 x the clip's size
    whole = prepare_window(source, False, (0.0, 0.0, 1.0, 1.0), CLIP)
    assert np.abs(whole.astype(int) - prepare_image(full, CLIP)).max() <= 1
    right = prepare_window(source, False, (0.25, 0.5, 0.5, 0.5), CLIP)
    assert right.mean() == pytest.approx(150, abs=1) and right.shape == CLIP.frame_shape
    turned = window_source(np.ascontiguousarray(np.rot90(full, k=-1)), 90, CLIP)
    assert np.array_equal(turned, source)  # stored sideways, displayed upright


def test_slow_clouds_are_kept_and_grain_is_static():
    config = FilterConfig()
    clouds = moving_window([(0.1 * t, 0.0) for t in range(32)])  # 0.1 px a frame
    assert filter_clip(clouds, config) is None
    still = moving_window([(0.0, 0.0)] * 32)
    grain = np.random.default_rng(0).normal(0, 1.0, still.shape)
    assert filter_clip(np.clip(still + grain, 0, 255).astype(np.uint8), config) == "static"


@pytest.mark.parametrize(
    "option, value, expected",
    [("--fps", "0,12", "--fps"), ("--fps", "12,abc", "--fps"), ("--crops", "0", "--crops")],
)
def test_bad_rates_and_crops_are_one_line(video_folder, tmp_path, capsys, option, value, expected):
    args = ["build-dataset", "--videos", video_folder, "--out", tmp_path / "x", option, value]
    assert_one_error(*scenegan(capsys, args), expected)
    assert not (tmp_path / "x").exists()


def test_inspect_shows_the_rejected_clips_by_reason(built, tmp_path):
    config, stats = built
    args = ["inspect", str(config.out), "--out", str(tmp_path / "p"), "--rejected"]
    result = CliRunner().invoke(cli, [*args, "--per-reason", "2"])
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "p" / "rejected.png") as sheet:
        # two clips per reason the build counted (a row is a label of one or two lines, wrapped
        # at the sheet's width, and a strip of frames)
        rows = 2 * len(stats["clips_rejected"])
        assert rows * (12 + CLIP.height + 2) <= sheet.height <= rows * (24 + CLIP.height + 2)


def test_contact_sheet_labels_wrap_at_the_sheet_width():
    measure = ImageDraw.Draw(Image.new("L", (1, 1))).textlength
    label = "moving_camera (18 sampled): a-video.mp4 29.97 fps @ 0.5s; " * 4
    lines = wrapped(label.strip(), 300, measure)
    assert len(lines) > 1 and " ".join(lines) == label.strip()
    assert all(measure(line) <= 300 for line in lines)
    clips = np.zeros((2, 32, 45, 80), np.uint8)
    sheet = contact_sheet(clips, ["short", label])
    assert sheet.width == 8 * 82 - 2
    assert sheet.height == 2 * (45 + 2) + 12 * (1 + len(wrapped(label, sheet.width - 2, measure)))
