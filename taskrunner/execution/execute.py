"""Run one attempt of one job in the current process and describe the outcome.

A command runs in its own session (so its whole process tree can be
signalled), with output going to the attempt's log files. A ``call`` job is
imported and called here, its output caught in scratch files and moved to its
log files (see ``capture``); its exception becomes text (type, message,
traceback) — nothing live crosses a process boundary.

    >>> from taskrunner.model import Attempt, Job
    >>> job = Job(name="hi", run="echo hi")
    >>> result = execute(Attempt(1, job, 1, "/tmp/hi.out", "/tmp/hi.err"), worker="doc")
    >>> result.status.value, result.returncode
    ('ok', 0)
"""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from ..jobhash import job_hash
from ..model import FAILURES, Attempt, Job, JobResult, Status
from ..signals import signal_group, signal_name
from .callvalue import packed_exception, packed_value, recordable
from .capture import CallOutput, CommandLogs, captured_call_output, read_tail
from .cleancall import call_environment, track_signal_changes
from .cmdwait import KILL_GRACE, Waited, wait_for
from .direct import direct_argv, runs_words_alike
from .memwatch import PeakMemory, format_size
from .scriptspace import in_script_space
from .slotfill import with_slot

__all__ = [
    "KILL_GRACE",
    "AttemptControl",
    "JobCancelled",
    "execute",
    "resolve_callable",
    "signal_group",
    "signal_name",
    "track_signal_changes",
]


class JobCancelled(BaseException):
    """Raised inside a running ``call`` job to stop it (like KeyboardInterrupt)."""


class AttemptControl:
    """Lets a signal handler or another thread stop the attempt being run.

    ``execute`` publishes the running command's process group in ``pgid``;
    ``cancel()`` sends it SIGTERM (the wait loop escalates to SIGKILL), or for
    a ``call`` job raises ``JobCancelled`` in the main thread.
    """

    def __init__(
        self, on_spawn: Callable[[int], None] | None = None, spawn_lock: threading.Lock | None = None
    ) -> None:
        self.pgid: int | None = None
        self.in_call = False
        self.cancelled = False
        self.cancelled_at: float | None = None
        #: Why this process cannot run another call as it should (None: it can).
        self.unclean: str | None = None
        self._on_spawn = on_spawn
        # Held while a command starts and is published: whoever takes it
        # (a worker whose coordinator died) knows no command is half-started.
        self.spawn_lock = spawn_lock or threading.Lock()

    def spawned(self, pgid: int | None) -> None:
        self.pgid = pgid
        if self._on_spawn is not None:
            self._on_spawn(pgid or 0)

    def cancel(self) -> None:
        """Ask the running attempt to stop; safe to call from a signal handler."""
        self.cancelled = True
        if self.cancelled_at is None:
            self.cancelled_at = time.monotonic()
        if self.pgid is not None:
            signal_group(self.pgid, signal.SIGTERM)
        elif self.in_call and threading.current_thread() is threading.main_thread():
            raise JobCancelled()

    def kill(self) -> None:
        """Kill the running command's process group at once."""
        if self.pgid is not None:
            signal_group(self.pgid, signal.SIGKILL)


def execute(
    attempt: Attempt, worker: str, control: AttemptControl | None = None, slot: int = 1, own_process: bool = False
) -> JobResult:
    """Run ``attempt`` here and return its outcome (never raises for job errors).

    ``slot``: the 1-based worker slot running it (``{%}``, ``TASKRUNNER_SLOT``).
    ``own_process``: this process runs one attempt at a time and is ours (a
    local worker), so the job's ``TASKRUNNER_*`` variables go into
    ``os.environ`` itself, where commands and calls inherit them at no cost;
    otherwise (in-process, Dask threads) each command gets a copied environment.
    """
    control = control or AttemptControl()
    job = attempt.job
    started = time.time()
    # An Executor's call (keep_value) is one of a stream, named by a counter:
    # it gets the slot, not a name and place that change on every call (a
    # putenv each) and that nothing reads; its hash, for a results file, is
    # taken by the coordinator (see calljournal).
    run_env = {"TASKRUNNER_SLOT": str(slot)}
    if not attempt.keep_value:
        run_env.update(TASKRUNNER_JOB=job.name, TASKRUNNER_SEQ=str(attempt.seq))
    if attempt.gpus is not None:  # the devices it holds; none (empty) for a job that asked for none
        run_env["CUDA_VISIBLE_DEVICES"] = run_env["TASKRUNNER_GPUS"] = ",".join(attempt.gpus)
    if own_process:
        _export(run_env)
        run_env = {}
    if job.slot_token is not None:
        job = with_slot(job, slot)
    logs: CommandLogs | CallOutput
    if job.is_command:
        (status, returncode, value, error), logs, max_rss = _run_command(job, attempt, control, run_env)
    else:
        (status, returncode, value, error), logs, max_rss = _run_call(job, attempt, control, run_env, own_process)
    finished = time.time()
    return JobResult(
        # The history the coordinator gives a first attempt: it then keeps
        # this result as it came instead of copying it (see Plan.record).
        history=((started, finished, worker, status.value),),
        name=job.name,
        status=status,
        returncode=returncode,
        value=value,
        error=error,
        attempts=attempt.number,
        started=started,
        finished=finished,
        duration=finished - started,
        worker=worker,
        stdout_log=logs.stdout_log,
        stderr_log=logs.stderr_log,
        stderr_tail=_failure_tail(status, logs),
        job_hash=None if attempt.keep_value else job_hash(attempt.job),
        max_rss=max_rss,
    )


_Outcome = tuple[Status, "int | None", Any, "str | None"]


#: The worker's own value of each variable a job's export replaced (None: unset),
#: so a variable only some jobs get (CUDA_VISIBLE_DEVICES) is put back for the others.
_found: dict[str, str | None] = {}


#: What ``_export`` last put in the environment (a call that changed one of
#: these has it put back by ``call_environment``, so this stays true).
_exported: dict[str, str] = {}


def _export(variables: dict[str, str]) -> None:
    # Copying the whole environment for every command costs some 60 µs
    # (decoding it, then encoding it again for exec); two putenv()s cost 2.
    # Only what changed since the last job is written (os.environ's own
    # lookups encode and decode each key: a few µs each).
    for key in [key for key in _found if key not in variables]:
        original = _found.pop(key)
        del _exported[key]
        if original is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = original
    for key, value in variables.items():
        if key not in _found:
            _found[key] = os.environ.get(key)
        if _exported.get(key) != value:
            os.environ[key] = _exported[key] = value


def _failure_tail(status: Status, logs: CommandLogs | CallOutput) -> str | None:
    """The end of stderr; for a failure that wrote nothing there, the end of
    stdout, saying so (many tools report their errors on stdout)."""
    if logs.stderr_tail is not None or status not in FAILURES or logs.stdout_log is None:
        return logs.stderr_tail
    tail = read_tail(logs.stdout_log)
    return None if tail is None else f"(stderr was empty; the end of stdout:)\n{tail}"


def _resolve_cwd(job: Job) -> str | None:
    if job.cwd is None:
        return job.base_dir
    return os.path.join(job.base_dir or os.getcwd(), job.cwd)


def _run_command(
    job: Job, attempt: Attempt, control: AttemptControl, run_env: dict[str, str]
) -> tuple[_Outcome, CommandLogs, int | None]:
    env = {**os.environ, **job.env, **run_env} if job.env or run_env else None
    executable = None
    argv: str | list[str] = job.run if isinstance(job.run, str) else list(job.run or ())
    if isinstance(argv, str):
        direct = direct_argv(argv, env or os.environ) if runs_words_alike(job.shell) else None
        if direct is not None:
            executable, argv = direct
        elif job.shell is not None:
            argv = [*job.shell, argv]
    logs = CommandLogs(attempt.stdout_log, attempt.stderr_log)
    try:
        with control.spawn_lock:
            proc = subprocess.Popen(
                argv,
                executable=executable,
                shell=isinstance(argv, str),
                stdin=_devnull(),
                stdout=logs.stdout,
                stderr=logs.stderr,
                env=env,
                cwd=_resolve_cwd(job),
                start_new_session=True,
            )
            control.spawned(proc.pid)
    except OSError as error:
        logs.close()
        what = "working directory" if error.filename == _resolve_cwd(job) else "command"
        return (Status.FAILED, 127, None, f"cannot start {what}: {error.strerror}: {error.filename}"), logs, None
    try:
        waited = wait_for(proc, job, control)
    finally:
        control.spawned(None)
        logs.close()
    return _command_outcome(job, waited, control.cancelled), logs, waited.max_rss


_devnull_fd: int | None = None


def _devnull() -> int:
    """One read-only /dev/null per process for every command's stdin
    (``subprocess.DEVNULL`` opens and closes it for each)."""
    global _devnull_fd
    if _devnull_fd is None:
        _devnull_fd = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    return _devnull_fd


def _command_outcome(job: Job, waited: Waited, cancelled: bool) -> _Outcome:
    returncode = waited.returncode
    if cancelled:
        return Status.CANCELLED, returncode, None, "cancelled while running"
    if waited.over_memory:
        return Status.FAILED, returncode, None, f"memory limit {format_size(job.memory_limit or 0)} exceeded; process group killed"
    if waited.timed_out:
        return Status.TIMEOUT, returncode, None, f"timed out after {job.timeout:g}s; process group killed"
    if returncode in job.success_codes:
        return Status.OK, returncode, None, None
    if returncode < 0:
        return Status.FAILED, returncode, None, f"killed by signal {signal_name(-returncode)}"
    return Status.FAILED, returncode, None, f"exited with status {returncode}"


def resolve_callable(call: str | Callable[..., Any], base_dir: str | None) -> Callable[..., Any]:
    """The function named by ``"package.module:function"`` (or ``call`` itself).

    The job file's folder and the current directory are put on ``sys.path``
    first, so a module next to the job file imports without installing it.
    """
    if callable(call):
        return in_script_space(call)  # (a script's function shares the worker's script namespace)
    module_name, _, attr_path = call.partition(":")
    for folder in (os.getcwd(), base_dir):
        if folder and folder not in sys.path:
            sys.path.insert(0, folder)
    target: Any = importlib.import_module(module_name)
    for attr in attr_path.split("."):
        target = getattr(target, attr)
    if not callable(target):
        raise TypeError(f"{call!r} is not callable")
    function: Callable[..., Any] = target
    return function


def _run_call(
    job: Job, attempt: Attempt, control: AttemptControl, run_env: dict[str, str], own_process: bool
) -> tuple[_Outcome, CallOutput, int | None]:
    def unclean(reason: str) -> None:
        control.unclean = reason

    # The peak is the process's: measured only in a worker of our own (not
    # in a caller's process or a Dask worker's threads).
    measured = own_process and attempt.measure_memory
    if measured:
        _call_peak.reset()
    # No log files (an ``Executor`` without ``log_dir``, like ``ProcessPoolExecutor``):
    # the call writes where the worker does.
    capture: AbstractContextManager[CallOutput] = (
        captured_call_output(attempt.stdout_log, attempt.stderr_log) if attempt.stdout_log
        else nullcontext(CallOutput()))
    with capture as output:
        try:
            with call_environment({**job.env, **run_env}, _resolve_cwd(job) if job.cwd else None, unclean):
                func = resolve_callable(job.call, job.base_dir)  # type: ignore[arg-type]
                control.in_call = True
                try:
                    value = func(*job.args, **job.kwargs)
                finally:
                    control.in_call = False
        except JobCancelled:
            outcome: _Outcome = (Status.CANCELLED, None, None, "cancelled while running")
        except BaseException as error:  # noqa: BLE001 - a job's failure is data
            # SystemExit/KeyboardInterrupt raised by a job are its failure too.
            text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
            outcome = (Status.FAILED, None, packed_exception(error) if attempt.keep_value else None, text)
        else:
            if attempt.keep_value:
                status, data, problem = packed_value(value)
                outcome = (status, None, data, problem)
            else:
                outcome = recordable(value)
    return outcome, output, _call_peak.peak() if measured else None


_call_peak = PeakMemory()
