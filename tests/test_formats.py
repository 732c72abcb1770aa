"""Clip formats (issue 14): the old recipe (one rate, one framing) still builds the gray 80 x 45
clips of before, byte for byte, and the model animates as before; an rgb 160 x 90 dataset and
model go through every command; and a checkpoint given
a dataset of another format ends in one clear line.

The golden files in tests/data/golden/ were written by the code before colour and size existed:
two colour videos, the index.json, stats.json and shard contents their default build made, and
the shipped model's animations of one of its clips (written again when a new model ships: the
motion model with its scene prior, on 2026-12-07).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from test_bad_input import assert_one_error, scenegan

from scenegan.animation_files import read_animation
from scenegan.clip_format import CLIP, ClipFormat, channels_first, channels_last, clip_format
from scenegan.model import checkpoint as ckpt
from scenegan.model.archs import build_discriminator, build_generator, default_args
from scenegan.pipeline.frames import luma, prepare_image
from scenegan.pipeline.shards import read_index, read_split

GOLDEN = Path(__file__).parent / "data" / "golden"
RGB = ClipFormat(n_frames=32, height=90, width=160, color="rgb")


def tiny(steps: int = 2) -> list[str]:
    """Options of a few real training steps."""
    return [
        *("--steps", str(steps), "--batch-size", "2", "--snapshot-every", "2"),
        *("--no-tensorboard", "--threads", "1"),
    ]


TINY = tiny()


def golden_videos(tmp_path: Path) -> Path:
    videos = tmp_path / "videos"
    videos.mkdir()
    for video in GOLDEN.glob("*-golden.mp4"):
        shutil.copy(video, videos / video.name)
    return videos


def build(capsys, videos: Path, out: Path, *options) -> None:
    args = ["build-dataset", "--videos", videos, "--out", out, "--workers", "1", "--stride", "4"]
    code, output = scenegan(capsys, [*args, "--val-fraction", "0", *options])
    assert code == 0, output


@pytest.fixture(scope="module")
def rgb_dataset(tmp_path_factory) -> Path:
    """The golden videos built at rgb 160 x 90 (10 clips, all in train)."""
    from scenegan.pipeline.build import BuildConfig, build_dataset

    tmp = tmp_path_factory.mktemp("rgb")
    config = BuildConfig(
        videos=golden_videos(tmp),
        out=tmp / "rgb",
        manifest=tmp / "manifest.sqlite",
        workers=1,
        stride=4,
        val_fraction=0.0,
        color="rgb",
        size="160x90",
    )
    build_dataset(config)
    return tmp / "rgb"


# ---------------------------------------------------------------- the defaults, byte for byte


def test_the_old_recipe_builds_the_clips_it_built_before_colour(capsys, tmp_path):
    """The golden files pin the build of before colour (and before frame rates, crop windows
    and flow filters): at its one rate and framing (`--fps 12 --crops 1`) today's build keeps
    the same clips, byte for byte, at the same times. What is new is listed here: format
    version 3 (per-clip frame rate, crop box and motion in the shard since 2, the first frame
    in colour, `context`, since 3), the options' new fields, the flow filters' thresholds and
    the context's scale in index.json, counts by rate and framing in stats.json. The people,
    overlay (its bars too: the sea's sky shades row by row), zoom, moving-camera and duplicate
    filters (issue 36) drop nothing here: their thresholds and `dedup` are new in index.json,
    no duplicate pairs and no videos rejected new in stats.json."""
    videos, out = golden_videos(tmp_path), tmp_path / "ds"
    build(capsys, videos, out, "--fps", "12", "--crops", "1")
    index = json.loads(
        (out / "index.json").read_text().replace(str(videos), "<videos>").replace(str(out), "<out>")
    )
    expected = json.loads((GOLDEN / "gray-80x45-index.json").read_text())
    expected["format_version"] = 3
    expected["context_scale"] = 2
    config = expected["config"]
    config.update(fps="12", crops=1, context_scale=2)
    filters = config["filters"]
    del filters["static_max_motion"], filters["camera_min_response"]
    filters.update(static_max_flow=0.04, camera_min_agreement=0.6, pan_max_pixels=24.0)
    filters.update(exposure_max_fraction=0.95)
    filters.update(zoom_max_scale=0.03, zoom_min_fit=0.8, overlay_max_area=0.01)
    filters.update(zoom_fast_scale=0.3, zoom_fast_fit=0.65)
    filters.update(people_min_face=4.5, people_min_person=0.55, people_min_share=0.25)
    filters.update(people_frames=4, overlay_max_bars=0.05, camera_min_share=0.3)
    filters.update(people_steady_person=0.45, people_clear_person=0.6, people_min_footwear=0.5)
    filters.update(overlay_max_text=0.005, camera_max_glide=14.0, camera_max_flight=20.0)
    config.update(dedup="split", duplicate_min_similarity=0.68)
    assert index == expected
    stats = json.loads((out / "stats.json").read_text())
    assert stats.pop("duplicate_pairs") == [] and stats.pop("videos_rejected") == {}
    assert stats.pop("clips_by_fps") == {"12": 10}
    assert stats.pop("clips_by_framing") == {"whole": 10, "window": 0}
    assert stats == json.loads((GOLDEN / "gray-80x45-stats.json").read_text())
    shard = json.loads((GOLDEN / "gray-80x45-shard.json").read_text())
    with h5py.File(out / "train-00000.h5", "r") as f:
        assert hashlib.sha256(f["clips"][()].tobytes()).hexdigest() == shard["clips"]
        assert [s.decode() for s in f["source_id"][()]] == shard["source_id"]
        assert f["start_time"][()].tolist() == shard["start_time"]
        new = {"format_version": 3, "context_scale": 2}
        assert {k: f.attrs[k] for k in f.attrs} == {**shard["attrs"], **new}
        assert f["clips"].shape[1:] == CLIP.shape and f["clips"].dtype == np.uint8
        assert f["fps"][()].tolist() == [12.0] * 10 and f["motion"].shape == (10,)
        assert f["context"].shape == (10, 90, 160, 3) and f["context"].dtype == np.uint8


def test_shipped_model_animates_as_before():
    from scenegan.model.animator import animate, draw_noise

    golden = np.load(GOLDEN / "shipped-sample.npz")
    G, info = ckpt.load_generator(ckpt.SHIPPED_CHECKPOINT)
    assert G.fmt == CLIP and G.dataset_fmt == CLIP and ckpt.trained_format(info) == CLIP
    animations = animate(G, golden["photo"], draw_noise(G, 2, int(golden["seed"])))
    blocks = animations.reshape(2, 32, 9, 5, 16, 5).astype(np.float32).mean(axis=(3, 5))
    np.testing.assert_allclose(blocks, golden["animations_9x16"], atol=0.05)


# ---------------------------------------------------------------- the format value


def test_sizes_are_16_9_and_stage_small_is_half():
    assert clip_format("rgb", "160x90") == RGB
    assert RGB.half() == ClipFormat(32, 45, 80, "rgb") and CLIP.half().frame_shape == (23, 40)
    assert RGB.shape == (32, 90, 160, 3) and CLIP.shape == (32, 45, 80)
    assert ClipFormat.from_dict(RGB.to_dict()) == RGB and "color" not in CLIP.to_dict()
    for bad in ("160x100", "90x160", "100x56", "tiny", "48x27"):
        with pytest.raises(ValueError, match="--size"):
            clip_format("gray", bad)
    clips = np.zeros((2, *RGB.shape), np.uint8)
    assert channels_first(clips, RGB).shape == (2, 3, 32, 90, 160)
    assert np.array_equal(channels_last(channels_first(clips, RGB), RGB), clips)


def test_bad_format_options_are_one_line_errors(capsys, tmp_path):
    videos = golden_videos(tmp_path)
    for option, value, expected in [
        ("--size", "160x100", "16:9"),
        ("--color", "cmyk", "--color"),
        ("--frames", "4", "--frames"),
    ]:
        code, output = scenegan(
            capsys, ["build-dataset", "--videos", videos, "--out", tmp_path / "x", option, value]
        )
        assert_one_error(code, output, expected)
        assert not (tmp_path / "x" / "index.json").exists()


def test_colour_photo_stays_colour_through_prepare_image():
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (300, 600, 3), dtype=np.uint8)  # wider than 16:9: cropped
    rgb = prepare_image(photo, RGB.half())
    assert rgb.shape == (45, 80, 3)
    gray = prepare_image(photo, CLIP)
    # The same crop and area resampling: the luma of the colour photo is the gray photo.
    assert np.abs(luma(rgb, RGB).astype(int) - gray).max() <= 1
    assert np.array_equal(prepare_image(gray, RGB.half())[..., 0], gray)  # grey in every channel


def test_fvd_takes_the_three_channels_as_they_are(i3d_state_dict):
    from scenegan.evaluation.fvd import i3d_features

    rng = np.random.default_rng(1)
    gray = rng.integers(0, 256, (2, 10, 24, 32), dtype=np.uint8)
    rgb = np.repeat(gray[..., None], 3, axis=-1)
    # Gray repeated to RGB is what the gray path computes (by a summed first kernel) ...
    np.testing.assert_allclose(i3d_features(rgb), i3d_features(gray), rtol=1e-3, atol=1e-3)
    # ... and colour is seen: the channels swapped make other features.
    coloured = rgb.copy()
    coloured[..., 0] = rng.integers(0, 256, gray.shape, dtype=np.uint8)
    assert np.abs(i3d_features(coloured) - i3d_features(coloured[..., ::-1])).max() > 1e-2


# ---------------------------------------------------------------- rgb 160 x 90, every command


@pytest.mark.parametrize("arch", ["flow", "keras2019"])
def test_both_architectures_at_rgb_160x90(arch):
    for stage in ("small", "large"):
        G_args, D_args = default_args(arch, stage, RGB)
        G, D = build_generator(arch, G_args), build_discriminator(arch, D_args)
        fmt = RGB.stage(stage)
        assert G.fmt == fmt and G.dataset_fmt == RGB
        G.alpha.fill_(0.5)  # mid fade-in: both paths of the growth run
        D.alpha.fill_(0.5)
        photo = torch.rand(2, 3, *fmt.frame_shape) * 2 - 1
        with torch.no_grad():
            clip = G(photo, torch.randn(2, G.noise_dim))
            assert clip.shape == (2, 3, *fmt.volume)
            assert D(clip).shape == (2,)


def test_rgb_160x90_round_trips_every_command(capsys, rgb_dataset, tmp_path):
    index = read_index(rgb_dataset)
    assert index.fmt == RGB
    assert json.loads((rgb_dataset / "index.json").read_text())["clip_format"]["color"] == "rgb"
    clips, _ = read_split(rgb_dataset, "train")
    assert clips.shape[1:] == (32, 90, 160, 3) and clips.dtype == np.uint8
    assert np.abs(clips[..., 0].astype(int) - clips[..., 2]).mean() > 5  # really colour

    code, output = scenegan(capsys, ["inspect", rgb_dataset, "--out", tmp_path / "inspect"])
    assert code == 0, output
    assert any((tmp_path / "inspect").iterdir())

    small, large = tmp_path / "small", tmp_path / "large"
    data = ["--data", rgb_dataset]
    code, output = scenegan(capsys, ["train", "--stage", "small", *data, "--out", small, *TINY])
    assert code == 0, output
    state = ckpt.read_checkpoint(small / ckpt.state_name(2))
    assert ckpt.trained_format(state) == RGB
    assert ClipFormat.from_dict(state["clip_format"]) == RGB.half()
    code, output = scenegan(
        capsys,
        ["train", "--stage", "large", *data, "--out", large, "--fade-steps", "2"] + TINY,
    )
    assert code == 0, output
    grid = read_animation(large / "grid-0000002.gif", color="rgb")
    assert grid.shape[-1] == 3 and grid.shape[2] > 160

    exported = tmp_path / "rgb.pt"
    code, output = scenegan(capsys, ["export", large / ckpt.state_name(2), exported])
    assert code == 0, output
    G, info = ckpt.load_generator(exported)
    assert G.fmt == RGB and ckpt.trained_format(info) == RGB

    photo = tmp_path / "photo.png"
    from PIL import Image

    Image.fromarray(clips[0, 0]).save(photo)
    out = tmp_path / "samples"
    for kind in ("gif", "mp4", "npy"):
        code, output = scenegan(
            capsys,
            ["sample", "--checkpoint", exported, "--image", photo, "--out", out]
            + ["--format", kind, "--seed", "3"],
        )
        assert code == 0, output
    frames = {kind: read_animation(out / f"photo.{kind}", color="rgb") for kind in ("gif", "npy")}
    frames["mp4"] = read_animation(out / "photo.mp4", color="rgb")
    assert frames["npy"].shape == RGB.shape
    assert frames["mp4"].shape == RGB.shape
    assert frames["gif"].shape[1:] == RGB.shape[1:]
    assert np.abs(frames["npy"][0].astype(int) - clips[0, 0]).mean() < 3  # frame 0: the photo
    assert np.abs(frames["mp4"].astype(int) - frames["npy"]).mean() < 6
    # serve answers the same colour GIF as sample, byte for byte.
    import httpx
    from web import served

    from scenegan.config import ServeConfig
    from scenegan.serve import create_app

    with served(create_app(ServeConfig(checkpoint=str(exported)))) as url:
        files = {"image": ("photo.png", photo.read_bytes())}
        with httpx.Client(base_url=url, timeout=60) as client:
            response = client.post("/animate?seed=3", files=files)
    assert response.status_code == 200, response.text
    assert response.content == (out / "photo.gif").read_bytes()

    report_dir = tmp_path / "report"
    code, output = scenegan(
        capsys,
        ["evaluate", "--checkpoint", exported, *data, "--split", "train", "--out", report_dir]
        + ["--n-clips", "6", "--no-fvd", "--halvings", "2"],
    )
    assert code == 0, output
    report = json.loads((report_dir / "report.json").read_text())
    assert report["clip_format"] == RGB.to_dict()
    assert report["rows"]["real vs real"]["scene_corr"] > 0.5
    assert "rgb 160x90" in (report_dir / "report.md").read_text()
    with Image.open(report_dir / "clips" / "clip-0-photo.png") as png:
        assert png.mode == "RGB" and png.size == (160, 90)


# ---------------------------------------------------------------- formats that disagree


@pytest.fixture(scope="module")
def gray_dataset(tmp_path_factory) -> Path:
    from media import write_splits

    rng = np.random.default_rng(2)
    clips = rng.integers(0, 256, (6, *CLIP.shape), dtype=np.uint8)
    root = tmp_path_factory.mktemp("gray") / "gray"
    return write_splits(root, {"train": (clips, [f"v{i}" for i in range(6)])})


def test_a_checkpoint_given_a_dataset_of_another_format_is_one_line(
    capsys, rgb_dataset, gray_dataset, tmp_path
):
    runs = {}
    for name, data in (("gray", gray_dataset), ("rgb", rgb_dataset)):
        runs[name] = tmp_path / name
        code, output = scenegan(
            capsys, ["train", "--stage", "small", "--data", data, "--out", runs[name], *TINY]
        )
        assert code == 0, output
    for model, data, trained, holds in [
        ("gray", rgb_dataset, "gray 80x45", "rgb 160x90"),
        ("rgb", gray_dataset, "rgb 160x90", "gray 80x45"),
    ]:
        before = sorted(p.name for p in runs[model].iterdir())
        # Resuming a run on the other dataset
        code, output = scenegan(
            capsys,
            ["train", "--stage", "small", "--data", data, "--out", runs[model], *tiny(4)],
        )
        assert_one_error(code, output, f"was trained on {trained}, 32 frames clips")
        assert f"holds {holds}, 32 frames clips" in output
        assert sorted(p.name for p in runs[model].iterdir()) == before  # nothing lost
        # Growing stage large from it on the other dataset
        code, output = scenegan(
            capsys,
            ["train", "--stage", "large", "--data", data, "--out", tmp_path / f"{model}-large"]
            + ["--init", runs[model] / ckpt.state_name(2), *TINY],
        )
        assert_one_error(code, output, f"was trained on {trained}")
        # Evaluating it on the other dataset
        code, output = scenegan(
            capsys,
            ["evaluate", "--checkpoint", runs[model] / ckpt.state_name(2), "--data", data]
            + ["--split", "train", "--out", tmp_path / "report", "--no-fvd"],
        )
        assert_one_error(code, output, f"was trained on {trained}")


# ---------------------------------------------------------------- warm start across formats


@pytest.mark.parametrize("arch", ["flow", "euler"])
def test_inflated_generator_animates_a_gray_photo_as_its_source(arch):
    from scenegan.model.inflate import inflate_into

    rgb_80x45 = ClipFormat(n_frames=32, height=45, width=80, color="rgb")
    gray_G = build_generator(arch, default_args(arch, "large", CLIP)[0]).eval()
    rgb_G = build_generator(arch, default_args(arch, "large", rgb_80x45)[0]).eval()
    assert inflate_into(rgb_G, gray_G.state_dict()) == []  # every weight has its counterpart
    photo = torch.rand(2, 1, *CLIP.frame_shape) - 0.5  # mid-grey: no clamping in the way
    z = torch.randn(2, gray_G.noise_dim)
    with torch.no_grad():
        gray = gray_G(photo, z)
        coloured = rgb_G(photo.expand(-1, 3, -1, -1), z)  # R = G = B
    # Equal up to float sums taken in another order (euler integrates them over 32 frames).
    torch.testing.assert_close(coloured, gray.expand(-1, 3, -1, -1, -1), atol=1e-4, rtol=0)
    # And back: the rgb model's weights make a gray model that gives its mean of the channels.
    back = build_generator(arch, default_args(arch, "large", CLIP)[0]).eval()
    assert inflate_into(back, rgb_G.state_dict()) == []
    with torch.no_grad():
        torch.testing.assert_close(
            back(photo, z), coloured.mean(1, keepdim=True), atol=1e-4, rtol=0
        )


def test_warm_start_trains_an_rgb_model_from_a_gray_one(
    capsys, rgb_dataset, gray_dataset, tmp_path
):
    gray, rgb = tmp_path / "gray", tmp_path / "rgb"
    code, output = scenegan(
        capsys,
        ["train", "--stage", "large", "--init", "none", "--data", gray_dataset]
        + ["--out", gray, "--arch", "flow", *TINY],
    )
    assert code == 0, output
    source = gray / ckpt.state_name(2)
    args = ["train", "--stage", "large", "--data", rgb_dataset, "--out", rgb, "--arch", "flow"]
    code, output = scenegan(capsys, [*args, "--warm-start", source, *TINY])
    assert code == 0, output
    assert f"warm start from {source} (gray 80x45, 32 frames -> rgb 160x90, 32 frames" in output
    assert "alpha 1.00" in output  # nothing to fade in
    assert "D from it" not in output  # D of another format starts new
    # At its own format a training state gives D too: the run goes on with the adversary it had.
    same = ["train", "--stage", "large", "--data", gray_dataset, "--out", tmp_path / "gray2"]
    code, output = scenegan(capsys, [*same, "--arch", "flow", "--warm-start", source, *TINY])
    assert code == 0, output
    assert "D from it too (new in D: nothing)" in output
    state = ckpt.read_checkpoint(rgb / ckpt.state_name(2))
    assert (
        ckpt.trained_format(state) == RGB and state["G_ema"]["from_gray_large.weight"].shape[1] == 3
    )
    # Another architecture or stage is one line, and the run's folder gains nothing.
    for wrong in (["--arch", "euler"], ["--stage", "small"]):
        code, output = scenegan(
            capsys, [*args, "--out", tmp_path / "other", "--warm-start", source, *TINY, *wrong]
        )
        assert_one_error(code, output, f"{source} ")
    assert not (tmp_path / "other").exists() or not list((tmp_path / "other").glob("*.pt"))
