"""`scenegan serve` under a bounded load on 127.0.0.1 (scenegan/testing/serve_load.py): good
uploads and near-bombs at once, over-limit bombs, stalled and aborting clients; prints answered
counts, latency and the server's peak RSS. tests/test_serve_load.py asserts the same run.

    python benchmarks/serve_load.py [--good 40] [--near-bombs 10] [--decoders 2]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from scenegan.testing.serve_load import run_load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--good", type=int, default=40)
    parser.add_argument("--near-bombs", type=int, default=10)
    parser.add_argument("--decoders", type=int, default=2)
    parser.add_argument("--max-megapixels", type=float, default=24.0)
    parser.add_argument("--timeout", type=float, default=3.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        result = run_load(
            Path(folder),
            n_good=args.good,
            n_near_bombs=args.near_bombs,
            decoders=args.decoders,
            max_megapixels=args.max_megapixels,
            timeout=args.timeout,
        )
    print(result.table())


if __name__ == "__main__":
    main()
