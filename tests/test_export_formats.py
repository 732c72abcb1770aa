"""Exported generators as safetensors (the default, read without pickle) and as torch files:
the shipped safetensors samples exactly the frames of a torch file of the same weights, the
header says what the network is in JSON, and `export --format` chooses the file's kind."""

from __future__ import annotations

import json
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from scenegan.cli import cli, main
from scenegan.errors import UserError
from scenegan.model import checkpoint as ckpt

REPO = Path(__file__).resolve().parents[1]


def export(source: Path, out: Path, *options: str) -> str:
    result = CliRunner().invoke(cli, ["export", str(source), str(out), *options])
    assert result.exit_code == 0, result.output
    return result.output


def sample_npy(checkpoint: Path | None, out: Path) -> dict[str, bytes]:
    """`scenegan sample --seed 5 --n 2 --format npy` of the example photos (with the shipped
    generator where `checkpoint` is None): each file's bytes, by name."""
    chosen = [] if checkpoint is None else ["--checkpoint", str(checkpoint)]
    args = ["sample", *chosen, "--out", str(out), "--seed", "5", "--n", "2", "--format", "npy"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    if checkpoint is None:
        assert "scenegan-generator.safetensors" in result.output
    return {path.name: path.read_bytes() for path in sorted(out.glob("*.npy"))}


def header(path: Path) -> dict:
    """A safetensors file's JSON header, read by hand: 8 bytes of length, then the JSON."""
    with open(path, "rb") as handle:
        (length,) = struct.unpack("<Q", handle.read(8))
        return json.loads(handle.read(length))


def test_sample_uses_the_shipped_safetensors_by_default():
    assert ckpt.SHIPPED_CHECKPOINT.name == "scenegan-generator.safetensors"
    assert ckpt.SHIPPED_CHECKPOINT.is_file() and ckpt.is_safetensors(ckpt.SHIPPED_CHECKPOINT)
    assert ckpt.find_checkpoint(None) == str(ckpt.SHIPPED_CHECKPOINT)


def test_the_safetensors_samples_the_frames_of_the_torch_file_it_replaces(tmp_path):
    """The shipped weights exported again as a torch file (the format they shipped in before)
    give byte-identical animations for the same seed."""
    torch_file = tmp_path / "scenegan-generator.pt"
    export(ckpt.SHIPPED_CHECKPOINT, torch_file)
    assert torch_file.read_bytes()[:2] == b"PK" and not ckpt.is_safetensors(torch_file)
    by_default = sample_npy(None, tmp_path / "default")
    from_torch = sample_npy(torch_file, tmp_path / "torch")
    assert len(from_torch) == 10 and by_default == from_torch
    assert np.load(tmp_path / "torch" / "lake-pier-1.npy").shape == (32, 45, 80)


def test_the_header_holds_the_constructor_arguments_and_clip_format_as_json():
    metadata = header(ckpt.SHIPPED_CHECKPOINT)["__metadata__"]
    assert metadata["format"] == "pt" and metadata["kind"] == ckpt.GENERATOR_KIND
    assert metadata["arch"] == "motion" and metadata["stage"] == "large"
    clip_format = {"n_frames": 32, "height": 45, "width": 80}
    assert json.loads(metadata["G_args"]) == {
        "stage": "large",
        "channels": [16, 32, 64],
        "noise_dim": 32,
        "noise_maps": True,
        "clip_format": clip_format,
        "fps": 12.0,
        "scene_prior": "Mixed_4c",
    }
    assert json.loads(metadata["clip_format"]) == clip_format
    assert json.loads(metadata["config"])["arch"] == "motion"
    assert json.loads(metadata["scene_prior"])["texture"] == "carried"


def test_a_safetensors_generator_loads_without_pickle(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("pickle was used")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    monkeypatch.setattr(torch, "load", refuse)
    G, info = ckpt.load_generator(ckpt.SHIPPED_CHECKPOINT)
    assert info["arch"] == "motion" and G.noise_dim == 32 and not G.training


@pytest.mark.parametrize(
    ("name", "options", "written"),
    [
        ("generator.safetensors", [], "safetensors"),
        ("generator", [], "safetensors"),
        ("generator.pt", [], "pt"),  # the name says a torch file: it gets one
        ("generator.pth", [], "pt"),
        ("generator.bin", ["--format", "pt"], "pt"),
        ("generator.safetensors", ["--format", "safetensors"], "safetensors"),
    ],
)
def test_export_format_follows_the_option_else_the_name(tmp_path, name, options, written):
    out = tmp_path / name
    assert export(ckpt.SHIPPED_CHECKPOINT, out, *options).strip().endswith(f"({written})")
    assert ckpt.is_safetensors(out) == (written == "safetensors")
    G, info = ckpt.load_generator(out)
    shipped, _ = ckpt.load_generator(ckpt.SHIPPED_CHECKPOINT)
    for key, value in shipped.state_dict().items():
        assert torch.equal(G.state_dict()[key], value), key
    assert info == ckpt.generator_info(ckpt.read_checkpoint(ckpt.SHIPPED_CHECKPOINT))


@pytest.mark.parametrize(
    ("name", "chosen"), [("generator.pt", "safetensors"), ("generator.safetensors", "pt")]
)
def test_a_format_the_name_contradicts_is_one_line(tmp_path, capsys, name, chosen):
    """torch.load reads a `.safetensors` name as safetensors; a safetensors file named .pt
    would go to every other program's unpickler: the two are refused, nothing written."""
    with pytest.raises(SystemExit) as stopped:
        main(["export", str(ckpt.SHIPPED_CHECKPOINT), str(tmp_path / name), "--format", chosen])
    [line] = capsys.readouterr().err.strip().splitlines()
    assert stopped.value.code == 1 and line.startswith(f"error: --format {chosen} into ")
    assert not (tmp_path / name).exists()


def test_a_damaged_or_foreign_safetensors_is_one_line(tmp_path):
    from safetensors.torch import save_file

    data = ckpt.SHIPPED_CHECKPOINT.read_bytes()
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="cut.safetensors is not a readable"):
        ckpt.load_generator(cut)
    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, foreign, metadata={"format": "pt"})
    with pytest.raises(UserError, match="not a scenegan checkpoint"):
        ckpt.load_generator(foreign)


def test_the_model_card_loads_the_generator_as_it_says(monkeypatch):
    """The model card's Python block runs as written, from the repository's root."""
    card = (REPO / "checkpoints" / "README.md").read_text()
    block = card.split("```python\n", 1)[1].split("```", 1)[0]
    assert len([line for line in block.splitlines() if line.strip()]) <= 3, block
    monkeypatch.chdir(REPO)
    namespace: dict = {}
    exec(compile(block, "checkpoints/README.md", "exec"), namespace)  # noqa: S102
    assert namespace["G"].noise_dim == 32
