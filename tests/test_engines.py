"""build-dataset on a Dask cluster: the same bytes as the local engine, a killed worker's task
run again, and a bad --address as one clear line."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import replace
from pathlib import Path

import pytest
from media import moving_texture, write_video

from scenegan.cli import main
from scenegan.config import BuildConfig
from scenegan.errors import UserError
from scenegan.pipeline.build import build_dataset
from scenegan.pipeline.engines import run_tasks

pytest.importorskip("dask.distributed", reason="--engine dask needs dask[distributed] (dev extra)")


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
    base = BuildConfig(videos=videos, stride=8, val_fraction=0.3, workers=2)
    build_dataset(replace(base, out=tmp_path / "local", engine="local"))
    build_dataset(replace(base, out=tmp_path / "dask", engine="dask"))
    local, dask = digests(tmp_path / "local"), digests(tmp_path / "dask")
    assert "index.json" in local and any(name.endswith(".h5") for name in local)
    # Every file the same bytes; index.json differs only by the --out it records.
    indexes = [
        json.loads((tmp_path / name / "index.json").read_text()) for name in ("local", "dask")
    ]
    assert [index["config"].pop("out") for index in indexes] == [
        str(tmp_path / "local"),
        str(tmp_path / "dask"),
    ]
    assert indexes[0] == indexes[1]
    del local["index.json"], dask["index.json"]
    assert dask == local


def _kill_worker_once(task):
    """A task whose first attempt kills the worker process running it (as the OOM killer
    would), leaving a marker; the retry on a new worker writes the task's result."""
    marker, out = task
    if not marker.exists():
        marker.write_text("killed")
        os._exit(1)
    (out / marker.name).write_text("done")


def test_a_killed_worker_s_task_runs_again_and_nothing_is_lost(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    tasks = [(tmp_path / f"task-{i}", out) for i in range(4)]
    done = []
    run_tasks(
        _kill_worker_once,
        tasks,
        engine="dask",
        workers=2,
        address=None,
        initializer=None,
        done=lambda: done.append(1),
    )
    assert len(done) == 4
    assert sorted(p.name for p in out.iterdir()) == [f"task-{i}" for i in range(4)]


def test_bad_address_is_one_line(videos, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(
            [
                "build-dataset",
                "--videos",
                str(videos),
                "--out",
                str(tmp_path / "x"),
                "--engine",
                "dask",
                "--address",
                "tcp://127.0.0.1:9",
            ]
        )
    assert exit_.value.code == 1
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith("error: --address tcp://127.0.0.1:9")
    assert "Traceback" not in err
    with pytest.raises(UserError, match="needs --engine dask"):
        run_tasks(
            print,
            [1],
            engine="local",
            workers=1,
            address="tcp://x:1",
            initializer=None,
            done=lambda: None,
        )
