"""The process a Dask worker runs its ``call`` jobs in (``python -m`` this).

It reads requests from one pipe and writes results to another (their fds
are its two arguments), one pickle each
(``multiprocessing.connection`` framing): first the worker's ``sys.path``,
then ``(payload, stdout_log, stderr_log, worker, slot)`` per call, where
``payload`` is the attempt as the coordinator pickled it (unpickled only
here: a function sent by value loads where it runs). Each call runs as a
local worker runs it (its output caught at fds 1 and 2, its peak memory
measured). It dies with the worker (``PR_SET_PDEATHSIG``); the worker kills
its process group to stop a call.
"""

from __future__ import annotations

import ctypes
import pickle
import signal
import sys
from dataclasses import replace
from multiprocessing.connection import Connection

from ...execution.execute import AttemptControl, execute
from ...model import Attempt, JobResult, Status

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the closed pipe still ends it between calls
        pass


def serve() -> None:
    """Run calls until the worker closes the pipe."""
    _die_with_parent()
    requests = Connection(int(sys.argv[1]), writable=False)
    results = Connection(int(sys.argv[2]), readable=False)
    sys.path[:] = pickle.loads(requests.recv_bytes())
    while True:
        try:
            request = requests.recv_bytes()
        except EOFError:
            return
        payload, stdout_log, stderr_log, worker, slot = pickle.loads(request)
        try:
            attempt: Attempt = replace(pickle.loads(payload), stdout_log=stdout_log, stderr_log=stderr_log)
        except Exception as error:  # noqa: BLE001 - what the worker could load, this process could not
            result = JobResult("?", Status.FAILED, error=f"the call's process could not load the job: "
                               f"{type(error).__name__}: {error}", worker=worker)
            control = None
        else:
            control = AttemptControl()
            result = execute(attempt, worker, control, slot=slot, own_process=True)
        results.send_bytes(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
        if control is not None and control.unclean is not None:
            return  # the next call would not start clean: the worker starts a fresh process


if __name__ == "__main__":
    serve()
