"""The clip format, the shared frame transforms, the atomic file writes and the CLI group."""

import numpy as np
import pytest
from click.testing import CliRunner

from scenegan.cli import cli
from scenegan.clip_format import CLIP, SMALL, from_unit, to_unit
from scenegan.pipeline.frames import crop_16_9, prepare_image


def test_clip_format_shapes():
    assert CLIP.shape == (32, 45, 80)
    assert SMALL.shape == (32, 23, 40)


def test_unit_round_trip():
    clip = np.arange(256, dtype=np.uint8)
    unit = to_unit(clip)
    assert unit.min() == -1.0 and unit.max() == 1.0
    np.testing.assert_array_equal(from_unit(unit), clip)


def test_crop_16_9_portrait_and_wide():
    assert crop_16_9(np.zeros((1080, 1920))).shape == (1080, 1920)
    assert crop_16_9(np.zeros((1920, 1080))).shape == (608, 1080)
    assert crop_16_9(np.zeros((100, 400))).shape == (100, 178)


def test_prepare_image_rgb_and_gray():
    rgb = np.full((300, 400, 3), (255, 0, 0), dtype=np.uint8)
    gray = prepare_image(rgb)
    assert gray.shape == CLIP.frame_shape and gray.dtype == np.uint8
    assert abs(int(gray[0, 0]) - 76) <= 1  # BT.601: 0.299 * 255
    assert prepare_image(np.zeros((45, 80), np.uint8)).shape == CLIP.frame_shape


def test_cli_help():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert "scenegan" in result.output


def test_atomic_write_leaves_the_old_file_on_error_and_no_temporary(tmp_path):
    from scenegan.files import atomic_path, atomic_write_bytes, atomic_write_text

    target = tmp_path / "index.json"
    atomic_write_text(target, "old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("disk full")
    assert target.read_text() == "old"
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["index.json"]
