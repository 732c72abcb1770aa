"""`scenegan sample`: formats round-trip, seeds repeat, bad inputs give one clear line each."""

from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from media import TinyGenerator
from PIL import Image

from scenegan.animation_files import read_animation
from scenegan.cli import cli, main
from scenegan.clip_format import CLIP, SMALL
from scenegan.errors import UserError
from scenegan.model.animator import load_photo
from scenegan.model.checkpoint import SHIPPED_CHECKPOINT, find_checkpoint
from scenegan.model.sample import SampleConfig, sample


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (300, 500, 3), np.uint8)).save(folder / "sea.jpg")
    Image.fromarray(rng.integers(0, 255, (120, 90), np.uint8)).save(folder / "tall.png")
    return folder


def run(args):
    return CliRunner().invoke(cli, ["sample", "--checkpoint", "baseline:drift", *args])


@pytest.mark.parametrize("format_", ["gif", "mp4", "npy"])
def test_formats_round_trip(photos, tmp_path, format_):
    out = tmp_path / "out"
    result = run(["--image", str(photos / "sea.jpg"), "--out", str(out), "--format", format_])
    assert result.exit_code == 0, result.output
    assert "wrote 1 file(s)" in result.output
    frames = read_animation(out / f"sea.{format_}")
    reference = np.load(out / "sea.npy") if format_ == "npy" else None
    if format_ == "mp4":  # 45 rows are padded to 46 for yuv420p
        assert frames.shape == (32, 46, 80)
        frames = frames[:, :45]
    assert frames.shape == CLIP.shape and frames.dtype == np.uint8
    if reference is not None:
        np.testing.assert_array_equal(frames, reference)


def test_lossless_formats_agree_and_mp4_is_close(photos, tmp_path):
    for format_ in ("gif", "npy", "mp4"):
        args = ["--image", str(photos / "sea.jpg"), "--out", str(tmp_path), "--seed", "5"]
        assert run([*args, "--format", format_]).exit_code == 0
    raw = np.load(tmp_path / "sea.npy")
    np.testing.assert_array_equal(read_animation(tmp_path / "sea.gif"), raw)
    mp4 = read_animation(tmp_path / "sea.mp4")[:, :45].astype(int)
    assert np.abs(mp4 - raw).mean() < 4


def test_same_seed_same_frames(photos, tmp_path):
    def frames(seed, out):
        args = ["--image", str(photos), "--out", str(tmp_path / out), "--format", "npy"]
        assert run([*args, "--seed", str(seed)]).exit_code == 0
        return np.load(tmp_path / out / "sea.npy")

    np.testing.assert_array_equal(frames(1, "a"), frames(1, "b"))
    assert not np.array_equal(frames(1, "a"), frames(2, "c"))


def test_n_grid_and_scale(photos, tmp_path):
    args = ["--image", str(photos), "--out", str(tmp_path), "--seed", "0"]
    assert run([*args, "--n", "2", "--format", "npy"]).exit_code == 0
    assert {p.name for p in tmp_path.glob("*.npy")} == {
        "sea-1.npy",
        "sea-2.npy",
        "tall-1.npy",
        "tall-2.npy",
    }
    assert not np.array_equal(np.load(tmp_path / "sea-1.npy"), np.load(tmp_path / "sea-2.npy"))
    assert run([*args, "--n", "2", "--grid", "--scale", "2"]).exit_code == 0
    grid = read_animation(tmp_path / "sea-grid.gif")
    assert grid.shape == (32, 2 * 45, 2 * (3 * 80 + 2 * 2))
    assert not np.array_equal(grid[0], grid[31])  # the animations move
    np.testing.assert_array_equal(grid[0, :, :160], grid[31, :, :160])  # the photo does not


def test_any_photo_mode_and_exif(tmp_path):
    base = np.zeros((90, 160), np.uint8)
    base[:, 80:] = 255  # right half white
    modes = {
        "l.png": Image.fromarray(base),
        "rgba.png": Image.fromarray(base).convert("RGBA"),
        "p.png": Image.fromarray(base).convert("P"),
        "i16.png": Image.fromarray(base.astype(np.uint16) * 257),
    }
    for name, image in modes.items():
        image.save(tmp_path / name)
        gray = load_photo(tmp_path / name, CLIP)
        assert gray.shape == CLIP.frame_shape and gray.dtype == np.uint8
        assert gray[:, :30].max() < 5 and gray[:, 50:].min() > 250, name
    exif = Image.Exif()
    exif[0x0112] = 3  # orientation: rotate 180 degrees, so the white half shows on the left
    Image.fromarray(base).convert("RGB").save(tmp_path / "rotated.jpg", exif=exif)
    gray = load_photo(tmp_path / "rotated.jpg", SMALL)
    assert gray.shape == SMALL.frame_shape
    assert gray[:, :10].mean() > 240 and gray[:, 30:].mean() < 15


def test_bad_inputs_one_line_each_others_still_animated(photos, tmp_path, monkeypatch):
    (photos / "notes.jpg").write_text("not an image")
    out = tmp_path / "out"
    args = ["sample", "--checkpoint", "baseline:copy", "--out", str(out), "--image", str(photos)]
    args += ["--image", str(tmp_path / "missing.png")]
    monkeypatch.setattr("sys.argv", ["scenegan", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 1
    assert {p.name for p in out.iterdir()} == {"sea.gif", "tall.gif"}


def test_bad_inputs_messages(photos, tmp_path, capsys):
    (photos / "notes.jpg").write_text("not an image")
    config = SampleConfig(
        images=(photos, tmp_path / "missing.png"), checkpoint="baseline:copy", out=tmp_path
    )
    with pytest.raises(UserError, match="2 of 4 photo"):
        sample(config)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("skipped ") for line in lines)
    assert "notes.jpg: not an image" in lines[0]
    assert "missing.png: no such file" in lines[1]


def test_missing_and_bad_checkpoints(tmp_path, monkeypatch, photos):
    monkeypatch.chdir(tmp_path)
    assert find_checkpoint(None) == str(SHIPPED_CHECKPOINT)  # from any folder
    gone = tmp_path / "not-shipped.pt"
    with pytest.raises(UserError, match="no checkpoint found"):
        find_checkpoint(None, shipped=gone)
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "old.pt").write_bytes(b"x")
    assert find_checkpoint(None, shipped=gone).endswith("old.pt")
    result = CliRunner().invoke(cli, ["sample", "--checkpoint", "nothere.pt"])
    assert result.exit_code != 0 and "no checkpoint at nothere.pt" in str(result.exception)
    result = CliRunner().invoke(cli, ["sample", "--checkpoint", "baseline:wobble"])
    assert "unknown baseline" in str(result.exception)


def test_not_a_generator_checkpoint(tmp_path, photos):
    bad = tmp_path / "bad.pt"
    torch.save({"weights": torch.zeros(2)}, bad)
    config = SampleConfig(images=(photos,), checkpoint=str(bad), out=tmp_path / "out")
    with pytest.raises(UserError, match="bad.pt"):
        sample(config)


def test_any_generator_object_and_small_stage(photos, tmp_path):
    config = SampleConfig(images=(photos / "sea.jpg",), out=tmp_path, format="npy", n=2, seed=3)
    written = sample(config, generator=(TinyGenerator(SMALL), {}))
    assert [p.name for p in written] == ["sea-1.npy", "sea-2.npy"]
    assert np.load(written[0]).shape == SMALL.shape


def test_a_model_trained_at_8_fps_plays_at_8_fps(photos, tmp_path):
    """The checkpoint records its dataset's frame rate (no guess): `sample` writes and `serve`
    answers animations at it, from a training state and from the exported file alike."""
    import av
    import httpx
    from media import write_splits
    from tiny_train import config as tiny_config
    from web import served

    from scenegan.config import ServeConfig
    from scenegan.model.train import train
    from scenegan.pipeline.shards import FORMAT_VERSION
    from scenegan.serve import create_app

    clips = np.random.default_rng(0).integers(0, 256, (4, *CLIP.shape), dtype=np.uint8)
    data = write_splits(tmp_path / "data", {"train": (clips, ["a", "b", "a", "b"])}, fps=8.0)
    state = train(tiny_config(data, tmp_path / "run", arch="flow"))["checkpoint"]
    record = torch.load(state, weights_only=True)["dataset"]
    assert record == {"fps": 8.0, "clip_format": CLIP.to_dict(), "format_version": FORMAT_VERSION}
    exported = tmp_path / "flow-8fps.pt"
    assert CliRunner().invoke(cli, ["export", state, str(exported)]).exit_code == 0
    photo = photos / "sea.jpg"
    for checkpoint in (state, str(exported)):
        out = tmp_path / Path(checkpoint).stem
        args = ["sample", "--checkpoint", checkpoint, "--image", str(photo), "--seed", "5"]
        for format_ in ("gif", "mp4"):
            result = CliRunner().invoke(cli, [*args, "--out", str(out), "--format", format_])
            assert result.exit_code == 0, result.output
            assert ", 8 fps)" in result.output
        with Image.open(out / "sea.gif") as gif:
            assert gif.info["duration"] >= 120  # 1/8 s in GIF's 1/100 s; 12 fps gives 80
        with av.open(str(out / "sea.mp4")) as video:
            assert video.streams.video[0].average_rate == 8
        with served(create_app(ServeConfig(checkpoint=checkpoint))) as url:
            with httpx.Client(base_url=url, timeout=60) as client:
                assert client.get("/info").json()["fps"] == 8.0
                for format_ in ("gif", "mp4"):
                    files = {"image": ("sea.jpg", photo.read_bytes())}
                    answer = client.post(f"/animate?seed=5&format={format_}", files=files)
                    assert answer.content == (out / f"sea.{format_}").read_bytes()


def test_dry_run(tmp_path):
    result = CliRunner().invoke(cli, ["sample", "--dry-run", "--n", "3"])
    assert result.exit_code == 0 and '"n": 3' in result.output


def test_the_shipped_generator_animates_an_example_photo():
    from pathlib import Path

    from scenegan.model.animator import animate, draw_noise
    from scenegan.model.checkpoint import load_generator

    repo = Path(__file__).resolve().parents[1]
    G, info = load_generator(SHIPPED_CHECKPOINT)
    photo = load_photo(repo / "scenegan" / "examples" / "lake-pier.jpg", G.fmt)
    clip = animate(G, photo, draw_noise(G, 2, seed=0))  # (2, T, H, W) uint8
    assert clip.shape == (2, *G.fmt.shape) and clip.dtype == np.uint8
    assert np.abs(clip[:, 0].astype(int) - photo).max() <= 1  # frame 0 is the photo
    assert np.abs(np.diff(clip.astype(int), axis=1)).mean() > 0.1  # and the scene moves
    np.testing.assert_array_equal(clip, animate(G, photo, draw_noise(G, 2, seed=0)))
