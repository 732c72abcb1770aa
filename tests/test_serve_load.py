"""`scenegan serve` under a bounded load on 127.0.0.1 (scenegan/testing/serve_load.py): 40 good
uploads and 10 near-bombs at once, 2 over-limit bombs, 3 clients stalled in their upload, 2 in
their request head, 2 that abort. Every good request is answered, the server stays under 2 GB
and still serves; latencies are measured (docs/serve.md), never asserted."""

from __future__ import annotations

import pytest

from scenegan.testing.serve_load import run_load


def test_serve_under_load_answers_every_good_request_within_2_gb(tmp_path):
    pytest.importorskip("uvicorn")
    result = run_load(tmp_path)
    print(result.table())  # the figures, with -s
    assert result.good == [200] * 40
    assert result.near_bombs == [200] * 10  # decoded (two at a time), not refused
    assert result.over_limit == [413] * 2  # refused from the header, nothing decoded
    assert result.body_stalls == [408] * 3
    assert result.head_stalls == [True] * 2
    assert result.log.count("upload aborted by 127.0.0.1") == result.aborted == 2
    assert result.log.count("no whole request head") == 2
    assert "Traceback" not in result.log and "Exception" not in result.log, result.log
    assert result.peak_rss < 2 * 2**30, result.table()
    assert result.still_up
