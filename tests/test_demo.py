"""`scenegan demo` runs the whole chain offline and writes GIFs that read back as clips."""

from click.testing import CliRunner
from PIL import Image

from scenegan.cli import cli


def test_demo_runs_every_stage(tmp_path):
    result = CliRunner().invoke(cli, ["demo", "--workdir", str(tmp_path / "demo"), "--steps", "2"])
    assert result.exit_code == 0, result.output
    gifs = sorted((tmp_path / "demo" / "samples").glob("*.gif"))
    assert len(gifs) == 5
    with Image.open(gifs[0]) as gif:
        assert gif.size == (80, 45) and gif.n_frames > 1
    assert (tmp_path / "demo" / "clips" / "index.json").is_file()
    # It went through fetch: a manifest, the downloads and their credits.
    assert "scenegan fetch" in result.output and "downloaded 6" in result.output
    assert len(list((tmp_path / "demo" / "fetched" / "videos").glob("*.mp4"))) == 6
    # One credit line per downloaded video, each with its author, page and license.
    credits = (tmp_path / "demo" / "fetched" / "ATTRIBUTION.md").read_text().splitlines()
    lines = [line for line in credits if line.startswith("- ")]
    assert len(lines) == 6
    assert all(
        " by " in line and "https://" in line and "license unknown" not in line for line in lines
    )
