"""Reaching a Dask cluster, showing where to watch it, and saying when it has
no workers.

``scheduler`` is an address (``tcp://host:8786``), a cluster object (any
``distributed.deploy.Cluster``: ``LocalCluster``, dask-jobqueue's
``SLURMCluster``, a Kubernetes cluster) or a ``distributed.Client``; without
one, an embedded ``LocalCluster`` is started. What the caller handed over
stays theirs: the run closes only the client and cluster it made itself.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import time
import urllib.request
from dataclasses import dataclass
from typing import Any

from ...errors import BackendUnavailable

try:
    import dask
    import distributed
except ImportError:  # pragma: no cover - exercised when the extra is missing
    distributed = None  # type: ignore[assignment]

__all__ = ["Connection", "NoWorkersNotice", "check_scheduler", "connect"]

#: Messages the run prints (``log.warning``: shown without ``-v`` too).
log = logging.getLogger("taskrunner.dask")

#: How long to wait for a scheduler to answer when connecting, and to close.
CONNECT_TIMEOUT = 10
CLOSE_TIMEOUT = 3
#: The embedded cluster's settings. A worker whose job kills it is replaced
#: (by its nanny). The scheduler hands a worker one task per thread (tasks
#: queued on a worker that dies would be "crashed" along with the culprit);
#: a task that kills its worker is ``crashed`` after one more try elsewhere.
EMBEDDED_CONFIG = {
    "distributed.scheduler.allowed-failures": 1,
    "distributed.scheduler.worker-saturation": 1.0,
}
#: The embedded cluster's dashboard: a free port on this machine only.
EMBEDDED_DASHBOARD = "127.0.0.1:0"
#: How long the dashboard may take to answer before the run goes on without naming it.
DASHBOARD_CHECK_TIMEOUT = 3.0


def check_scheduler(scheduler: object) -> None:
    """Raise ``BackendUnavailable`` unless ``scheduler`` is something ``connect`` takes."""
    if scheduler is None or isinstance(scheduler, str) or _is_client(scheduler) or _is_cluster(scheduler):
        return
    raise BackendUnavailable(
        "scheduler must be an address (tcp://host:8786), a Dask cluster object or a distributed.Client, "
        f"not {type(scheduler).__name__}")


def _is_client(scheduler: object) -> bool:
    return distributed is not None and isinstance(scheduler, distributed.Client)


def _is_cluster(scheduler: object) -> bool:
    # Duck-typed: dask-jobqueue and dask-kubernetes clusters derive from
    # distributed.deploy.Cluster, but a user's own wrapper need not.
    return hasattr(scheduler, "scheduler_address") and hasattr(scheduler, "dashboard_link")


@dataclass
class Connection:
    """A client of the cluster, and what of it this run made (and closes)."""

    client: Any
    where: str  # the scheduler's address, for messages
    own_client: bool
    own_cluster: Any = None

    def dashboard(self) -> str | None:
        """The dashboard's address, if the scheduler serves one. The embedded
        cluster does when bokeh is installed (Dask serves it then). Another
        scheduler is asked once: one started with ``--no-dashboard`` still
        names the port of its HTTP server, which answers 404 for the page
        (rendering it costs some 250 ms, too much for every embedded run)."""
        try:
            link = self.client.dashboard_link
        except (KeyError, AttributeError, OSError):  # no HTTP service; a scheduler gone
            return None
        if self.own_cluster is not None:
            return str(link) if link and importlib.util.find_spec("bokeh") is not None else None
        try:
            with urllib.request.urlopen(str(link), timeout=DASHBOARD_CHECK_TIMEOUT) as page:
                return str(link) if page.status < 400 else None
        except (OSError, ValueError):  # 404, unreachable from here, not a URL
            return None

    def close(self) -> None:
        for closable in (self.client if self.own_client else None, self.own_cluster):
            if closable is not None:
                with contextlib.suppress(Exception):  # best effort while shutting down
                    closable.close(timeout=CLOSE_TIMEOUT)


def connect(scheduler: object, workers: int) -> Connection:
    """A client of ``scheduler``, or of an embedded cluster of ``workers``
    single-threaded worker processes (dashboard on a free local port)."""
    if _is_client(scheduler):
        client: Any = scheduler
        return Connection(client, str(client.scheduler.address), own_client=False)
    if _is_cluster(scheduler):
        cluster: Any = scheduler
        return Connection(distributed.Client(cluster, set_as_default=False), str(cluster.scheduler_address),
                          own_client=True)
    if isinstance(scheduler, str):
        client = distributed.Client(scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False)
        return Connection(client, scheduler, own_client=True)
    with dask.config.set(EMBEDDED_CONFIG):
        embedded = distributed.LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True,
            dashboard_address=EMBEDDED_DASHBOARD, silence_logs=logging.CRITICAL,
        )
    try:
        client = distributed.Client(embedded, set_as_default=False)
    except BaseException:
        embedded.close(timeout=CLOSE_TIMEOUT)
        raise
    return Connection(client, str(embedded.scheduler_address), own_client=True, own_cluster=embedded)


#: A run whose tasks wait on a cluster without workers says so after this
#: long, and again every REPEAT seconds while none comes (workers may be on
#: their way: a batch system's queue, a slow start).
NO_WORKERS_AFTER = 3.0
NO_WORKERS_REPEAT = 300.0


class NoWorkersNotice:
    """Says (once, then rarely) that the cluster has no workers while tasks wait."""

    def __init__(self, where: str) -> None:
        self._where = where
        self._none_since: float | None = None
        self._said_at: float | None = None

    def observe(self, workers: int, now: float | None = None) -> None:
        """``workers``: how many the scheduler knows now (while tasks wait)."""
        now = time.monotonic() if now is None else now
        if workers:
            self._none_since = self._said_at = None
            return
        if self._none_since is None:
            self._none_since = now
        due = self._said_at is None and now - self._none_since >= NO_WORKERS_AFTER
        if due or (self._said_at is not None and now - self._said_at >= NO_WORKERS_REPEAT):
            self._said_at = now
            log.warning("waiting for Dask workers at %s: none connected", self._where)
