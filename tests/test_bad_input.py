"""Every bad input of issue 12, per command, through the real console entry point
(`scenegan.cli.main`): a non-zero exit, exactly one `error:` line, no traceback, and nothing made
earlier is lost (good photos of the same call are still animated; an existing dataset,
checkpoint, export or fetch manifest is unchanged). Last, the package installed non-editable
(a wheel in a fresh venv) samples with the shipped model from another folder.

The case tables are the record of what is tried: `len(CASES[command])` kinds per command.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shutil
import socket
import sqlite3
import struct
import subprocess
import sys
import time
import types
import zlib
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from media import moving_texture, write_splits, write_truncated, write_video
from PIL import Image
from tiny_train import config

from scenegan.cli import main
from scenegan.clip_format import CLIP
from scenegan.files import directory_lock, folder_lock, output_lock
from scenegan.model.checkpoint import SHIPPED_CHECKPOINT
from scenegan.pipeline import flickr_client
from scenegan.pipeline.shards import shard_name
from scenegan.testing.flickr_standin import Faults, FlickrStandin

REPO = Path(__file__).resolve().parents[1]
KEY, SECRET = "test-key-0123456789", "test-secret-9876543210"


# ---------------------------------------------------------------- running the CLI


def scenegan(capsys, args: list) -> tuple[int, str]:
    """`scenegan ARGS` in this process, through the console-script entry point.

    Any exception other than SystemExit escapes and fails the test: that is the traceback a
    user would see.
    """
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def assert_one_error(code: int, output: str, expected: str) -> None:
    assert code != 0, output
    assert "Traceback" not in output, output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, output
    assert output.count("error:") == 1, output  # none glued to the end of another line
    assert expected.lower() in errors[0].lower(), errors[0]


def tree_digest(folder: Path) -> dict[str, str]:
    """sha256 of every file under `folder`, by relative path; the lock file and a build's resume
    state (.parts/) aside, which a failed build may leave for the next one."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".scenegan.lock" and ".parts" not in p.parts
    }


def unwritable_folder(tmp_path: Path) -> Path:
    """A folder path no file can be written in, for root (who ignores modes) too."""
    if os.geteuid() != 0:
        folder = tmp_path / "read-only"
        folder.mkdir()
        folder.chmod(0o500)
        return folder / "unwritable"
    for candidate in (Path("/sys/unwritable-scenegan"), Path("/proc/unwritable-scenegan")):
        if candidate.parent.is_dir() and not candidate.exists():
            return candidate
    pytest.skip("no unwritable folder for root here")


class Ctx(types.SimpleNamespace):
    """What a case builds its arguments from: fixtures, tmp_path, and an ExitStack for things
    held during the call (a lock of another writer)."""

    stack: contextlib.ExitStack

    def locked(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        self.stack.enter_context(folder_lock(folder, "a test standing in for a second writer"))
        return folder

    def locked_output(self, path: Path) -> Path:
        """`path` (a file or a report folder) being written by another command now."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.stack.enter_context(output_lock(path, "a test standing in for a second writer"))
        return path

    def locked_directory(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        self.stack.enter_context(directory_lock(folder, "sample"))
        return folder

    def file(self, name: str = "a-file.txt", data: bytes = b"not a folder\n") -> Path:
        path = self.tmp / name
        path.write_bytes(data)
        return path


Case = tuple[Callable[[Ctx], list], str]  # (the arguments, given a Ctx) and the error's words


# ---------------------------------------------------------------- tiny data


def png_claiming(width: int, height: int, path: Path) -> Path:
    """A PNG whose header claims width x height (its data is a few bytes): a decompression bomb
    as Pillow sees one, without making a huge image here."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat))
    return path


def write_tiny_dataset(root: Path, n_train: int = 6, n_val: int = 4) -> Path:
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    base = rng.integers(40, 215, (1, 1, *CLIP.frame_shape))
    splits = {}
    for split, n in (("train", n_train), ("val", n_val)):
        drift = rng.integers(-20, 20, (n, CLIP.n_frames, 1, 1))
        clips = np.clip(base + drift, 0, 255).astype(np.uint8)
        splits[split] = (clips, [f"{split}-video{i % 2}" for i in range(n)])
    return write_splits(root, splits)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return write_tiny_dataset(tmp_path_factory.mktemp("data") / "clips")


@pytest.fixture(scope="module")
def state(dataset, tmp_path_factory) -> Path:
    """A one-step training state of the small stage, euler architecture."""
    from scenegan.model.train import train

    out = tmp_path_factory.mktemp("checkpoints") / "small"
    return Path(train(config(dataset, out, steps=1, batch_size=2, snapshot_every=1))["checkpoint"])


@pytest.fixture(scope="module")
def wrong_arch(state, tmp_path_factory) -> Path:
    """An exported generator that names the flow architecture but holds euler weights."""
    obj = torch.load(state, weights_only=True)
    exported = {k: obj[k] for k in ("version", "G_ema", "stage", "step", "config")}
    exported |= {k: obj[k] for k in ("clip_format", "G_args")}
    exported |= {"kind": "scenegan-generator", "arch": "flow"}
    path = tmp_path_factory.mktemp("wrong") / "flow-named-euler.pt"
    torch.save(exported, path)
    return path


@pytest.fixture(scope="module")
def crafted(state, tmp_path_factory) -> dict[str, Path]:
    """Exported generators of `state` crafted in one way each: NaN weights, a 0 x 0 format,
    10**6 frames, 1e-9 frames per second."""
    obj = torch.load(state, weights_only=True)
    keys = ("version", "G_ema", "stage", "step", "config", "clip_format", "G_args", "arch")
    base = {k: obj[k] for k in (*keys, "dataset") if k in obj} | {"kind": "scenegan-generator"}
    first = next(k for k, v in base["G_ema"].items() if v.is_floating_point())
    nan_weights = {**base["G_ema"], first: torch.full_like(base["G_ema"][first], math.nan)}

    def with_format(**changes) -> dict:
        fmt = {**base["G_args"]["clip_format"], **changes}
        return {**base, "G_args": {**base["G_args"], "clip_format": fmt}, "clip_format": fmt}

    variants = {
        "nan": {**base, "G_ema": nan_weights},
        "0x0": with_format(height=0, width=0),
        "frames": with_format(n_frames=10**6),
        "fps": {**base, "dataset": {**base.get("dataset", {}), "fps": 1e-9}},
    }
    folder = tmp_path_factory.mktemp("crafted")
    for name, variant in variants.items():
        torch.save(variant, folder / f"{name}.pt")
    return {name: folder / f"{name}.pt" for name in variants}


def damaged_copy(dataset: Path, tmp: Path, how: str) -> Path:
    """A copy of the dataset damaged in one way."""
    copy = tmp / f"clips-{how}"
    shutil.copytree(dataset, copy)
    shard = copy / shard_name("val" if how.endswith("val") else "train", 0)
    if how == "index-not-json":
        (copy / "index.json").write_text('{"format_version": 1, "shards": [')
    elif how == "index-a-list":
        (copy / "index.json").write_text("[1, 2, 3]")
    elif how == "index-no-shards":
        (copy / "index.json").write_text('{"format_version": 1, "fps": 12}')
    elif how == "index-old-version":
        index = json.loads((copy / "index.json").read_text())
        (copy / "index.json").write_text(json.dumps({**index, "format_version": 0}))
    elif how.startswith("shard-missing"):
        shard.unlink()
    elif how.startswith("shard-truncated"):
        shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
    elif how.startswith("shard-foreign"):
        shard.write_text("this is not an HDF5 file\n")
    elif how.startswith("index-"):
        index = json.loads((copy / "index.json").read_text())
        index = INDEX_EDITS[how](index, copy)
        (copy / "index.json").write_text(json.dumps(index))
    elif how.startswith("shard-"):
        with h5py.File(shard, "r+") as f:
            SHARD_EDITS[how](f)
    else:
        raise ValueError(how)
    return copy


def _entry(index: dict, split: str) -> dict:
    return next(s for s in index["shards"] if s["split"] == split)


def _with_shards(index: dict, *extra: dict) -> dict:
    return {**index, "shards": [*index["shards"], *extra]}


def _outside_shard(index: dict, copy: Path) -> dict:
    outside = copy.parent / f"outside-{copy.name}.h5"
    shutil.copy(copy / "train-00000.h5", outside)
    return {**index, "shards": [{**_entry(index, "train"), "file": str(outside)}]}


def _val_copied_as_train(index: dict, copy: Path) -> dict:
    shutil.copy(copy / "val-00000.h5", copy / "train-00001.h5")
    return _with_shards(index, {**_entry(index, "val"), "file": "train-00001.h5", "split": "train"})


def _replace(f: h5py.File, name: str, **dataset) -> None:
    del f[name]
    f.create_dataset(name, **dataset)


# index.json edited in one way: (index, dataset copy) -> the new index
INDEX_EDITS = {
    "index-fps-zero": lambda i, c: {**i, "fps": 0},
    "index-fps-text": lambda i, c: {**i, "fps": "twelve"},
    "index-size-0x0": lambda i, c: {**i, "clip_format": {"n_frames": 32, "height": 0, "width": 0}},
    "index-shard-twice": lambda i, c: _with_shards(i, _entry(i, "train")),
    "index-val-shard-again-as-train": lambda i, c: _with_shards(
        i, {**_entry(i, "val"), "split": "train"}
    ),
    "index-val-copied-as-train": _val_copied_as_train,
    "index-absolute-file": _outside_shard,
    "index-file-outside": lambda i, c: {
        **i,
        "shards": [{**_entry(i, "train"), "file": f"../{c.name}/train-00000.h5"}],
    },
    "index-unknown-split": lambda i, c: {
        **i,
        "shards": [{**s, "split": "holdout"} if s["split"] == "val" else s for s in i["shards"]],
    },
    "index-n-clips-true": lambda i, c: {
        **i,
        "shards": [{**s, "n_clips": True} for s in i["shards"]],
    },
}
# the train shard edited in one way
SHARD_EDITS = {
    "shard-clips-a-group": lambda f: (f.__delitem__("clips"), f.create_group("clips")),
    "shard-clips-float32": lambda f: _replace(f, "clips", data=f["clips"][...].astype("f4")),
    "shard-clips-uint16": lambda f: _replace(f, "clips", data=f["clips"][...].astype("u2")),
    "shard-clips-int8": lambda f: _replace(f, "clips", data=f["clips"][...].astype("i1")),
    "shard-clips-bool": lambda f: _replace(f, "clips", data=f["clips"][...] > 127),
    "shard-clips-byte-strings": lambda f: _replace(
        f, "clips", data=np.full(f["clips"].shape, b"c", dtype="S1")
    ),
    "shard-source-id-short": lambda f: _replace(f, "source_id", data=f["source_id"][:-1]),
    "shard-source-id-numbers": lambda f: _replace(
        f, "source_id", data=np.arange(len(f["clips"]), dtype="f8")
    ),
    "shard-attribute-other-format": lambda f: f.attrs.__setitem__(
        "clip_format", json.dumps({"n_frames": 32, "height": 90, "width": 160})
    ),
}


DAMAGE = {
    "index-not-json": "index.json is damaged",
    "index-a-list": "index.json is damaged",
    "index-no-shards": "index.json is damaged",
    "index-old-version": "format version",
    "shard-missing": "train-00000.h5 is missing",
    "shard-truncated": "train-00000.h5 is damaged",
    "shard-foreign": "train-00000.h5 is damaged",
    "index-fps-zero": "frame rate of 0 fps",
    "index-fps-text": "not a number",
    "index-size-0x0": "0 x 0 pixels",
    "index-shard-twice": "listed twice",
    "index-val-shard-again-as-train": "listed twice",
    "index-val-copied-as-train": "train-00001.h5 holds the same clips as val-00000.h5",
    "index-absolute-file": "not a file inside the dataset folder",
    "index-file-outside": "not a file inside the dataset folder",
    "index-unknown-split": "unknown split 'holdout'",
    "index-n-clips-true": "claims True clips",
    "shard-clips-a-group": "a group, not an array",
    "shard-clips-float32": "clips of type float32",
    "shard-clips-uint16": "clips of type uint16",
    "shard-clips-int8": "clips of type int8",
    "shard-clips-bool": "clips of type bool",
    "shard-clips-byte-strings": "clips of type |S1",
    "shard-source-id-short": "source_id for (5,) clips",
    "shard-source-id-numbers": "source ids of type float64",
    "shard-attribute-other-format": "gray 160x90, 32 frames, expected gray 80x45",
}


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> types.SimpleNamespace:
    """A 6 s video with its index in front, and copies cut at 10, 50 and 90 %, and one with
    its index at the end cut at 90 %."""
    folder = tmp_path_factory.mktemp("videos")
    frames = moving_texture(180, 90, 160, seed=1)
    front = write_video(folder / "front.mp4", frames, fps=30, faststart=True)
    back = write_video(folder / "back.mp4", frames, fps=30)
    cut = {}
    for keep in (10, 50, 90):
        cut[keep] = write_truncated(folder / f"front-{keep}.mp4", front, keep / 100)
    cut["back-90"] = write_truncated(folder / "back-90.mp4", back, 0.9)
    return types.SimpleNamespace(front=front, cut=cut)


def folder_of(tmp: Path, name: str, *files: Path) -> Path:
    folder = tmp / name
    folder.mkdir()
    for path in files:
        shutil.copy(path, folder / path.name)
    return folder


# ---------------------------------------------------------------- fetch

FETCH_CASES: dict[str, Case] = {
    "since-after-until": (lambda c: ["--since", "2021-01-01", "--until", "2020-01-01"], "after"),
    "date-not-iso": (lambda c: ["--since", "01/02/2020"], "YYYY-MM-DD"),
    "no-tags": (lambda c: ["--tags", " , "], "at least one tag"),
    "unknown-license": (lambda c: ["--licenses", "cc-wobble"], "unknown license"),
    "workers-zero": (lambda c: ["--workers", "0"], "--workers"),
    "calls-per-second-nan": (lambda c: ["--calls-per-second", "nan"], "finite"),
    "out-is-a-file": (lambda c: ["--out", c.file()], "is a file"),
    "out-under-a-file": (lambda c: ["--out", c.file() / "sub"], "cannot make the folder"),
    "out-unwritable": (lambda c: ["--out", unwritable_folder(c.tmp)], "--out"),
    "out-holds-a-foreign-manifest": (
        lambda c: ["--out", c.file("manifest.sqlite", b"x" * 4096).parent],
        "not a readable manifest",
    ),
    "no-api-key": (lambda c: c.env(FLICKR_API_KEY="", HOME=str(c.tmp)), "no Flickr API key"),
    "wrong-api-key": (lambda c: c.env(FLICKR_API_KEY="not-the-key"), "rejected the API key"),
    "api-unreachable": (
        lambda c: ["--api-url", "http://127.0.0.1:9/services/rest/"],
        "cannot reach Flickr",
    ),
    "api-garbage-json": (
        lambda c: c.answer("", 200, "application/json", b'{"stat": "ok", licenses: ['),
        "not Flickr's JSON",
    ),
    "api-html-page-200": (
        lambda c: c.answer("", 200, "text/html", b"<html><body>Sign in to the Wi-Fi</body></html>"),
        "not Flickr's JSON",
    ),
    "api-html-error-502": (
        lambda c: c.answer("", 502, "text/html", b"<html><h1>502 Bad Gateway</h1></html>"),
        "502",
    ),
    "api-json-of-another-shape": (
        lambda c: c.answer("flickr.photos.search", 200, "application/json", b'{"stat": "ok"}', 1),
        "not shaped as Flickr's",
    ),
    "downloads-are-0-s-mp4s": (lambda c: c.zero_length_videos(), "could be downloaded"),
    "two-fetches-at-once": (lambda c: ["--out", c.locked(c.out)], "in use by"),
}


@pytest.fixture(scope="module")
def served_mp4(tmp_path_factory) -> Path:
    frames = moving_texture(20, 64, 96, seed=3)
    return write_video(tmp_path_factory.mktemp("served") / "waves.mp4", frames, fps=10)


@pytest.mark.parametrize("case", FETCH_CASES)
def test_fetch(case, served_mp4, tmp_path, capsys, monkeypatch):
    # Retries back off for seconds against a real server; not against the stand-in.
    fast = types.SimpleNamespace(monotonic=time.monotonic, sleep=lambda seconds: None)
    monkeypatch.setattr(flickr_client, "time", fast)
    faults = Faults()
    with FlickrStandin([served_mp4], n_photos=2, api_key=KEY, faults=faults) as flickr:
        env = {"FLICKR_API_KEY": KEY, "FLICKR_API_SECRET": SECRET}
        env["SCENEGAN_FLICKR_API_URL"] = flickr.api_url
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        out = tmp_path / "fetched"
        base = ["fetch", "--tags", "sea,forest", "--out", out, "--calls-per-second", "0"]
        assert scenegan(capsys, base)[0] == 0  # an earlier fetch: its manifest must survive
        before = manifest_rows(out)
        assert [r["status"] for r in before] == ["downloaded", "downloaded"]

        def env_case(**values):
            for name, value in values.items():
                monkeypatch.setenv(name, value)
            return []

        def answer(method, status, content_type, body, times=10):
            faults.api_bodies.extend([(method, status, content_type, body)] * times)
            return []

        def zero_length_videos():
            faults.videos.update({p.photo_id: "zero_length" for p in flickr.photos})
            return ["--out", tmp_path / "fresh"]

        ctx = Ctx(tmp=tmp_path, out=out, stack=contextlib.ExitStack(), env=env_case)
        ctx.answer, ctx.zero_length_videos = answer, zero_length_videos
        with ctx.stack:
            args, expected = FETCH_CASES[case]
            code, output = scenegan(capsys, [*base, *args(ctx)])
        assert_one_error(code, output, expected)
        assert manifest_rows(out) == before
        assert KEY not in output and SECRET not in output
        if case == "downloads-are-0-s-mp4s":
            rows = manifest_rows(tmp_path / "fresh")
            assert [r["status"] for r in rows] == ["failed", "failed"]
            assert all("no video stream" in r["error"] for r in rows)
            assert not list((tmp_path / "fresh" / "videos").glob("*"))


def manifest_rows(out: Path) -> list[dict]:
    with contextlib.closing(sqlite3.connect(out / "manifest.sqlite")) as db:
        db.row_factory = sqlite3.Row
        rows = db.execute("SELECT * FROM videos ORDER BY photo_id").fetchall()
    return [dict(row) for row in rows]


def test_fetch_records_a_0_s_mp4_and_keeps_the_good_video(
    served_mp4, tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv("FLICKR_API_KEY", KEY)
    monkeypatch.setenv("FLICKR_API_SECRET", SECRET)
    faults = Faults(videos={"50000001": "zero_length"})
    with FlickrStandin([served_mp4], n_photos=2, api_key=KEY, faults=faults) as flickr:
        args = ["fetch", "--tags", "sea,forest", "--out", tmp_path, "--api-url", flickr.api_url]
        code, output = scenegan(capsys, [*args, "--calls-per-second", "0"])
    assert code == 0, output
    assert "failed (not a video): 1" in output
    good, empty = manifest_rows(tmp_path)
    assert good["status"] == "downloaded" and (tmp_path / good["local_path"]).is_file()
    assert empty["status"] == "failed" and "no video stream" in empty["error"]


# ---------------------------------------------------------------- build-dataset

BUILD_CASES: dict[str, Case] = {
    "fps-nan": (lambda c: ["--fps", "nan"], "finite"),
    "fps-1e9": (lambda c: ["--fps", "1e9"], "--fps"),
    "seed-negative": (lambda c: ["--seed", "-1"], "--seed"),
    "stride-zero": (lambda c: ["--stride", "0"], "--stride"),
    "decoder-threads-negative": (lambda c: ["--decoder-threads", "-3"], "--decoder-threads"),
    "fractions-leave-no-train": (
        lambda c: ["--val-fraction", "0.6", "--select-fraction", "0.5"],
        "leave videos to train",
    ),
    "videos-missing": (lambda c: ["--videos", c.tmp / "nowhere"], "does not exist"),
    "videos-folder-empty": (lambda c: ["--videos", folder_of(c.tmp, "empty")], "no video files"),
    "manifest-missing": (
        lambda c: ["--videos", None, "--manifest", c.tmp / "none.sqlite"],
        "scenegan fetch",
    ),
    "manifest-not-sqlite": (
        lambda c: ["--videos", None, "--manifest", c.file("m.sqlite", b"x" * 2048)],
        "cannot read manifest",
    ),
    "out-is-a-file": (lambda c: ["--out", c.file()], "is a file"),
    "out-holds-other-files": (
        lambda c: ["--out", c.file("holiday.jpg").parent],
        "not a scenegan dataset",
    ),
    "out-unwritable": (lambda c: ["--out", unwritable_folder(c.tmp)], "--out"),
    "mp4s-cut-at-10-percent-and-index-last-give-no-clip": (
        lambda c: ["--videos", folder_of(c.tmp, "cut", c.videos.cut[10], c.videos.cut["back-90"])],
        "no clips",
    ),
    "two-builds-at-once": (lambda c: ["--out", c.locked(c.out)], "in use by"),
    "manifest-row-local-path-null": (
        lambda c: ["--videos", None, "--manifest", manifest_with(c.tmp, None)],
        "local_path is NULL",
    ),
    "manifest-row-local-path-outside": (
        lambda c: ["--videos", None, "--manifest", manifest_with(c.tmp, "../../etc/hostname")],
        "outside the manifest's folder",
    ),
    "manifest-row-local-path-absolute": (
        lambda c: ["--videos", None, "--manifest", manifest_with(c.tmp, "/etc/hostname")],
        "outside the manifest's folder",
    ),
}


def manifest_with(tmp: Path, local_path: str | None) -> Path:
    """A manifest with one downloaded video whose local_path is `local_path`."""
    path = tmp / "manifest.sqlite"
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE videos (photo_id TEXT, local_path TEXT, status TEXT)")
        db.execute("INSERT INTO videos VALUES ('5551234', ?, 'downloaded')", (local_path,))
        db.commit()
    return path


@pytest.mark.parametrize("case", BUILD_CASES)
def test_build_dataset(case, dataset, videos, tmp_path, capsys):
    out = tmp_path / "clips"
    shutil.copytree(dataset, out)  # an earlier dataset in --out: it must survive
    before = tree_digest(out)
    good = folder_of(tmp_path, "good", videos.front)
    base = ["build-dataset", "--videos", good, "--out", out, "--workers", "1"]
    with contextlib.ExitStack() as stack:
        ctx = Ctx(tmp=tmp_path, out=out, videos=videos, stack=stack)
        args, expected = BUILD_CASES[case]
        extra = args(ctx)
        if None in extra:  # `--videos None`: build from the manifest, no --videos at all
            where = extra.index(None)
            base, extra = base[:1] + base[3:], extra[: where - 1] + extra[where + 1 :]
        code, output = scenegan(capsys, [*base, *extra])
    assert_one_error(code, output, expected)
    assert tree_digest(out) == before


def test_truncated_mp4s_give_the_clips_before_the_damage(videos, tmp_path, capsys):
    cut = folder_of(tmp_path, "cut", videos.cut[50], videos.cut[90])
    out = tmp_path / "clips"
    args = ["build-dataset", "--videos", cut, "--out", out, "--workers", "1"]
    code, output = scenegan(capsys, args)
    assert code == 0, output
    stats = json.loads((out / "stats.json").read_text())
    assert {v["file"] for v in stats["videos_damaged_used"]} == {"front-50.mp4", "front-90.mp4"}
    # 6 s at 12 fps is 72 frames; 90 % of the file holds about 64 of them: 5 clips at stride 8.
    assert stats["clips_written"]["total"] >= 5
    assert "before the damage" in output


# ---------------------------------------------------------------- a full disk


def small_disk_prefix(disk: Path, readonly: Path) -> list | None:
    """A command prefix that runs the rest with a 48 MB tmpfs at `disk` and a read-only one at
    `readonly`, in a mount namespace of its own (`unshare`: as root, or as a user where user
    namespaces are allowed); None where that cannot be had."""
    unshare = shutil.which("unshare")
    if unshare is None or not sys.platform.startswith("linux"):
        return None
    script = (
        'mount -t tmpfs -o size=48m tmpfs "$1" && mount -t tmpfs -o ro,size=64k tmpfs "$2" '
        '&& shift 2 && exec "$@"'
    )
    prefix = [unshare, "--user", "--map-root-user", "--mount", "sh", "-c", script, "sh"]
    prefix += [disk, readonly]
    probe = subprocess.run([*map(str, prefix), "true"], capture_output=True)
    return prefix if probe.returncode == 0 else None


# The file each command's one error line must name, by case of tests/full_disk.py.
FULL_DISK_NAMES = {
    "export": "export/generator.pt",
    "train": "train/training-state-0000002.pt",
    "evaluate": "report/",
    "sample": "samples/sea-1.gif",
    "build-dataset-parts": "clips/.parts/",
    "build-dataset-shards": "-00000.h5",
    "export-read-only": "readonly/",
}


def test_a_full_disk_is_one_line_and_loses_nothing(dataset, state, videos, tmp_path):
    """export, train, evaluate, sample and build-dataset on a real full disk (a small tmpfs):
    one `error:` line naming the file, the earlier output there byte for byte as it was, no
    temporary file left. Where no tmpfs can be mounted, RLIMIT_FSIZE makes the same writes fail
    with EFBIG (file too large) instead."""
    disk, readonly = tmp_path / "disk", tmp_path / "readonly"
    disk.mkdir()
    readonly.mkdir()
    prefix = small_disk_prefix(disk, readonly)
    photo = tmp_path / "sea.jpg"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (90, 160, 3), np.uint8)).save(photo)
    spec = {"disk": disk, "mode": "tmpfs" if prefix else "fsize", "dataset": dataset}
    spec |= {"state": state, "video": videos.front, "photo": photo}
    if prefix:
        spec["readonly"] = readonly
    (tmp_path / "spec.json").write_text(json.dumps({k: str(v) for k, v in spec.items()}))
    command = [*(prefix or []), sys.executable, REPO / "tests" / "full_disk.py"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [*map(str, command), str(tmp_path / "spec.json")],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    cases = json.loads(result.stdout.strip().splitlines()[-1])
    expected = set(FULL_DISK_NAMES) if prefix else {"export", "train", "evaluate", "sample"}
    assert {c["case"] for c in cases} >= expected - {"build-dataset-parts"} | {"export"}
    for c in cases:
        if c["case"] == "export-read-only":
            reason = "read-only file system"
        else:
            reason = "no space left on the device" if prefix else "file too large"
        assert_one_error(c["code"], c["output"], reason)
        line = next(line for line in c["output"].splitlines() if line.startswith("error:"))
        assert FULL_DISK_NAMES[c["case"]] in line, (c["case"], line)
        assert ".tmp" not in line, line  # the name the user asked for, not ours
        assert c["kept_after"] == c["kept_before"], c["case"]
        assert c["leftovers"] == [], c["case"]


# ---------------------------------------------------------------- two writers, real processes


def cli_process(*args, **popen) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "scenegan.cli", *map(str, args)]
    return subprocess.Popen(command, env=env, text=True, **popen)


def test_two_trains_into_one_out_the_second_is_refused(dataset, tmp_path, capsys):
    """Two real `scenegan train` processes into one --out: the second ends in one line naming
    the first, the first trains on; once the first is killed its lock is gone with it."""
    out = tmp_path / "run"
    args = ["train", "--data", dataset, "--out", out, "--batch-size", "2", "--threads", "1"]
    args += ["--no-tensorboard", "--snapshot-every", "1", "--tick-every", "1"]
    first = cli_process(*args, "--steps", "100000", stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while not (out / "latest").is_file():  # it holds the lock and has written a state
            assert first.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        assert f"pid {first.pid}" in (out / ".scenegan.lock").read_text()
        second = cli_process(*args, "--steps", "2", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        output = "".join(second.communicate(timeout=300))
        assert_one_error(second.returncode, output, f"in use by scenegan train (pid {first.pid})")
        assert first.poll() is None  # the first goes on training
    finally:
        first.kill()
        first.wait()
    states = sorted(out.glob("training-state-*.pt"))
    assert states and (out / (out / "latest").read_text().strip()) in states
    # The kernel dropped the killed process's lock: the next run resumes its newest state.
    code, output = scenegan(capsys, [*args, "--steps", str(int(states[-1].stem[-7:]) + 1)])
    assert code == 0 and "done at step" in output, output


# ---------------------------------------------------------------- errors by kind


def _raised(function) -> BaseException:
    try:
        function()
    except BaseException as error:  # noqa: BLE001 - the error is what is tested
        return error
    raise AssertionError("nothing was raised")


def test_what_the_machine_refuses_is_one_line_whoever_raised_it():
    """The real exceptions of torch's allocator, numpy's and the OS, and h5py's way of quoting
    errno, each become one line that names the size or the file."""
    from scenegan.errors import resource_error

    torch_oom = _raised(lambda: torch.empty(2**62, dtype=torch.uint8))
    assert isinstance(torch_oom, RuntimeError)  # not a MemoryError: told by kind, not class
    assert "out of memory: could not allocate 4.0 EB" in str(resource_error(torch_oom))
    numpy_oom = _raised(lambda: np.empty(2**62, np.uint8))
    assert "could not allocate 4.0 EB" in str(resource_error(numpy_oom))
    full = OSError(28, "No space left on device", "/data/.train-00000.h5.77.tmp")
    assert str(resource_error(full)).startswith("/data/train-00000.h5: no space left")
    hdf5 = RuntimeError(
        "Can't decrement id ref count (file write failed: time = Sat Dec  5 2026\n, filename = "
        "'/data/.parts/.ab12.h5.5900.tmp', file descriptor = 4, errno = 28, error message = "
        "'No space left on device', total write size = 4096)"
    )
    assert str(resource_error(hdf5)).startswith("/data/.parts/ab12.h5: no space left")
    assert "read-only" in str(resource_error(OSError(30, "Read-only file system", "/x")))
    assert "quota" in str(resource_error(OSError(122, "Disk quota exceeded", "/x")))
    assert "file too large" in str(resource_error(OSError(27, "File too large", "/x")))
    assert resource_error(RuntimeError("mat1 and mat2 shapes cannot be multiplied")) is None
    assert resource_error(OSError(2, "No such file or directory", "/x")) is None


# ---------------------------------------------------------------- inspect

INSPECT_CASES: dict[str, Case] = {
    "no-dataset": (lambda c: [c.tmp / "nowhere"], "no dataset"),
    **{
        how: (lambda c, how=how: [damaged_copy(c.dataset, c.tmp, how)], words)
        for how, words in DAMAGE.items()
    },
    "split-empty": (lambda c: [c.dataset, "--split", "select"], "no clips"),
    "count-zero": (lambda c: [c.dataset, "--count", "0"], "--count"),
    "seed-negative": (lambda c: [c.dataset, "--seed", "-2"], "--seed"),
    "out-is-a-file": (lambda c: [c.dataset, "--out", c.file()], "is a file"),
    "out-unwritable": (lambda c: [c.dataset, "--out", unwritable_folder(c.tmp)], "--out"),
}


@pytest.mark.parametrize("case", INSPECT_CASES)
def test_inspect(case, dataset, tmp_path, capsys):
    before = tree_digest(dataset)
    args, expected = INSPECT_CASES[case]
    ctx = Ctx(tmp=tmp_path, dataset=dataset, stack=None)
    code, output = scenegan(capsys, ["inspect", *args(ctx)])
    assert_one_error(code, output, expected)
    if case in DAMAGE:
        assert "rebuild the dataset" in output
    assert tree_digest(dataset) == before


# ---------------------------------------------------------------- train

TRAIN_CASES: dict[str, Case] = {
    "steps-negative": (lambda c: ["--steps", "-5"], "--steps"),
    "snapshot-every-zero": (lambda c: ["--snapshot-every", "0"], "--snapshot-every"),
    "lr-nan": (lambda c: ["--lr", "nan"], "finite"),
    "batch-size-one": (lambda c: ["--batch-size", "1"], "--batch-size"),
    "augment-unknown": (lambda c: ["--augment", "wobble"], "unknown augmentation"),
    "device-cuda-without-gpu": (lambda c: ["--device", "cuda"], "no CUDA GPU"),
    "no-dataset": (lambda c: ["--data", c.tmp / "nowhere"], "no dataset"),
    **{
        how: (lambda c, how=how: ["--data", damaged_copy(c.dataset, c.tmp, how)], words)
        for how, words in DAMAGE.items()
    },
    "resume-of-another-stage": (
        lambda c: ["--stage", "large", "--resume", c.state],
        "stage 'small' checkpoint",
    ),
    "resume-of-another-architecture": (
        lambda c: ["--arch", "flow", "--resume", c.state],
        "holds a 'euler' model",
    ),
    "init-of-another-architecture": (
        lambda c: ["--stage", "large", "--arch", "flow", "--init", c.state, "--resume", "none"],
        "holds a 'euler' model",
    ),
    "resume-an-exported-generator": (
        lambda c: ["--resume", SHIPPED_CHECKPOINT],
        "exported generator",
    ),
    "resume-not-a-checkpoint": (
        lambda c: ["--resume", c.dataset / "index.json"],
        "not a readable torch checkpoint",
    ),
    "out-is-a-file": (lambda c: ["--out", c.file()], "is a file; give a folder"),
    "out-is-the-dataset": (lambda c: ["--out", c.dataset], "overlap"),
    "out-inside-the-dataset": (lambda c: ["--out", c.dataset / "run"], "overlap"),
    "two-trains-at-once": (lambda c: ["--out", c.locked(c.out)], "in use by"),
    "warm-start-with-init": (
        lambda c: ["--warm-start", c.state, "--init", c.state],
        "--warm-start and --init",
    ),
    "warm-start-with-resume-path": (
        lambda c: ["--warm-start", c.state, "--resume", c.state],
        "--warm-start starts a new run",
    ),
    "resume-a-finished-state-into-a-new-folder": (
        lambda c: ["--resume", c.state, "--steps", "1", "--out", c.tmp / "new"],
        "leaves nothing to train",
    ),
    "batch-larger-than-memory": (lambda c: ["--batch-size", "65536"], "more than 70%"),
}


@pytest.mark.parametrize("case", TRAIN_CASES)
def test_train(case, dataset, state, tmp_path, capsys):
    out = tmp_path / "run"
    shutil.copytree(state.parent, out)  # an earlier run in --out: its checkpoint must survive
    before = tree_digest(out)
    base = ["train", "--data", dataset, "--out", out, "--steps", "2", "--batch-size", "2"]
    base += ["--threads", "1", "--no-tensorboard"]
    args, expected = TRAIN_CASES[case]
    with contextlib.ExitStack() as stack:
        ctx = Ctx(tmp=tmp_path, dataset=dataset, state=state, stack=stack, out=out)
        code, output = scenegan(capsys, [*base, *args(ctx)])
    assert_one_error(code, output, expected)
    if case in DAMAGE:
        assert "rebuild the dataset" in output
    assert tree_digest(out) == before
    assert not (tmp_path / "new").exists()


# ---------------------------------------------------------------- export

EXPORT_CASES: dict[str, Case] = {
    "checkpoint-missing": (lambda c: [c.tmp / "missing.pt", c.out], "does not exist"),
    "a-gif": (lambda c: [next(c.state.parent.glob("grid-*.gif")), c.out], "a GIF image"),
    "a-dataset-shard": (lambda c: [c.dataset / "train-00000.h5", c.out], "an HDF5 file"),
    "a-text-file": (lambda c: [c.state.parent / "latest", c.out], "a text file"),
    "a-foreign-torch-file": (lambda c: [c.foreign, c.out], "not a scenegan checkpoint"),
    "a-truncated-checkpoint": (lambda c: [c.truncated, c.out], "cut short or damaged"),
    "weights-of-another-architecture": (lambda c: [c.wrong_arch, c.out], "do not fit the 'flow'"),
    "out-is-a-folder": (lambda c: [c.state, c.tmp], "is a directory"),
    "out-under-a-file": (lambda c: [c.state, c.file() / "g.pt"], "a folder is needed"),
    "out-unwritable": (lambda c: [c.state, unwritable_folder(c.tmp) / "g.pt"], "unwritable"),
    "out-is-the-checkpoint": (lambda c: [c.state, c.state], "is the checkpoint export reads"),
    "out-is-the-checkpoint-by-another-path": (
        lambda c: [c.state, c.state.parent / ".." / c.state.parent.name / c.state.name],
        "is the checkpoint export reads",
    ),
    "out-is-a-hard-link-to-the-checkpoint": (
        lambda c: [c.state, c.hard_link(c.state)],
        "is the checkpoint export reads",
    ),
    "out-is-named-as-a-training-state": (
        lambda c: [c.state, c.tmp / "training-state-0000009.pt"],
        "training state",
    ),
    "out-is-another-training-state": (
        lambda c: [c.state, c.copy(c.state, "kept-state.pt")],
        "training state",
    ),
    "two-exports-at-once": (lambda c: [c.state, c.locked_output(c.out)], "in use by"),
    "weights-nan": (lambda c: [c.crafted["nan"], c.out], "NaN or infinite"),
    "format-0x0": (lambda c: [c.crafted["0x0"], c.out], "0 x 0 pixels"),
    "format-a-million-frames": (lambda c: [c.crafted["frames"], c.out], "1000000 frames"),
    "fps-1e-9": (lambda c: [c.crafted["fps"], c.out], "1e-09 fps"),
}


@pytest.mark.parametrize("case", EXPORT_CASES)
def test_export(case, dataset, state, wrong_arch, crafted, tmp_path, capsys):
    out = tmp_path / "generator.pt"
    assert scenegan(capsys, ["export", state, out])[0] == 0  # an earlier export must survive
    kept = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in (out, state, wrong_arch)}
    kept |= {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in crafted.values()}
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(state.read_bytes()[:5000])
    with contextlib.ExitStack() as stack:
        ctx = Ctx(tmp=tmp_path, out=out, dataset=dataset, state=state, stack=stack)
        ctx.foreign, ctx.truncated, ctx.wrong_arch = foreign, truncated, wrong_arch
        ctx.crafted = crafted
        ctx.hard_link = lambda p: os.link(p, tmp_path / "link.pt") or tmp_path / "link.pt"
        ctx.copy = lambda p, name: Path(shutil.copy(p, tmp_path / name))
        args, expected = EXPORT_CASES[case]
        args = args(ctx)
        written = {
            p: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in map(Path, args[1:])
            if p.is_file()
        }
        code, output = scenegan(capsys, ["export", *args])
    assert_one_error(code, output, expected)
    for path, digest in written.items():  # an OUT that was there is as it was
        assert path.is_dir() or hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in kept} == kept
    assert not list(tmp_path.glob(".*.tmp"))


# ---------------------------------------------------------------- sample

SAMPLE_CASES: dict[str, Case] = {
    "header-claims-100000x100000-among-good-photos": (
        lambda c: ["--image", c.photos(png_claiming(100_000, 100_000, c.tmp / "bomb.png"))],
        "1 of 3 photo",
    ),
    "30000x30000-image": (
        lambda c: ["--image", c.photos(png_claiming(30_000, 30_000, c.tmp / "huge.png"))],
        "1 of 3 photo",
    ),
    "not-an-image-among-good-photos": (
        lambda c: ["--image", c.photos(c.file("notes.jpg", b"not an image"))],
        "1 of 3 photo",
    ),
    "missing-photo-besides-good-ones": (
        lambda c: ["--image", c.photos(), "--image", c.tmp / "missing.png"],
        "1 of 3 photo",
    ),
    "empty-folder": (lambda c: ["--image", folder_of(c.tmp, "none")], "no photos found"),
    "out-is-a-file": (lambda c: ["--image", c.photos(), "--out", c.file()], "is a file"),
    "out-unwritable": (
        lambda c: ["--image", c.photos(), "--out", unwritable_folder(c.tmp)],
        "--out",
    ),
    "scale-200": (lambda c: ["--scale", "200", "--format", "mp4"], "--scale"),
    "speed-nan": (lambda c: ["--speed", "nan"], "finite"),
    "seed-negative": (lambda c: ["--seed", "-1"], "--seed"),
    "n-zero": (lambda c: ["--n", "0"], "--n"),
    "device-cuda-without-gpu": (lambda c: ["--device", "cuda"], "no CUDA GPU"),
    "device-not-a-device": (lambda c: ["--device", "gpu0"], "not a device"),
    "checkpoint-missing": (lambda c: ["--checkpoint", c.tmp / "no.pt"], "no checkpoint at"),
    "checkpoint-a-photo": (
        lambda c: ["--checkpoint", c.photos() / "sea.jpg"],
        "a JPEG image",
    ),
    "checkpoint-of-another-architecture": (
        lambda c: ["--checkpoint", c.wrong_arch],
        "do not fit the 'flow'",
    ),
    "unknown-baseline": (lambda c: ["--checkpoint", "baseline:wobble"], "unknown baseline"),
    "loop-with-a-baseline": (lambda c: ["--checkpoint", "baseline:copy", "--loop"], "--loop"),
    "out-would-overwrite-a-photo": (
        lambda c: ["--image", c.photos(c.gif_photo("wave.gif")), "--out", c.photos()],
        "is one of the photos to animate",
    ),
    "n-64-grid-scale-16-gif": (
        lambda c: ["--n", "64", "--grid", "--scale", "16"],
        "GIF allows at most 65535 a side",
    ),
    "n-64-grid-scale-4-mp4": (
        lambda c: ["--n", "64", "--grid", "--scale", "4", "--format", "mp4"],
        "MP4 allows at most 16384 a side",
    ),
    "two-samples-at-once": (
        lambda c: ["--image", c.photos(), "--out", c.locked_directory(c.out)],
        "in use by another scenegan sample",
    ),
    "checkpoint-weights-nan": (lambda c: ["--checkpoint", c.crafted["nan"]], "NaN or infinite"),
    "checkpoint-format-0x0": (lambda c: ["--checkpoint", c.crafted["0x0"]], "0 x 0 pixels"),
    "checkpoint-fps-1e-9": (lambda c: ["--checkpoint", c.crafted["fps"]], "1e-09 fps"),
}


@pytest.mark.parametrize("case", SAMPLE_CASES)
def test_sample(case, wrong_arch, crafted, tmp_path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (90, 160, 3), np.uint8)).save(folder / "sea.jpg")
    Image.fromarray(rng.integers(0, 255, (120, 90), np.uint8)).save(folder / "tall.png")

    def photos(*extra: Path) -> Path:
        for path in extra:
            shutil.move(path, folder / path.name)
        return folder

    def gif_photo(name: str) -> Path:
        Image.fromarray(rng.integers(0, 255, (45, 80), np.uint8)).save(tmp_path / name)
        return tmp_path / name

    out = tmp_path / "samples"
    with contextlib.ExitStack() as stack:
        ctx = Ctx(tmp=tmp_path, photos=photos, wrong_arch=wrong_arch, stack=stack, out=out)
        ctx.crafted, ctx.gif_photo = crafted, gif_photo
        args, expected = SAMPLE_CASES[case]
        args = ["sample", "--out", out, "--seed", "0", *args(ctx)]
        before = tree_digest(folder)
        code, output = scenegan(capsys, args)
    assert_one_error(code, output, expected)
    assert tree_digest(folder) == before  # the photos are as they were
    if case == "device-cuda-without-gpu":
        assert "checkpoint" not in output
    if "among-good" in case or "besides-good" in case or case.endswith("image"):
        # The good photos of the same call are animated; the bad one is named on its own line.
        assert sorted(p.name for p in out.iterdir()) == ["sea.gif", "tall.gif"]
        skipped = [line for line in output.splitlines() if line.startswith("skipped ")]
        assert len(skipped) == 1
        assert "too large" in skipped[0] or "not an image" in skipped[0] or "no such" in skipped[0]


# ---------------------------------------------------------------- evaluate

EVALUATE_CASES: dict[str, Case] = {
    "n-clips-zero": (lambda c: ["--n-clips", "0"], "--n-clips"),
    "halvings-zero": (lambda c: ["--halvings", "0"], "--halvings"),
    "speed-nan": (lambda c: ["--speed", "nan"], "finite"),
    "no-dataset": (lambda c: ["--data", c.tmp / "nowhere"], "no dataset"),
    **{
        how: (lambda c, how=how: ["--data", damaged_copy(c.dataset, c.tmp, how)], words)
        for how, words in DAMAGE.items()
    },
    "val-shard-missing": (
        lambda c: ["--data", damaged_copy(c.dataset, c.tmp, "shard-missing-val")],
        "val-00000.h5 is missing",
    ),
    "val-shard-truncated": (
        lambda c: ["--data", damaged_copy(c.dataset, c.tmp, "shard-truncated-val")],
        "val-00000.h5 is damaged",
    ),
    "split-without-clips": (lambda c: ["--split", "select"], "at least 4"),
    "device-cuda-without-gpu": (lambda c: ["--device", "cuda"], "no CUDA GPU"),
    "checkpoint-a-dataset-shard": (
        lambda c: ["--checkpoint", c.dataset / "val-00000.h5"],
        "an HDF5 file",
    ),
    "checkpoint-of-another-architecture": (
        lambda c: ["--checkpoint", c.wrong_arch],
        "do not fit the 'flow'",
    ),
    "baseline-of-another-stage": (
        lambda c: ["--checkpoint", SHIPPED_CHECKPOINT, "--baseline", c.state],
        "same stage",
    ),
    "out-is-a-file": (lambda c: ["--out", c.file()], "is a file"),
    "out-is-the-dataset": (lambda c: ["--out", c.dataset], "an input of this evaluation"),
    "out-inside-the-dataset": (lambda c: ["--out", c.dataset / "r"], "an input of this evaluation"),
    "out-holds-the-checkpoint": (
        lambda c: ["--checkpoint", c.report_holding(SHIPPED_CHECKPOINT), "--out", c.report],
        "an input of this evaluation",
    ),
    "out-holds-other-files": (
        lambda c: ["--out", c.file("notes.txt").parent],
        "holds other files than a report",
    ),
    "two-evaluates-at-once": (lambda c: ["--out", c.locked_output(c.report)], "in use by"),
    "checkpoint-weights-nan": (lambda c: ["--checkpoint", c.crafted["nan"]], "NaN or infinite"),
    "checkpoint-fps-1e-9": (lambda c: ["--checkpoint", c.crafted["fps"]], "1e-09 fps"),
}


@pytest.mark.parametrize("case", EVALUATE_CASES)
def test_evaluate(case, dataset, state, wrong_arch, crafted, tmp_path, capsys):
    before = tree_digest(dataset)
    report = tmp_path / "report"
    base = ["evaluate", "--data", dataset, "--out", report, "--no-fvd"]
    base += ["--checkpoint", "baseline:copy", "--n-clips", "4"]

    def report_holding(path: Path) -> Path:
        report.mkdir(exist_ok=True)
        return Path(shutil.copy(path, report / path.name))

    with contextlib.ExitStack() as stack:
        ctx = Ctx(tmp=tmp_path, dataset=dataset, state=state, wrong_arch=wrong_arch, stack=stack)
        ctx.crafted, ctx.report, ctx.report_holding = crafted, report, report_holding
        args, expected = EVALUATE_CASES[case]
        code, output = scenegan(capsys, [*base, *args(ctx)])
    assert_one_error(code, output, expected)
    if case in DAMAGE or case.startswith("val-shard"):
        assert "rebuild the dataset" in output
    assert tree_digest(dataset) == before
    assert not (tmp_path / "report" / "report.json").exists()


# ---------------------------------------------------------------- demo and the group

DEMO_CASES: dict[str, Case] = {
    "steps-zero": (lambda c: ["--steps", "0"], "--steps"),
    "workdir-is-a-file": (lambda c: ["--workdir", c.file()], "is a file"),
    "workdir-under-a-file": (lambda c: ["--workdir", c.file() / "d"], "cannot make the folder"),
    "workdir-unwritable": (lambda c: ["--workdir", unwritable_folder(c.tmp)], "--workdir"),
    "two-demos-at-once": (lambda c: ["--workdir", c.locked(c.tmp / "demo")], "in use by"),
    "steps-negative": (lambda c: ["--steps", "-3"], "--steps"),
    "steps-a-word": (lambda c: ["--steps", "many"], "--steps"),
    "steps-a-fraction": (lambda c: ["--steps", "2.5"], "--steps"),
    "steps-over-the-limit": (lambda c: ["--steps", "100001"], "--steps"),
    "steps-5000-digits": (lambda c: ["--steps", "9" * 5000], "--steps"),
    "steps-without-value": (lambda c: ["--steps"], "requires an argument"),
    "unknown-option": (lambda c: ["--wobble"], "No such option"),
}


@pytest.mark.parametrize("case", DEMO_CASES)
def test_demo(case, tmp_path, capsys):
    args, expected = DEMO_CASES[case]
    with contextlib.ExitStack() as stack:
        code, output = scenegan(capsys, ["demo", *args(Ctx(tmp=tmp_path, stack=stack))])
    assert_one_error(code, output, expected)
    assert not (tmp_path / "demo" / "served").exists()


SERVE_CASES: dict[str, Case] = {
    "port-out-of-range": (lambda c: ["--port", "70000"], "--port"),
    "port-in-use": (lambda c: ["--port", c.busy_port], "cannot listen on 127.0.0.1"),
    "host-not-here": (lambda c: ["--host", "192.0.2.1"], "cannot listen on 192.0.2.1"),
    "no-checkpoint": (lambda c: ["--checkpoint", c.tmp / "missing.pt"], "no checkpoint"),
    "checkpoint-is-a-jpeg": (
        lambda c: ["--checkpoint", c.file("photo.pt", b"\xff\xd8\xff\xe0" + bytes(64))],
        "a JPEG image",
    ),
    "max-upload-zero": (lambda c: ["--max-upload-mb", "0"], "--max-upload-mb"),
    "device-unknown": (lambda c: ["--device", "tpu"], "not a device"),
    "max-megapixels-zero": (lambda c: ["--max-megapixels", "0"], "--max-megapixels"),
    "max-megapixels-nan": (lambda c: ["--max-megapixels", "nan"], "finite"),
    "decoders-zero": (lambda c: ["--decoders", "0"], "--decoders"),
    "timeout-zero": (lambda c: ["--timeout", "0"], "--timeout"),
    "timeout-infinite": (lambda c: ["--timeout", "inf"], "finite"),
}


@pytest.mark.parametrize("case", SERVE_CASES)
def test_serve(case, tmp_path, capsys):
    """Each fails before serving (a case that served would hang the test)."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        ctx = Ctx(tmp=tmp_path, stack=None, busy_port=busy.getsockname()[1])
        args, expected = SERVE_CASES[case]
        code, output = scenegan(capsys, ["serve", *args(ctx)])
    assert_one_error(code, output, expected)


GROUP_CASES: dict[str, Case] = {
    "unknown-command": (lambda c: ["animate"], "No such command"),
    "unknown-option": (lambda c: ["sample", "--wobble"], "No such option"),
    "option-without-value": (lambda c: ["sample", "--n"], "requires an argument"),
}


@pytest.mark.parametrize("case", GROUP_CASES)
def test_group(case, capsys):
    args, expected = GROUP_CASES[case]
    code, output = scenegan(capsys, args(None))
    assert_one_error(code, output, expected)


CASES = {
    "fetch": FETCH_CASES,
    "build-dataset": BUILD_CASES,
    "inspect": INSPECT_CASES,
    "train": TRAIN_CASES,
    "export": EXPORT_CASES,
    "sample": SAMPLE_CASES,
    "evaluate": EVALUATE_CASES,
    "demo": DEMO_CASES,
    "serve": SERVE_CASES,
    "(group)": GROUP_CASES,
}


def test_every_command_is_tried():
    from scenegan.cli import cli

    assert set(cli.commands) <= set(CASES)
    few = {name: len(cases) for name, cases in CASES.items() if len(cases) < 12}
    assert set(few) <= {"(group)"}, few  # at least 12 kinds of bad input per command


def test_a_new_report_replaces_the_earlier_one_whole(dataset, tmp_path, capsys):
    """A report is made in a folder of its own and swapped in: nothing of an earlier report
    (a GIF of a row it had, say) is left beside the new one, and no temporary folder."""
    report = tmp_path / "report"
    args = ["evaluate", "--data", dataset, "--out", report, "--no-fvd", "--n-clips", "4"]
    args += ["--checkpoint", "baseline:copy"]
    assert scenegan(capsys, [*args, "--seed", "1"])[0] == 0
    first = tree_digest(report)
    (report / "clips" / "clip-0-an-old-row.gif").write_bytes(b"GIF89a")
    assert scenegan(capsys, [*args, "--seed", "2"])[0] == 0
    second = tree_digest(report)
    assert set(second) == set(first) and second["report.json"] != first["report.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".report.lock", "report"]


# ---------------------------------------------------------------- installed, not editable


def test_wheel_in_a_fresh_venv_samples_from_another_folder(tmp_path):
    """Build a wheel of the working tree, install it (no dependencies, no network) into a new
    venv that borrows this environment's packages, and sample from an unrelated folder: the
    shipped generator and example photos come from the installed package."""
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.tmp", "*.pyc")
    shutil.copytree(REPO / "scenegan", source / "scenegan", ignore=ignore)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    wheels = tmp_path / "wheels"
    build = [*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", wheels]
    subprocess.run([*build, source], check=True, cwd=tmp_path)
    (wheel,) = wheels.glob("scenegan-*.whl")

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # torch, numpy, ... from this environment; its editable scenegan is not seen (a .pth line
    # adds a folder, it does not run the .pth files in it).
    outer = next(p for p in map(Path, sys.path) if (p / "torch").is_dir())
    Path(purelib, "outer-environment.pth").write_text(f"{outer}\n")
    install = [*pip, "--python", python, "install", "--no-deps", "--no-index", wheel]
    subprocess.run(install, check=True, cwd=tmp_path)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    where = subprocess.run(
        [python, "-c", "import scenegan; print(scenegan.__file__)"],
        cwd=elsewhere,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert where.startswith(purelib), where
    result = subprocess.run(
        [venv / "bin" / "scenegan", "sample", "--out", "gifs", "--seed", "0"],
        cwd=elsewhere,
        env={**env, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert purelib in result.stdout  # the shipped generator, from the installed package
    gifs = sorted(p.name for p in (elsewhere / "gifs").glob("*.gif"))
    assert len(gifs) == 5, gifs  # one per shipped example photo
    with Image.open(elsewhere / "gifs" / gifs[0]) as gif:
        assert gif.n_frames == CLIP.n_frames
