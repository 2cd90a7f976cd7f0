"""The one adapter between geosr and dask.distributed (imported only when a cluster is asked
for; ``pip install 'geosr[dask]'``).

geosr's chunked work (out-of-core prediction, chunked assessment) is a list of independent,
idempotent tasks — a function and one item each. :func:`map_tasks` runs them on

- ``"local:N"``: a ``LocalCluster`` of N worker processes with one thread each (torch and BLAS
  single-threaded in every worker, so N workers use N cores);
- ``"tcp://HOST:PORT"``: an existing scheduler — e.g. one started on SLURM with dask-jobqueue
  (``SLURMCluster(...).scale(jobs=n)``, then ``cluster.scheduler_address``);
- a ``distributed.Client`` you already hold (not closed here).

Workers load what they need once (a per-process cache in the task's module), tasks are
scheduled as workers free up, and a worker that dies has its tasks rerun elsewhere by the
scheduler (``distributed.scheduler.allowed-failures``), which is safe because every geosr task
rewrites the same bytes.

>>> map_tasks(abs, [-1, 2], None)
[1, 2]
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator, Sequence

from geosr.core.errors import ConfigError, DependencyError

__all__ = ["map_tasks", "open_client", "parse_cluster"]


def parse_cluster(cluster: str) -> tuple[str, Any]:
    """``("local", N)`` or ``("address", "tcp://…")``; :class:`ConfigError` otherwise.

    >>> parse_cluster("local:4"), parse_cluster("tcp://10.0.0.1:8786")
    (('local', 4), ('address', 'tcp://10.0.0.1:8786'))
    """
    text = str(cluster).strip()
    if text.startswith("local:"):
        count = text.split(":", 1)[1]
        if not count.isdigit() or int(count) < 1:
            raise ConfigError(f"local:N needs a positive number of workers, got {text!r}",
                              where="--cluster")
        return "local", int(count)
    if "://" in text:
        return "address", text
    raise ConfigError(f"unknown cluster {text!r}", where="--cluster",
                      hint="use local:N (N single-threaded workers here) or the address of a "
                           "dask scheduler, tcp://HOST:PORT")


def _one_thread() -> None:
    """Run in each worker: torch on one thread (the nanny already sets OMP_NUM_THREADS=1)."""
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(1)


@contextlib.contextmanager
def open_client(cluster: Any) -> Iterator[Any]:
    """A ``distributed.Client`` for ``cluster`` (see module doc), closed on exit if opened
    here."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise DependencyError("--cluster needs dask.distributed",
                              hint="pip install 'geosr[dask]'") from None
    if isinstance(cluster, Client):
        yield cluster
        return
    kind, value = parse_cluster(cluster)
    if kind == "local":
        import logging

        # closing a local cluster kills workers that linger over 4 s; not worth a warning
        logging.getLogger("distributed.nanny").setLevel(logging.ERROR)
        with LocalCluster(n_workers=value, threads_per_worker=1, processes=True,
                          dashboard_address=None) as local, Client(local) as client:
            client.run(_one_thread)
            yield client
        return
    try:
        client = Client(value, timeout="30s")
    except (OSError, TimeoutError) as err:
        raise ConfigError(f"cannot reach the dask scheduler ({err})", where="--cluster",
                          hint="check the address and that the scheduler is running") from None
    with client:
        client.run(_one_thread)
        yield client


def map_tasks(fn: Callable[[Any], Any], items: Sequence[Any], cluster: Any, *,
              progress: Callable[[int, int], None] | None = None,
              done: int = 0, total: int | None = None) -> list[Any]:
    """``[fn(item) for item in items]``, here (``cluster=None``) or on a dask cluster, with
    ``progress(done + finished, total)`` after each task. Results keep the order of
    ``items``."""
    total = len(items) + done if total is None else total
    if cluster is None:
        out = []
        for k, item in enumerate(items):
            out.append(fn(item))
            if progress is not None:
                progress(done + k + 1, total)
        return out
    from distributed import as_completed

    with open_client(cluster) as client:
        futures = client.map(fn, list(items), pure=False)
        for k, _ in enumerate(as_completed(futures)):
            if progress is not None:
                progress(done + k + 1, total)
        return client.gather(futures)
