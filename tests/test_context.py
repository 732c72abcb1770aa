"""Dataset format 3 (issue 34): each clip keeps its first frame in colour at a multiple of its
size (`context`, for a crop window the window's), whose grey is the clip's first frame; a photo
is made into the same context by prepare_context; datasets without it (formats 1 and 2) still
read, as their grey photos, and train."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np
import pytest
from media import moving_texture, textured_photo, write_video
from test_bad_input import assert_one_error, scenegan

from scenegan.clip_format import CLIP, context_format
from scenegan.pipeline.build import BuildConfig, build_dataset
from scenegan.pipeline.decode import iter_rates
from scenegan.pipeline.extract import WHOLE_FRAME
from scenegan.pipeline.frames import prepare_context, resize_area, to_gray, ycbcr_to_rgb
from scenegan.pipeline.shards import read_context, read_fields, read_index, read_split


def coloured(n_frames: int, height: int, width: int, seed: int) -> np.ndarray:
    """(T, H, W, 3) uint8: three swelling textures as red, green and blue (saturated colours)."""
    channels = [moving_texture(n_frames, height, width, seed=seed + k) for k in range(3)]
    return np.stack(channels, axis=-1)


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    """Colour videos: 640 x 360 (windows cut from 4x the clip's size), 320 x 180, a portrait
    and one stored sideways."""
    folder = tmp_path_factory.mktemp("colour")
    write_video(folder / "wide.mp4", coloured(60, 360, 640, seed=1), fps=25)
    write_video(folder / "small.mp4", coloured(60, 180, 320, seed=4), fps=30)
    write_video(folder / "portrait.mp4", coloured(50, 320, 180, seed=7), fps=24)
    write_video(folder / "sideways.mp4", coloured(50, 180, 320, seed=9), fps=24, rotation=90)
    return folder


@pytest.fixture(scope="module")
def built(videos, tmp_path_factory) -> BuildConfig:
    out = tmp_path_factory.mktemp("format3") / "ds"
    config = BuildConfig(videos=videos, out=out, workers=1, val_fraction=0.5)
    build_dataset(config)
    return config


def test_every_shard_keeps_each_clips_first_frame_in_colour(built):
    index = json.loads((built.out / "index.json").read_text())
    assert index["format_version"] == 3 and index["context_scale"] == built.context_scale == 2
    assert {s["split"] for s in index["shards"]} == {"train", "val"}  # both splits, two shards
    for entry in index["shards"]:
        with h5py.File(built.out / entry["file"], "r") as f:
            clips, context, boxes = f["clips"][()], f["context"][()], f["crop_box"][()]
        n, height, width, channels = context.shape
        assert context.dtype == np.uint8 and channels == 3 and n == len(clips)
        assert height >= 2 * CLIP.height and width >= 2 * CLIP.width
        assert (height, width) == context_format(CLIP, 2).frame_shape
        grey = np.stack([resize_area(to_gray(image), CLIP) for image in context])
        # The whole frame and the crop windows alike: the same place, the same grey.
        assert np.abs(grey.astype(int) - clips[:, 0]).max() <= 2
        assert not np.all(boxes == WHOLE_FRAME) and np.any(np.all(boxes == WHOLE_FRAME, axis=1))
        # colour, not grey in three channels
        assert np.abs(context[..., 0].astype(int) - context[..., 1]).mean() > 10


def test_read_context_follows_read_split(built):
    index = read_index(built.out)
    assert index.context_scale == 2 and index.context_fmt == context_format(CLIP, 2)
    clips, _ = read_split(index, "train")
    context = read_context(index, "train")
    assert context.shape == (len(clips), 90, 160, 3)
    rows = [3, 0, 3]
    assert np.array_equal(read_context(index, "train", rows), context[[0, 3]][[1, 0, 1]])
    fields = read_fields(index, "val", ("clips", "context"))
    assert len(fields["context"]) == len(fields["clips"]) > 0
    index.close()


def smooth_photo(height: int, width: int, seed: int = 0) -> np.ndarray:
    """(H, W, 3) uint8: a smooth texture in each channel (chroma that 4:2:0 keeps)."""
    photo = np.stack([textured_photo(height, width, seed=seed + k) for k in range(3)], axis=-1)
    return np.clip(photo, 0, 255).round().astype(np.uint8)


def test_a_photo_becomes_the_context_the_build_keeps_of_the_same_frame(tmp_path):
    photo = smooth_photo(360, 640)
    video = write_video(tmp_path / "still.mp4", np.repeat(photo[None], 2, axis=0), fps=25)
    for scale in (2, 4):
        first = next(iter_rates(video, (25.0,), keep_sources=True))
        stored = first.source.context(WHOLE_FRAME, scale)
        made = prepare_context(photo, CLIP, scale)
        assert made.shape == stored.shape == (45 * scale, 80 * scale, 3)
        # What H.264 at 4:2:0 keeps of a smooth photo: a grey level or two, colour included.
        difference = np.abs(made.astype(int) - stored)
        assert difference.mean() < 2 and np.percentile(difference, 99) <= 6
    # a grey photo is grey in every channel; wider than 16:9 is cropped as clips are
    grey = prepare_context(photo[..., 0], CLIP, 2)
    assert np.array_equal(grey[..., 0], grey[..., 2])


def test_out_of_gamut_colours_keep_their_grey():
    rng = np.random.default_rng(0)
    luma = rng.uniform(0, 255, (20, 30)).astype(np.float32)
    cb, cr = (rng.uniform(-128, 127, (20, 30)).astype(np.float32) for _ in range(2))
    rgb = ycbcr_to_rgb(luma, cb, cr)
    assert np.abs(to_gray(rgb).astype(int) - np.rint(luma)).max() <= 1
    # in-gamut colours are the plain BT.601 conversion
    small = ycbcr_to_rgb(np.float32([[128]]), np.float32([[10]]), np.float32([[-20]]))
    assert small[0, 0].tolist() == [100, 139, 146]


def test_no_context_is_the_grey_photo_and_old_datasets_train(built, tmp_path):
    from tiny_train import config as tiny_config

    from scenegan.model.train import train

    out = tmp_path / "plain"
    build_dataset(replace(built, out=out, context_scale=0, val_fraction=0.0))
    assert json.loads((out / "index.json").read_text())["context_scale"] == 0
    clips, _ = read_split(out, "train")
    context = read_context(out, "train")
    assert np.array_equal(context, np.repeat(clips[:, 0, ..., None], 3, axis=-1))
    # As format 2 wrote it: no context, no context_scale, version 2 in the index and shards.
    index = json.loads((out / "index.json").read_text())
    del index["context_scale"]
    (out / "index.json").write_text(json.dumps({**index, "format_version": 2}))
    for shard in out.glob("*.h5"):
        with h5py.File(shard, "r+") as f:
            f.attrs["format_version"] = 2
            del f.attrs["context_scale"]
    assert read_index(out).context_scale == 0
    assert np.array_equal(read_context(out, "train"), context)
    result = train(tiny_config(out, tmp_path / "run", arch="motion"))
    assert Path(result["checkpoint"]).is_file()


def test_bad_context_scale_is_one_line(videos, tmp_path, capsys):
    args = ["build-dataset", "--videos", videos, "--out", tmp_path / "x", "--context-scale", "9"]
    assert_one_error(*scenegan(capsys, args), "--context-scale")
    assert not (tmp_path / "x").exists()


def test_context_of_a_sideways_video_is_displayed_upright(tmp_path):
    upright = np.repeat(smooth_photo(180, 320, seed=3)[None], 2, axis=0)
    stored = np.ascontiguousarray(np.rot90(upright, k=-1, axes=(1, 2)))  # turned clockwise
    video = write_video(tmp_path / "turned.mp4", stored, fps=25, rotation=90)
    plain = write_video(tmp_path / "plain.mp4", upright, fps=25)
    contexts = []
    for path in (video, plain):
        output = next(iter_rates(path, (25.0,), keep_sources=True))
        contexts.append(output.source.context((0.1, 0.2, 0.5, 0.5), 2).astype(int))
    assert np.abs(contexts[0] - contexts[1]).mean() < 2
    # the window of the photo: rows 0.1..0.6 and columns 0.2..0.7 of its context at 4x
    window = prepare_context(upright[0], CLIP, 4)[18:108, 64:224]
    assert np.abs(contexts[1] - window).mean() < 3
