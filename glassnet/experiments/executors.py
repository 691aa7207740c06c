"""Executors: one code path (joblib) from this process to a local process pool or a cluster.

``execute(jobs, executor, workers, address)`` hands every job to
:func:`glassnet.experiments.worker.run_job` through ``joblib.Parallel`` and yields the results
in the order they finish (``return_as="generator_unordered"``), so the driver stores each one
as it arrives and an interruption keeps everything finished so far.

* ``local`` (default): joblib's loky process pool, ``workers`` processes (default: one per
  core, at most :func:`max_workers`); in this process when there is one job or one worker. Each
  worker process gets one BLAS thread (the pool already uses every core), and a watchdog thread
  that ends the worker when the driver is gone (killed with ``kill -9``, so it could not shut its
  pool down), instead of leaving it orphaned.
* ``dask``: joblib's Dask backend on ``Client(address)`` (``tcp://HOST:8786``), or on a
  ``LocalCluster`` of ``workers`` processes when no address is given. Needs ``dask[distributed]``.
* ``ray``: joblib's Ray backend on ``ray.init(address)`` (``auto``, ``ray://HOST:10001``), or a
  local Ray with ``workers`` CPUs. Needs ``ray``. Ray's joblib backend does not declare support
  for result generators; its pool hands back results one by one all the same, so a subclass
  says so.

Cluster workers need glassnet importable (installed on every node); they never need the run
store, only the job they are sent.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time

from ..errors import GlassnetError

EXECUTORS = ("local", "dask", "ray")


#: a local pool (and a local Dask or Ray cluster) gets at most this many workers per core
WORKERS_PER_CORE = 4


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


def max_workers() -> int:
    """The most workers a pool on this machine may start: :data:`WORKERS_PER_CORE` per core."""
    return WORKERS_PER_CORE * default_workers()


def check_workers(workers: int | None, executor: str = "local", address: str | None = None) -> None:
    """Refuse a worker count below 1, or above :func:`max_workers` for a pool on this machine (a
    cluster at ``address`` has its own cores, so any count is allowed there)."""
    if workers is None:
        return
    if workers < 1:
        raise GlassnetError(f"--workers must be >= 1, got {workers}")
    if address is None and workers > max_workers():
        raise GlassnetError(f"--workers must be at most {max_workers()} ({WORKERS_PER_CORE} per core, "
                            f"{default_workers()} cores) for a {executor} pool on this machine, got {workers}")


def watch_parent(parent_pid: int, interval: float = 0.5) -> None:
    """Pool worker initializer: a daemon thread ends this process (``os._exit``) as soon as its
    parent is no longer ``parent_pid`` (the driver died and the worker was re-parented)."""
    if os.getpid() == parent_pid:  # not a worker: the in-process backend
        return

    def watch():
        while os.getppid() == parent_pid:
            time.sleep(interval)
        os._exit(70)

    threading.Thread(target=watch, name="glassnet-parent-watchdog", daemon=True).start()


def execute(jobs, executor: str = "local", workers: int | None = None, address: str | None = None):
    """Yield ``run_job(job)`` for every job, in the order the jobs finish."""
    from joblib import Parallel, delayed, parallel_config  # noqa: PLC0415

    from .worker import run_job  # noqa: PLC0415

    jobs = list(jobs)
    if not jobs:
        return
    if executor not in EXECUTORS:
        raise GlassnetError(f"--executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    check_workers(workers, executor, address)
    workers = workers or default_workers()
    if executor == "local":
        n = min(workers, len(jobs))
        cluster = contextlib.nullcontext()
        config = dict(backend="loky", n_jobs=n, inner_max_num_threads=1, initializer=watch_parent,
                      initargs=(os.getpid(),)) if n > 1 else dict(backend="sequential", n_jobs=1)
    elif executor == "dask":
        if address is None and workers > len(jobs):
            workers = len(jobs)
        cluster, config = _dask(address, workers), dict(backend="dask", n_jobs=-1)
    else:
        _register_ray_backend()
        cluster, config = _ray(address, workers), dict(backend="glassnet_ray", n_jobs=-1 if address else workers)
    with cluster, parallel_config(**config):  # the backend config after the cluster: Dask looks for its client
        yield from Parallel(return_as="generator_unordered", batch_size=1)(delayed(run_job)(j) for j in jobs)


@contextlib.contextmanager
def _dask(address, workers):
    try:
        from dask.distributed import Client, LocalCluster  # noqa: PLC0415
    except ImportError:
        raise GlassnetError("--executor dask needs dask.distributed: pip install 'glassnet[dask]'") from None
    if address:
        try:
            client = Client(address)  # waits distributed.comm.timeouts.connect (dask config)
        except OSError as exc:
            raise GlassnetError(f"--address {address!r}: cannot reach a Dask scheduler ({exc})") from None
        with client:
            yield client
        return
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with Client(cluster) as client:
            yield client


def _register_ray_backend():
    try:
        from joblib import register_parallel_backend  # noqa: PLC0415
        from ray.util.joblib.ray_backend import RayBackend  # noqa: PLC0415
    except ImportError:
        raise GlassnetError("--executor ray needs ray: pip install 'glassnet[ray]'") from None

    class GeneratorRayBackend(RayBackend):
        supports_return_generator = True

    register_parallel_backend("glassnet_ray", GeneratorRayBackend)


@contextlib.contextmanager
def _ray(address, workers):
    import ray  # noqa: PLC0415

    started = not ray.is_initialized()
    if started:
        kw = {"address": address} if address else {"num_cpus": workers}
        try:
            ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False, **kw)
        except ConnectionError as exc:
            raise GlassnetError(f"--address {address!r}: cannot reach a Ray cluster ({exc})") from None
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()
