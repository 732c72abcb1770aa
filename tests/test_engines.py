"""build-dataset on a Dask cluster: the same bytes as the local engine, a killed worker's task
run again, and a bad --address as one clear line.

Every Dask run happens in a subprocess: a Dask client leaves threads behind in its process, and
a later test that forks (the local engine's worker pool) would inherit their locks.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from media import moving_texture, write_video

pytest.importorskip("dask.distributed", reason="--engine dask needs dask[distributed] (dev extra)")


def scenegan(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "scenegan.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("videos")
    for i in range(4):
        write_video(folder / f"scene-{i}.mp4", moving_texture(70, 90, 160, seed=i), fps=24)
    return folder


def digests(folder: Path) -> dict[str, str]:
    """sha256 of every file of a dataset (not the resume parts or the lock)."""
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir())
        if p.is_file() and not p.name.startswith(".")
    }


def test_dask_builds_the_same_bytes_as_local(videos, tmp_path):
    for engine in ("local", "dask"):
        result = scenegan(
            "build-dataset", "--videos", str(videos), "--out", str(tmp_path / engine),
            "--stride", "8", "--val-fraction", "0.3", "--workers", "2", "--engine", engine,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-2000:]
    local, dask = digests(tmp_path / "local"), digests(tmp_path / "dask")
    assert "index.json" in local and any(name.endswith(".h5") for name in local)
    # Every file the same bytes; index.json differs only by the --out it records.
    indexes = [json.loads((tmp_path / e / "index.json").read_text()) for e in ("local", "dask")]
    outs = [index["config"].pop("out") for index in indexes]
    assert outs == [str(tmp_path / "local"), str(tmp_path / "dask")]
    assert indexes[0] == indexes[1]
    del local["index.json"], dask["index.json"]
    assert dask == local


KILL_ONCE = """
import os, sys
from pathlib import Path
from scenegan.pipeline.engines import run_tasks

def kill_worker_once(task):
    # The first attempt kills the worker running it (as the OOM killer would), leaving a
    # marker; the retry on a new worker writes the task's result.
    marker, out = task
    if not marker.exists():
        marker.write_text("killed")
        os._exit(1)
    (out / marker.name).write_text("done")

if __name__ == "__main__":
    root = Path(sys.argv[1])
    out = root / "out"
    out.mkdir()
    done = []
    tasks = [(root / f"task-{i}", out) for i in range(4)]
    run_tasks(kill_worker_once, tasks, engine="dask", workers=2, address=None,
              initializer=None, done=lambda: done.append(1))
    print("done", len(done))
"""


def test_a_killed_worker_s_task_runs_again_and_nothing_is_lost(tmp_path):
    script = tmp_path / "kill_once.py"
    script.write_text(textwrap.dedent(KILL_ONCE))
    result = subprocess.run(
        [sys.executable, str(script), str(tmp_path)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "done 4" in result.stdout
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"task-{i}" for i in range(4)]
    assert all((tmp_path / f"task-{i}").read_text() == "killed" for i in range(4))


def test_bad_address_is_one_line(videos, tmp_path):
    result = scenegan(
        "build-dataset", "--videos", str(videos), "--out", str(tmp_path / "x"),
        "--engine", "dask", "--address", "tcp://127.0.0.1:9",
    )  # fmt: skip
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith("error: --address tcp://127.0.0.1:9")
    assert "Traceback" not in result.stderr


def test_address_needs_the_dask_engine(videos, tmp_path):
    result = scenegan(
        "build-dataset", "--videos", str(videos), "--out", str(tmp_path / "x"),
        "--address", "tcp://127.0.0.1:9",
    )  # fmt: skip
    assert result.returncode == 1 and "needs --engine dask" in result.stderr
