"""Importable functions for ``call`` jobs in the tests (``call: jobs:NAME``)."""

from __future__ import annotations

import os
import signal
import sys
import time


def add(a: int, b: int) -> int:
    return a + b


def echo(*args: object, **kwargs: object) -> dict[str, object]:
    return {"args": list(args), "kwargs": kwargs}


def fail(message: str = "boom") -> None:
    raise ValueError(message)


def exit_hard(code: int = 3) -> None:
    """Kill the worker the way a segfault or a C extension's abort would."""
    os._exit(code)


def kill_self() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def sleep(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def spin(seconds: float) -> int:
    """Busy CPU work that never checks for signals between bytecodes' worth of C."""
    end = time.monotonic() + seconds
    count = 0
    while time.monotonic() < end:
        count += 1
    return count


def print_both(text: str) -> str:
    print(f"out: {text}")
    print(f"err: {text}", file=sys.stderr)
    return text


def set_env(name: str, value: str) -> None:
    os.environ[name] = value


def write_fd(fd: int, text: str) -> None:
    """Write below Python's streams, as C code would."""
    os.write(fd, text.encode())


def rendezvous(folder: str, me: str, peer: str, seconds: float = 20) -> str:
    """Succeed only if ``peer`` runs at the same time (a server and its client)."""
    open(os.path.join(folder, me), "w").close()
    end = time.monotonic() + seconds
    while not os.path.exists(os.path.join(folder, peer)):
        if time.monotonic() > end:
            raise TimeoutError(f"{peer} never ran alongside {me}")
        time.sleep(0.01)
    return me


def env_and_cwd(name: str) -> dict[str, str | None]:
    return {"value": os.environ.get(name), "cwd": os.getcwd()}


def generator() -> object:
    return (i for i in range(3))


class Unpicklable(Exception):
    def __init__(self, a: object, b: object) -> None:
        super().__init__(a)
        self.b = b


def raise_unpicklable() -> None:
    raise Unpicklable("first", "second")


def big_value(megabytes: int) -> str:
    return "x" * (megabytes << 20)


def write_pid(path: str, seconds: float = 60) -> None:
    """Record this worker's pid, then sleep (for tests that kill it)."""
    with open(path, "w") as handle:
        handle.write(str(os.getpid()))
    time.sleep(seconds)


def segfault() -> None:
    import ctypes

    ctypes.string_at(0)


def print_lots(megabytes: int) -> int:
    chunk = "y" * 1023 + "\n"
    for _ in range(megabytes * 1024):
        sys.stdout.write(chunk)
        sys.stderr.write(chunk)
    return megabytes


def leave_removed_folder() -> str:
    """The TemporaryDirectory pattern gone wrong: chdir in, remove it, stay;
    and change the process state a call should not keep."""
    import signal
    import tempfile

    folder = tempfile.mkdtemp()
    os.chdir(folder)
    os.rmdir(folder)
    os.umask(0o077)
    os.environ["LEFT_BY_JOB"] = "1"
    signal.signal(signal.SIGTERM, lambda *_: None)
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    return folder


def process_state() -> dict[str, object]:
    """What a call finds: cwd, umask, environment names, SIGTERM/SIGUSR1 handling."""
    import signal

    umask = os.umask(0)
    os.umask(umask)
    sigterm = signal.getsignal(signal.SIGTERM)
    return {
        "cwd": os.getcwd(),
        "umask": umask,
        "env": sorted(os.environ),
        "sigterm": "job's own" if getattr(sigterm, "__name__", "") == "<lambda>" else str(sigterm),
        "sigusr1": str(signal.getsignal(signal.SIGUSR1)),
    }


def stamp_and_sleep(path: str, seconds: float) -> None:
    """Append this attempt's start time to ``path``, then sleep."""
    start = time.time()
    with open(path, "a") as handle:
        handle.write(f"{start:.6f}\n")
    time.sleep(seconds)


def start_daemon(pid_file: str, timeout_first: float = 0.0) -> None:
    """Start a process in a new session (escaping our process group), write its
    pid, then (optionally) sleep past a timeout."""
    import subprocess

    daemon = subprocess.Popen(["sleep", "60"], start_new_session=True)
    with open(pid_file, "w") as handle:
        handle.write(str(daemon.pid))
    time.sleep(timeout_first)


def environment_of(names: list[str], slot: int) -> dict[str, object]:
    """The values of environment variables ``names``, and the ``{%}`` it was given."""
    return {"env": [os.environ.get(name) for name in names], "slot": slot}


def allocate(megabytes: int, seconds: float = 0.0) -> int:
    """Hold ``megabytes`` of touched memory for ``seconds``; return its size in bytes."""
    block = bytearray(megabytes * 1024 * 1024)
    block[::4096] = b"x" * len(block[::4096])
    time.sleep(seconds)
    return len(block)


def pool_sum(n: int) -> int:
    """A call that starts processes of its own (a multiprocessing.Pool)."""
    import multiprocessing

    with multiprocessing.get_context("fork").Pool(2) as pool:
        return sum(pool.map(abs, range(-n, 0)))


def pool_and_wait(pid_file: str, seconds: float = 60) -> None:
    """Start a Pool, write its processes' pids, and wait."""
    import multiprocessing

    with multiprocessing.get_context("fork").Pool(2) as pool:
        pool.map(abs, range(4))
        with open(pid_file + ".tmp", "w") as handle:
            handle.write(" ".join(str(child.pid) for child in multiprocessing.active_children()))
        os.rename(pid_file + ".tmp", pid_file)
        time.sleep(seconds)


_REMEMBERED: list[object] = []


def remember(value: object) -> None:
    """An initializer: what each worker loads once."""
    _REMEMBERED.append(value)


def remembered() -> list[object]:
    return list(_REMEMBERED)


def note_start(path: str) -> None:
    """An initializer: append this worker's pid to ``path`` (one line per worker started)."""
    with open(path, "a") as file:
        file.write(f"{os.getpid()}\n")


def refuse_to_start() -> None:
    raise ValueError("no model here")


def nested_executors(n: int) -> list[int]:
    """A call that runs a ProcessPoolExecutor, then a taskrunner.Executor."""
    import concurrent.futures

    import taskrunner

    with concurrent.futures.ProcessPoolExecutor(2) as inner:
        first = list(inner.map(abs, range(n)))
    with taskrunner.Executor(2) as mine:
        return [value * value for value in mine.map(abs, first)]


def pids() -> list[int]:
    """This process's pid and its parent's (where a call runs)."""
    return [os.getpid(), os.getppid()]
