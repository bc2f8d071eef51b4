"""Shared fixtures: run the CLI for real, and prove nothing is left running."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

TESTS_DIR = Path(__file__).resolve().parent
REPO_DIR = TESTS_DIR.parent
TAG_VARIABLE = "TASKRUNNER_TEST_TAG"


def tagged_processes(tag: str) -> list[psutil.Process]:
    """Every live process whose environment carries ``tag`` (a run's whole tree,
    including processes that were reparented after their parent died)."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get(TAG_VARIABLE) == tag and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def wait_until_gone(tag: str, timeout: float = 10.0) -> list[psutil.Process]:
    """Wait for the tagged processes to end; return those still alive."""
    deadline = time.monotonic() + timeout
    while True:
        alive = tagged_processes(tag)
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.05)


def ignored_signals_mask(status_text: str) -> int:
    """The INT/TERM/HUP bits of a ``/proc/PID/status`` text's SigIgn mask
    (bit N-1 for signal N)."""
    line = next(line for line in status_text.splitlines() if line.startswith("SigIgn:"))
    return int(line.split()[1], 16) & ((1 << 0) | (1 << 1) | (1 << 14))


class CliRunner:
    """Runs ``python -m taskrunner`` in a real child process, tagged for leak checks."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.tag = uuid.uuid4().hex
        self.env = {**os.environ, TAG_VARIABLE: self.tag, "PYTHONPATH": str(TESTS_DIR)}

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "taskrunner", *args]

    def run(self, *args: str, timeout: float = 60, input: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run the command to its end; ``input`` is its standard input (else /dev/null)."""
        stdin = {"stdin": subprocess.DEVNULL} if input is None else {"input": input}
        return subprocess.run(
            self.command(*args),
            check=False,
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            **stdin,  # type: ignore[call-overload]
        )

    def start(self, *args: str, **popen: object) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.command(*args),
            cwd=self.workdir,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            **popen,  # type: ignore[arg-type]
        )


def run_in_a_pty(cli: CliRunner, *args: str) -> bytes:
    """The command's stderr and stdout as a terminal receives them, as bytes."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 120, 0, 0))  # 30 rows, 120 columns
    proc = subprocess.Popen(cli.command(*args), cwd=cli.workdir, env={**cli.env, "TERM": "xterm"},
                            stdin=subprocess.DEVNULL, stdout=follower, stderr=follower)
    os.close(follower)
    received = b""
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:  # EIO: the last writer closed the terminal
                    break
                if not chunk:
                    break
                received += chunk
            elif proc.poll() is not None:
                break
    finally:
        os.close(leader)
        proc.wait(timeout=30)
    return received



@pytest.fixture(scope="session", autouse=True)
def signals_as_from_a_terminal() -> None:
    """Whatever launched the suite (``nohup``, a script's ``cmd &``) may have
    made it ignore SIGHUP or SIGINT, and every process it starts would
    inherit that (taskrunner keeps an inherited ignore, on purpose). The
    signal tests need what a terminal gives: the default dispositions."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if signal.getsignal(signal.SIGHUP) == signal.SIG_IGN:
        signal.signal(signal.SIGHUP, signal.SIG_DFL)


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[CliRunner]:
    """A CLI runner in a temporary folder; fails the test if any process of it survives."""
    runner = CliRunner(tmp_path)
    yield runner
    alive = wait_until_gone(runner.tag)
    for process in alive:
        process.kill()
    assert not alive, f"processes left behind: {[p.cmdline() for p in alive]}"


def _is_multiprocessing_helper(process: psutil.Process) -> bool:
    """multiprocessing's fork server and resource tracker live as long as the session."""
    try:
        return any("forkserver" in part or "resource_tracker" in part for part in process.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


@pytest.fixture
def no_leftovers() -> Iterator[None]:
    """For in-process runs: after the test no child of this process may remain
    (multiprocessing's session-wide helpers aside)."""
    yield
    me = psutil.Process()
    deadline = time.monotonic() + 10
    while True:
        children = [c for c in me.children(recursive=True) if _is_live(c) and not _is_multiprocessing_helper(c)]
        if not children or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    described = [_describe(c) for c in children]
    for child in children:
        child.kill()
    assert not children, f"processes left behind: {described}"


def _is_live(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _describe(process: psutil.Process) -> str:
    try:
        return f"{process.pid} ppid={process.ppid()} {process.status()} {process.cmdline()}"
    except psutil.Error as error:
        return f"{process.pid} ({error})"


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
