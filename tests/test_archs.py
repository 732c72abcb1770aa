"""The arch registry: a new architecture is one file and one registry entry, and nothing else in
the package branches on an architecture's name."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from media import write_splits

from scenegan.archs import ARCHS, Arch, arch_choices, get_arch, register, unregister
from scenegan.cli import cli
from scenegan.clip_format import CLIP
from scenegan.config import TrainConfig
from scenegan.errors import UserError
from scenegan.model import checkpoint as ckpt

PACKAGE = Path(__file__).resolve().parents[1] / "scenegan"
TINY = ["--steps", "2", "--batch-size", "4", "--threads", "1", "--no-tensorboard"]


@pytest.fixture
def toy_arch():
    """The toy architecture of tests/toy_arch.py, registered for one test."""
    arch = register(
        Arch(
            "toy",
            "toy_arch:TOY",
            "the photo brightening and dimming",
            augment="",
            controls=(),
        )
    )
    yield arch
    unregister("toy")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    rng = np.random.default_rng(0)
    clips = rng.integers(0, 256, (6, *CLIP.shape), dtype=np.uint8)
    root = tmp_path_factory.mktemp("data") / "clips"
    return write_splits(root, {"train": (clips, [f"video{i % 3}" for i in range(6)])})


def test_a_toy_arch_is_one_file_and_one_registry_entry(toy_arch, dataset, tmp_path):
    runner = CliRunner()
    help_text = runner.invoke(cli, ["train", "--help"]).output
    assert re.search(r"--arch \[[a-z0-9|]*\btoy\b", help_text)  # one of --arch's choices
    out = tmp_path / "toy"
    args = ["train", "--arch", "toy", "--data", str(dataset), "--out", str(out), *TINY]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output + repr(result.exception)
    state = torch.load(ckpt.find_latest(out), weights_only=True)
    assert (state["arch"], state["step"]) == ("toy", 2)
    assert state["G_args"] == {"stage": "small", "noise_dim": 4, "clip_format": CLIP.to_dict()}
    assert state["config"]["augment"] == ""  # --augment auto: the entry's own
    # The checkpoint alone rebuilds the toy model, for export and sample alike.
    exported = tmp_path / "toy.pt"
    assert runner.invoke(cli, ["export", str(ckpt.find_latest(out)), str(exported)]).exit_code == 0
    photo = tmp_path / "photo.png"
    from PIL import Image

    Image.fromarray(dataset_photo(dataset)).save(photo)
    args = ["sample", "--checkpoint", str(exported), "--image", str(photo), "--format", "npy"]
    result = runner.invoke(cli, [*args, "--out", str(tmp_path / "samples"), "--seed", "1"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert np.load(tmp_path / "samples" / "photo.npy").shape == CLIP.half().shape
    # It offers no loop or speed: the registry says so, and sample refuses them in one line.
    result = runner.invoke(cli, [*args, "--out", str(tmp_path / "loop"), "--loop"])
    assert isinstance(result.exception, UserError) and "--loop" in str(result.exception)


def dataset_photo(dataset: Path) -> np.ndarray:
    from scenegan.pipeline.shards import read_split

    return read_split(dataset, "train")[0][0, 0]


def test_names_aliases_and_defaults_come_from_the_registry():
    assert TrainConfig(arch="seed").arch == "keras2019"  # the alias, canonicalised
    assert TrainConfig(arch="keras2019").augment == get_arch("keras2019").augment == ""
    assert TrainConfig(arch="flow").augment == "color,translation,cutout"
    assert set(arch_choices()) == {*ARCHS, "seed"}
    with pytest.raises(UserError, match="--arch must be one of .*euler"):
        TrainConfig(arch="wobble")
    with pytest.raises(AssertionError, match="taken"):
        register(Arch("seed", "x:Y", "an alias taken already"))


def test_the_registry_facts_agree_with_the_networks():
    """The registry stays torch-free for option checks, so whether an arch widens is written
    twice (Arch.widens, Networks.widen): here the two are held to each other."""
    from scenegan.model.archs import networks_of

    for name, arch in ARCHS.items():
        networks = networks_of(name)
        assert arch.widens == (networks.widen is not None), name


def test_a_checkpoint_of_an_unknown_arch_is_one_line(tmp_path):
    state = ckpt.read_checkpoint(ckpt.SHIPPED_CHECKPOINT)
    state["arch"] = "wobble"
    torch.save(state, tmp_path / "wobble.pt")
    with pytest.raises(UserError, match="unknown arch 'wobble'"):
        ckpt.load_generator(tmp_path / "wobble.pt")


def arch_name_comparisons(tree: ast.AST, names: set[str]) -> list[int]:
    """Lines where a comparison (==, !=, in, not in) involves an architecture's name."""
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        for operand in [node.left, *node.comparators]:
            values = (
                operand.elts if isinstance(operand, ast.Tuple | ast.List | ast.Set) else [operand]
            )
            if any(isinstance(v, ast.Constant) and v.value in names for v in values):
                lines.append(node.lineno)
    return lines


def test_no_module_branches_on_an_arch_name():
    """Every fact about an architecture is in its registry entry or its own file. (Names only:
    the alias `seed` is also an option's name.)"""
    names = set(ARCHS)
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if lines := arch_name_comparisons(ast.parse(path.read_text()), names):
            found[str(path.relative_to(PACKAGE))] = lines
    assert found == {}
    # The check sees the kind of line it is there to catch.
    assert arch_name_comparisons(ast.parse('if arch in ("euler", "flow"): pass'), names) == [1]
