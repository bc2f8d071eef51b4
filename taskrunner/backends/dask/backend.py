"""The Dask backend: the same attempts, run by a Dask cluster.

Each attempt becomes one Dask task (sent with ``client.map(..., pure=False)``
in batches, so identical jobs never collapse into one key) that runs it on a
Dask worker (``onworker``): a command as a local worker runs it, a ``call``
in a child process of the worker (``callchild``), so that timeouts, memory
limits and cancels hold. Logs come home with the result (``logshome``).
Planning, retries, skipping, the results file and the display stay in the
runner, which does not know which backend runs.

- A Dask worker that dies while running an attempt gives a ``crashed``
  outcome (Dask's ``KilledWorker``). The embedded cluster lets Dask retry a
  task once elsewhere; an external scheduler applies its own
  ``allowed-failures``. The job's own ``retries`` then decide.
- Cancelling (Ctrl-C, ``--max-failures``) stops running attempts through
  ``client.run`` on every worker (SIGTERM to the command's or the call
  process's group), and cancels the futures.
- Losing the scheduler raises ``WorkerError``; results recorded so far stay
  in the results file.

Workers must be able to import ``taskrunner`` (and the modules ``call`` jobs
name).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import pickle
import queue
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ...errors import BackendUnavailable, WorkerError
from ...model import Attempt, JobResult, Status
from ..outcomes import coordinator_result
from .connect import Connection, NoWorkersNotice, check_scheduler, connect, log
from .logshome import Shipped, bring_home, drop_scratch, read_chunk
from .onworker import close_plugin, run_attempt, stop_attempts

try:
    import distributed
    from distributed.scheduler import KilledWorker
except ImportError:  # pragma: no cover - exercised when the extra is missing
    distributed = None  # type: ignore[assignment]

__all__ = ["DaskBackend"]

#: What a Dask task brings back beside the result: its two logs (see logshome).
Logs = tuple[Shipped | None, Shipped | None]

#: Upper bound on one wait, so signals are seen promptly (as the local pool does).
MAX_WAIT = 0.2
#: Attempts kept submitted to Dask at a time (at least four per worker thread).
QUEUED_TASKS = 1000
#: How often to ask the scheduler how many worker threads there are.
CAPACITY_REFRESH = 1.0


def _quiet_dask_logs() -> dict[str, int]:
    """Silence Dask's loggers (each has its own level); return the old levels."""
    names = ["distributed", *(n for n in logging.root.manager.loggerDict if n.startswith("distributed."))]
    levels = {name: logging.getLogger(name).level for name in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    return levels


def require_dask() -> None:
    """Raise ``BackendUnavailable`` (one clear line) unless Dask is installed."""
    if distributed is None:
        raise BackendUnavailable("the dask backend needs Dask: pip install 'dask[distributed]'")


class DaskBackend:
    """Runs attempts on a Dask cluster: the one at ``scheduler``, or an embedded
    ``LocalCluster`` of ``workers`` single-threaded worker processes."""

    def __init__(self, workers: int, scheduler: object = None) -> None:
        require_dask()
        check_scheduler(scheduler)
        self.workers = workers
        self.scheduler = scheduler
        self._connection: Connection | None = None
        self._client: Any = None
        self._futures: dict[int, Any] = {}  # attempt id -> future
        self._unsent: list[tuple[int, bytes]] = []  # (attempt id, pickled attempt)
        # Attempt ids whose futures are done, put there by Dask's callbacks
        # (distributed.wait would need a default client, which is the user's).
        self._done: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._attempts: dict[int, Attempt] = {}
        self._cancelling = False
        self._threads = workers
        self._threads_checked = 0.0
        self._no_workers: NoWorkersNotice | None = None
        self._log_levels: dict[str, int] = {}

    def __enter__(self) -> DaskBackend:
        # Dask logs connection failures with tracebacks; we report them
        # ourselves, in one line.
        self._log_levels = _quiet_dask_logs()
        try:
            self._connection = connect(self.scheduler, self.workers)
            self._client = self._connection.client
            self._client.register_plugin(close_plugin())
        except (OSError, TimeoutError) as error:
            self._shutdown()
            where = self.scheduler if isinstance(self.scheduler, str) else "an embedded cluster"
            raise WorkerError(f"cannot reach the Dask scheduler at {where}: {error}") from None
        self._no_workers = NoWorkersNotice(self._connection.where)
        dashboard = self._connection.dashboard()
        if dashboard:
            log.warning("dashboard: %s", dashboard)
        return self

    def __exit__(self, *exc: object) -> None:
        self._shutdown()

    def _shutdown(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None and connection.own_cluster is not None and self._connected():
            # Closing the cluster kills worker processes, not the commands
            # they started in their own sessions: stop those first.
            self._stop_running(kill=True)
        if connection is not None:
            connection.close()
        self._client = None
        for name, level in self._log_levels.items():
            logging.getLogger(name).setLevel(level)

    # -- the Backend interface ------------------------------------------------

    def capacity(self) -> int:
        self._count_threads()
        # Dask queues tasks on its scheduler (see connect.EMBEDDED_CONFIG) and hands
        # them to workers as threads free up: keep it well fed, since each
        # round-trip through us costs milliseconds. (Many more than the threads
        # also makes Dask treat the tasks as "root-ish", which is what queues them.)
        return max(0, max(4 * self._threads, QUEUED_TASKS) - len(self._futures) - len(self._unsent))

    def _count_threads(self) -> None:
        """Ask the scheduler (at most every CAPACITY_REFRESH) how many worker
        threads it has; say so while tasks wait on a cluster with none."""
        if time.monotonic() - self._threads_checked <= CAPACITY_REFRESH or not self._connected():
            return
        with self._talking_to_scheduler():
            threads = self._client.nthreads()
        self._threads = max(1, sum(threads.values()))
        self._threads_checked = time.monotonic()
        if self._futures and self._no_workers is not None:
            self._no_workers.observe(len(threads))

    def submit(self, attempt: Attempt) -> None:
        # Pickled here, as the local pool does, so an attempt that cannot
        # travel fails now, alone; Dask then sends the bytes as they are.
        # Collected and sent with one client.map at the next poll(): one
        # message to the scheduler rather than one per attempt.
        payload = pickle.dumps(attempt, protocol=pickle.HIGHEST_PROTOCOL)
        self._attempts[attempt.attempt_id] = attempt
        self._unsent.append((attempt.attempt_id, payload))

    def _send(self) -> None:
        if not self._unsent:
            return
        self._ensure_connected()
        batch, self._unsent = self._unsent, []
        # On an external cluster a job's `resources` are Dask worker resources
        # (start workers with --resources "gpu=2"): Dask places it on a worker
        # that has them. The embedded cluster declares none, so there the
        # run's own accounting (taskrunner.resources) is all that applies.
        embedded = self._connection is None or self._connection.own_cluster is not None
        placed = [] if embedded else [item for item in batch if self._attempts[item[0]].job.resources]
        plain = [item for item in batch if item not in placed]
        with self._talking_to_scheduler():
            futures = self._client.map(run_attempt, [payload for _, payload in plain], pure=False) if plain else []
            futures += [
                self._client.submit(run_attempt, payload, pure=False, resources=dict(self._attempts[attempt_id].job.resources))
                for attempt_id, payload in placed
            ]
        for (attempt_id, _), future in zip(plain + placed, futures):
            self._futures[attempt_id] = future
            self._watch(attempt_id, future)

    def _watch(self, attempt_id: int, future: Any) -> None:
        future.add_done_callback(lambda _: self._done.put(attempt_id))

    def running(self) -> list[tuple[int, str, float | None]]:
        # Asking Dask what is processing costs a round-trip: estimate it as
        # the oldest outstanding tasks, at most one per worker thread.
        return [(attempt_id, "dask", None) for attempt_id in itertools.islice(self._futures, self._threads)]

    def poll(self, timeout: float | None) -> list[tuple[int, JobResult]]:
        timeout = MAX_WAIT if timeout is None else max(0.0, min(timeout, MAX_WAIT))
        self._send()
        if not self._futures:
            time.sleep(timeout)
            return []
        try:
            done = [self._done.get(timeout=timeout)]
        except queue.Empty:
            self._ensure_connected()
            self._count_threads()
            return []
        while not self._done.empty():
            done.append(self._done.get())
        ready = []
        for attempt_id in done:
            future = self._futures.get(attempt_id)
            if future is None:
                continue
            if not future.done():
                # Its result was lost with a worker that died before we
                # fetched it; Dask computes it again. Wait for that.
                self._watch(attempt_id, future)
                continue
            del self._futures[attempt_id]
            ready.append((attempt_id, future))
        # One gather for every finished result (a result() each is a round-trip each).
        finished = [future for _, future in ready if future.status == "finished"]
        values: dict[str, tuple[JobResult, Logs]] = {}
        if finished:
            with self._talking_to_scheduler():
                values = dict(zip((f.key for f in finished), self._client.gather(finished, errors="skip")))
        return [
            (attempt_id, self._outcome(self._attempts.pop(attempt_id), future, values.get(future.key)))
            for attempt_id, future in ready
        ]

    def cancel(self) -> list[tuple[int, JobResult]]:
        """Cancel every future (queued ones never start), then SIGTERM the
        commands running on the workers (each escalates to SIGKILL there after
        the grace period, as locally). Everything outstanding is recorded
        ``cancelled``: Dask cannot say which had started."""
        self._cancelling = True
        self._unsent.clear()
        if self._futures and self._connected():
            self._client.cancel(list(self._futures.values()))
            self._stop_running(kill=False)
        outcomes = [(attempt_id, _cancelled(attempt)) for attempt_id, attempt in self._attempts.items()]
        self._attempts.clear()
        self._futures.clear()
        return outcomes

    def stop_starting(self) -> None:
        # Dask has no flag a worker checks before each task: what is queued
        # there is cancelled by cancel(), right after.
        pass

    def kill_now(self) -> None:
        self._cancelling = True
        if self._connected():
            with contextlib.suppress(Exception):  # called from a signal handler
                self._stop_running(kill=True)

    # -- helpers --------------------------------------------------------------

    def _connected(self) -> bool:
        return self._client is not None and self._client.status == "running"

    def _ensure_connected(self) -> None:
        if not self._connected():
            raise self._lost_scheduler()

    def _lost_scheduler(self) -> WorkerError:
        where = self._connection.where if self._connection is not None else "the embedded cluster"
        return WorkerError(f"lost the Dask scheduler at {where}")

    @contextmanager
    def _talking_to_scheduler(self) -> Iterator[None]:
        """A call to the scheduler may find it gone half-way (Dask raises its
        ``CommClosedError``, an ``OSError``): that is a lost scheduler too."""
        try:
            yield
        except OSError:
            raise self._lost_scheduler() from None

    def _fetch_log(self, worker: str, path: str, offset: int) -> bytes:
        try:
            piece: bytes = self._client.run(read_chunk, path, offset, workers=[worker])[worker]
        except Exception as error:  # noqa: BLE001 - the worker went away; the file did
            raise OSError(f"cannot read {path} on {worker}: {error}") from None
        return piece

    def _drop_log(self, worker: str, path: str) -> None:
        with contextlib.suppress(Exception):  # a worker gone took its scratch folder with it
            self._client.run(drop_scratch, path, workers=[worker])

    def _stop_running(self, kill: bool) -> None:
        with contextlib.suppress(Exception):  # a worker may be gone meanwhile
            self._client.run(stop_attempts, kill=kill, wait=True)

    def _outcome(self, attempt: Attempt, future: Any, value: tuple[JobResult, Logs] | None) -> JobResult:
        if value is not None:
            result = bring_home(value[0], attempt, value[1], self._fetch_log, self._drop_log)
            return result if result.attempts == attempt.number else result.evolve(attempts=attempt.number)
        if future.status == "error":
            error = future.exception()
            if isinstance(error, KilledWorker):
                return coordinator_result(attempt, Status.CRASHED, f"the Dask worker died while running this job ({error})")
            return coordinator_result(attempt, Status.FAILED, f"Dask could not run this job: {type(error).__name__}: {error}")
        if self._cancelling:
            return _cancelled(attempt)
        self._ensure_connected()
        return coordinator_result(attempt, Status.CRASHED, f"Dask lost this job ({future.status})")


def _cancelled(attempt: Attempt) -> JobResult:
    return coordinator_result(attempt, Status.CANCELLED, "cancelled")
