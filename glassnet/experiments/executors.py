"""Executors: one code path (joblib) from this process to a local process pool or a cluster.

``execute(jobs, executor, workers, address)`` hands every job to
:func:`glassnet.experiments.worker.run_job` through ``joblib.Parallel`` and yields the results
in the order they finish (``return_as="generator_unordered"``), so the driver stores each one
as it arrives and an interruption keeps everything finished so far.

* ``local`` (default): joblib's loky process pool, ``workers`` processes (default: one per
  core); in this process when there is one job or one worker. Each worker process gets one BLAS
  thread (the pool already uses every core).
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

from ..errors import GlassnetError

EXECUTORS = ("local", "dask", "ray")


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


def execute(jobs, executor: str = "local", workers: int | None = None, address: str | None = None):
    """Yield ``run_job(job)`` for every job, in the order the jobs finish."""
    from joblib import Parallel, delayed, parallel_config  # noqa: PLC0415

    from .worker import run_job  # noqa: PLC0415

    jobs = list(jobs)
    if not jobs:
        return
    if executor not in EXECUTORS:
        raise GlassnetError(f"--executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    workers = workers or default_workers()
    if workers < 1:
        raise GlassnetError(f"--workers must be >= 1, got {workers}")
    if executor == "local":
        n = min(workers, len(jobs))
        cluster = contextlib.nullcontext()
        config = dict(backend="loky", n_jobs=n, inner_max_num_threads=1) if n > 1 else \
            dict(backend="sequential", n_jobs=1)
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
