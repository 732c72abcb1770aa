"""The trainer's GPU path, checked on the CPU: a step never reads a value back on the host,
batches are drawn from the device's clips as the seed says, --width, --precision, and the
one-command GPU check (benchmarks/gpu_check.py) on tiny settings."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from media import write_splits
from tiny_train import config
from torch.overrides import TorchFunctionMode

from scenegan.clip_format import CLIP
from scenegan.errors import UserError
from scenegan.model import checkpoint as ckpt
from scenegan.model.archs import build_generator, default_args
from scenegan.model.data import ClipBank
from scenegan.model.runtime import resolve_precision
from scenegan.model.train import TrainConfig, Trainer, train

SCENEGAN = str(__import__("scenegan").__path__[0])

# Calls that read a tensor's value on the host, or copy host values to the device: on a GPU
# each one waits for every kernel queued before it.
HOST_READS = {
    "item",
    "tolist",
    "numpy",
    "cpu",
    "__bool__",
    "__float__",
    "__int__",
    "__index__",
    "nonzero",
    "masked_select",
    "tensor",
    "new_tensor",
}


class HostReads(TorchFunctionMode):
    """Records (file:line, call) of every host read made directly by scenegan's own code
    (torch's internals, such as the CPU optimiser's step counter, are not scenegan's)."""

    def __init__(self):
        super().__init__()
        self.found: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        boolean_index = name in ("__getitem__", "__setitem__") and any(
            torch.is_tensor(a) and a.dtype == torch.bool for a in _flat(args[1:2])
        )
        if name in HOST_READS or boolean_index:
            caller = sys._getframe(1)
            if caller.f_code.co_filename.startswith(SCENEGAN):
                where = caller.f_code.co_filename[len(SCENEGAN) + 1 :]
                self.found.append(f"{where}:{caller.f_lineno} {name}")
        return func(*args, **(kwargs or {}))


def _flat(items):
    for item in items:
        if isinstance(item, tuple | list):
            yield from _flat(item)
        else:
            yield item


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    rng = np.random.default_rng(0)
    clips = rng.integers(0, 256, (6, *CLIP.shape), dtype=np.uint8)
    return write_splits(
        tmp_path_factory.mktemp("data") / "clips", {"train": (clips, list("aabbcc"))}
    )


@pytest.mark.parametrize(
    "arch, stage, loss",
    [
        ("euler", "large", "lsgan"),
        ("flow", "small", "wgan-gp"),
        ("keras2019", "small", "lsgan"),
        ("motion", "large", "lsgan"),
    ],
)
def test_a_training_step_reads_nothing_back_on_the_host(dataset, tmp_path, arch, stage, loss):
    """The whole of a step (batch, augmentation, fade-in, losses, penalties, gradient penalty,
    optimisers, EMA, stats) runs without a host read of a tensor: on a GPU the host queues
    steps ahead and the stats are read once per tick. The test would list every line that
    reads (a `.item()`, `float(t)`, a tensor built from a Python list, a boolean mask)."""
    cfg = config(dataset, tmp_path, arch=arch, stage=stage, loss=loss, init="none")
    cfg = TrainConfig(**(cfg.to_dict() | {"fade_steps": 10, "betas": cfg.betas}))
    trainer = Trainer(cfg)
    from scenegan.model.train import Log

    log = Log(cfg, trainer.rt)
    with HostReads() as reads:
        for _ in range(2):
            trainer.train_step(log)
    assert reads.found == []
    assert trainer.models.alpha == pytest.approx(0.1 if stage == "large" else 1.0)
    assert log.n == 2 and np.isfinite(log.read(2, None)["loss_D"])


def test_batches_are_drawn_as_the_seed_says(dataset):
    """The host draws the picks and flips from the numpy generator (so batches are the same
    on every device and a resumed run continues them); the clips come from the device's copy."""
    bank = ClipBank.from_dataset(dataset, "large", device="cpu")
    rng, mirror = np.random.default_rng(3), np.random.default_rng(3)
    for _ in range(3):
        batch = bank.sample(rng, 5)
        picks = mirror.integers(0, len(bank), 5)
        flips = mirror.random(5) < 0.5
        chosen = bank.clips.numpy()[picks]
        clips = torch.from_numpy(np.where(flips[:, None, None, None], chosen[..., ::-1], chosen))
        assert torch.equal(batch, clips[:, None].float() / 127.5 - 1)
    half = ClipBank.from_dataset(dataset, "small", rank=1, world_size=2)
    assert len(half) == 3  # clips 1, 3, 5: only this rank's share is held
    whole = ClipBank.from_dataset(dataset, "small")
    assert torch.equal(half.clips, whole.clips[1::2])


def test_width_multiplies_the_channels_and_one_keeps_todays_model(dataset, tmp_path):
    for arch in ("euler", "flow"):
        G_args, D_args = default_args(arch, "large")
        # --width 1: the arguments every model before --width was built with
        assert G_args == {
            "stage": "large",
            "channels": [16, 32, 64],
            "noise_dim": 32,
            "noise_maps": True,
            "clip_format": CLIP.to_dict(),
        }
        assert D_args == {"stage": "large", "channels": [16, 32, 64], "clip_format": CLIP.to_dict()}
        wide_G_args, _ = default_args(arch, "large", width=2)
        assert wide_G_args["channels"] == [32, 64, 128] and wide_G_args["code_dim"] == 128
        narrow, wide = (
            sum(p.numel() for p in build_generator(arch, args).parameters())
            for args in (G_args, wide_G_args)
        )
        assert 3 < wide / narrow < 4.5
    train(config(dataset, tmp_path / "wide", width=2, steps=1, snapshot_every=1))
    G, info = ckpt.load_generator(tmp_path / "wide" / ckpt.state_name(1))
    assert info["G_args"]["channels"] == [32, 64, 128]
    with pytest.raises(UserError, match="--width 2"):
        train(config(dataset, tmp_path / "wide", steps=2))  # resume at width 1
    with pytest.raises(UserError, match="--width"):
        TrainConfig(arch="keras2019", width=2)


def test_precision_follows_the_device_unless_chosen():
    assert resolve_precision("auto", torch.device("cuda")) == "bf16"
    assert resolve_precision("auto", torch.device("cpu")) == "fp32"
    assert resolve_precision("bf16", torch.device("cpu")) == "bf16"
    with pytest.raises(UserError, match="--precision"):
        TrainConfig(precision="fp16")
    assert TrainConfig(compile=True).compile == "default"  # configs saved with the old flag
    with pytest.raises(UserError, match="--compile"):
        TrainConfig(compile="fastest")


def test_gpu_check_runs_on_the_cpu_on_tiny_settings(tmp_path):
    """benchmarks/gpu_check.py, the one command for whoever has a GPU, runs every part (peak,
    throughput, small -> large through the fade-in -> export -> sample -> evaluate, torchrun
    with one process) with --device cpu --tiny, and writes its report."""
    import importlib.util

    rng = np.random.default_rng(1)
    splits = {
        "train": (rng.integers(0, 256, (4, *CLIP.shape), dtype=np.uint8), list("aabb")),
        "val": (rng.integers(0, 256, (4, *CLIP.shape), dtype=np.uint8), list("ccdd")),
    }
    data = write_splits(tmp_path / "data", splits)
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"
    spec = importlib.util.spec_from_file_location("gpu_check", path)
    gpu_check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu_check)
    out = tmp_path / "check"
    argv = ["--data", str(data), "--device", "cpu", "--tiny", "--batch-size", "2"]
    code = gpu_check.main([*argv, "--no-fvd", "--out", str(out)])
    report = json.loads((out / "report.json").read_text())
    failed = {name: part.get("error") for name, part in report["parts"].items() if not part["ok"]}
    assert code == 0 and report["ok"], failed
    parts = report["parts"]
    assert list(parts) == [
        "environment",
        "bf16 peak",
        "throughput",
        "train small",
        "train large",
        "export",
        "sample",
        "evaluate",
        "torchrun --nproc_per_node 1",
    ]
    assert parts["train large"]["alpha_range"][0] < 1  # it ran in the fade-in
    assert parts["throughput"]["rows"][0]["gflop_per_clip"] > 0
    assert parts["torchrun --nproc_per_node 1"]["ddp_warnings"] == []
    assert "| gray 40x23 | flow | small |" in (out / "report.md").read_text()
