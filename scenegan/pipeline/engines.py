"""Where build-dataset's per-video tasks run: this machine's worker processes, or a Dask cluster.

One task per source video; each writes its result as a part file (atomically) in the build's
`.parts` folder, which every worker must see, and returns nothing the driver needs. So a task run
twice (a retry after a worker died) writes the same part again, and the driver assembles the
shards from the parts the same way whatever ran them.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence

from scenegan.errors import UserError

ENGINES = ("local", "dask")
# A task whose worker dies is run again on another worker this many times, then the build stops.
RETRIES = 3
CONNECT_TIMEOUT = "5s"


def run_tasks(
    function: Callable,
    tasks: Sequence,
    *,
    engine: str,
    workers: int,
    address: str | None,
    initializer: Callable[[], None] | None,
    done: Callable[[], None],
) -> None:
    """Run `function(task)` for every task on `engine`, calling `done()` on the driver after each.

    local: `workers` processes of this machine (in-process for one worker). dask: the cluster at
    `address`, or a local cluster of `workers` processes when no address is given.
    """
    if engine == "dask":
        _run_dask(function, tasks, workers, address, done)
    elif address:
        raise UserError("--address is the address of a cluster; it needs --engine dask")
    elif workers == 1:
        for task in tasks:
            function(task)
            done()
    else:
        # The pool is made before the caller's progress thread starts: forking copies no thread.
        context = pool_context()
        with context.Pool(min(workers, len(tasks)), initializer=initializer) as pool:
            for _ in pool.imap_unordered(function, tasks):
                done()


def pool_context() -> multiprocessing.context.BaseContext:
    """forkserver: workers fork from a clean server that has imported the build once (numpy,
    PyAV, OpenCV, h5py: about a second), not from this process, which may have run OpenCV's
    thread pool (optical flow) already: a child forked from it can hang in its first OpenCV
    call. spawn where forkserver does not exist."""
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" not in methods:
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["scenegan.pipeline.build"])
    return context


def _run_dask(function, tasks, workers: int, address: str | None, done) -> None:
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise UserError(
            "--engine dask needs Dask's distributed scheduler: pip install 'scenegan[dask]'"
        ) from None
    cluster = None
    try:
        if address:
            client = _connect(Client, address)
        else:
            cluster = LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
            )
            client = Client(cluster)
        with client:
            futures = client.map(function, list(tasks), pure=False, retries=RETRIES)
            for future in as_completed(futures):
                future.result()  # a task that failed on every try raises its error here
                done()
    finally:
        if cluster is not None:
            cluster.close()


def _connect(Client, address: str):
    try:
        return Client(address, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError, TypeError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserError(
            f"--address {address}: no Dask scheduler answered there ({reason}); give the "
            "scheduler's address, e.g. tcp://head-node:8786, or leave --address out"
        ) from None
