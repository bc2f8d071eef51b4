"""One attempt run in this process: commands and calls, outcomes and logs."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from conftest import ignored_signals_mask
from taskrunner.execution.capture import read_tail
from taskrunner.execution.execute import execute
from taskrunner.model import Attempt, Job, Status

pytestmark = [pytest.mark.timeout(30), pytest.mark.usefixtures("no_leftovers")]


def run(tmp_path: Path, **fields: object):
    job = Job(name="j", base_dir=str(tmp_path), **fields)  # type: ignore[arg-type]
    return execute(Attempt(1, job, 1, str(tmp_path / "j.out"), str(tmp_path / "j.err")), worker="test")


def test_shell_command_ok_with_output_in_logs(tmp_path: Path) -> None:
    result = run(tmp_path, run="echo out; echo err >&2")
    assert (result.status, result.returncode, result.error) == (Status.OK, 0, None)
    assert (tmp_path / "j.out").read_text() == "out\n"
    assert result.stderr_tail == "err"
    assert result.duration is not None and result.duration >= 0 and result.worker == "test"


def test_failing_command_records_status_and_tail(tmp_path: Path) -> None:
    result = run(tmp_path, run="for i in $(seq 1 50); do echo line$i >&2; done; exit 3")
    assert (result.status, result.returncode) == (Status.FAILED, 3)
    assert result.error == "exited with status 3"
    assert result.stderr_tail is not None and result.stderr_tail.splitlines() == [f"line{i}" for i in range(31, 51)]


def test_argv_is_not_interpreted_by_a_shell(tmp_path: Path) -> None:
    result = run(tmp_path, run=["echo", "$HOME", "a;b"])
    assert result.ok and (tmp_path / "j.out").read_text() == "$HOME a;b\n"


def test_missing_command_fails_cleanly(tmp_path: Path) -> None:
    result = run(tmp_path, run=["no-such-command-xyz"])
    assert result.status is Status.FAILED and result.returncode == 127
    assert "cannot start command" in (result.error or "")


def test_missing_cwd_fails_cleanly(tmp_path: Path) -> None:
    result = run(tmp_path, run="true", cwd="does/not/exist")
    assert result.status is Status.FAILED and "working directory" in (result.error or "")


def test_env_and_relative_cwd(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    result = run(tmp_path, run='echo "$GREETING $(pwd)"', env={"GREETING": "hi"}, cwd="sub")
    assert result.ok and (tmp_path / "j.out").read_text() == f"hi {tmp_path / 'sub'}\n"


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "grandchild.pid"
    started = time.monotonic()
    result = run(tmp_path, run=f"sh -c 'sleep 60 & echo $! > {pidfile}; wait'", timeout=0.5)
    assert result.status is Status.TIMEOUT and "timed out after 0.5s" in (result.error or "")
    assert time.monotonic() - started < 10
    assert not alive(int(pidfile.read_text()))


def alive(pid: int) -> bool:
    """True if ``pid`` runs (a zombie waiting to be reaped does not count)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_timeout_escalates_to_sigkill_when_sigterm_is_ignored(tmp_path: Path) -> None:
    started = time.monotonic()
    result = run(tmp_path, run="trap '' TERM; sleep 30", timeout=0.3)
    assert result.status is Status.TIMEOUT
    assert time.monotonic() - started < 10


def test_call_returns_json_value(tmp_path: Path) -> None:
    result = run(tmp_path, call="jobs:echo", args=(1, "two"), kwargs={"k": [3]})
    assert result.ok and result.value == {"args": [1, "two"], "kwargs": {"k": [3]}}


def test_call_output_goes_to_logs_and_is_restored(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    result = run(tmp_path, call="jobs:print_both", args=("x",))
    assert result.ok and result.value == "x"
    assert (tmp_path / "j.out").read_text() == "out: x\n"
    assert result.stderr_tail == "err: x"
    print("after")
    assert capfd.readouterr().out == "after\n"


def test_a_silent_job_leaves_no_log_files(tmp_path: Path) -> None:
    for fields in ({"call": "jobs:add", "args": (1, 2)}, {"run": "true"}):
        result = run(tmp_path, **fields)
        assert result.ok and (result.stdout_log, result.stderr_log, result.stderr_tail) == (None, None, None)
        assert not (tmp_path / "j.out").exists() and not (tmp_path / "j.err").exists()


def test_each_call_gets_only_its_own_output(tmp_path: Path) -> None:
    """Calls share a process's scratch files: output, also written below
    Python's streams, must land in the right job's log and nowhere else."""
    logs = []
    for i, (fd, text) in enumerate([(1, "first\n"), (2, "second\n"), (1, "third\n")]):
        attempt = Attempt(i, Job(name=f"j{i}", call="jobs:write_fd", args=(fd, text)), 1,
                          str(tmp_path / f"{i}.out"), str(tmp_path / f"{i}.err"))
        result = execute(attempt, worker="test")
        logs.append((result.stdout_log, result.stderr_log, result.stderr_tail))
    assert logs == [
        (str(tmp_path / "0.out"), None, None),
        (None, str(tmp_path / "1.err"), "second"),
        (str(tmp_path / "2.out"), None, None),
    ]
    assert (tmp_path / "0.out").read_text() == "first\n" and (tmp_path / "2.out").read_text() == "third\n"


def test_a_call_that_changes_the_environment_does_not_leak_it(tmp_path: Path) -> None:
    run(tmp_path, call="jobs:set_env", args=("TR_TEST_LEAK", "1"))
    assert "TR_TEST_LEAK" not in os.environ


def test_call_exception_becomes_text(tmp_path: Path) -> None:
    result = run(tmp_path, call="jobs:fail", args=("nope",))
    assert result.status is Status.FAILED and result.value is None
    assert result.error is not None
    assert "Traceback" in result.error and result.error.rstrip().endswith("ValueError: nope")


def test_call_import_error_is_a_failure(tmp_path: Path) -> None:
    result = run(tmp_path, call="no_such_module_xyz:f")
    assert result.status is Status.FAILED and "ModuleNotFoundError" in (result.error or "")


def test_call_module_next_to_job_file_imports(tmp_path: Path) -> None:
    (tmp_path / "local_tasks_xyz.py").write_text("def f():\n    return 42\n")
    assert run(tmp_path, call="local_tasks_xyz:f").value == 42


def test_call_env_and_cwd_are_applied_then_restored(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    before = (os.getcwd(), os.environ.get("TR_TEST_X"))
    result = run(tmp_path, call="jobs:env_and_cwd", args=("TR_TEST_X",), env={"TR_TEST_X": "1"}, cwd="d")
    assert result.value == {"value": "1", "cwd": str(tmp_path / "d")}
    assert (os.getcwd(), os.environ.get("TR_TEST_X")) == before


def test_non_json_value_is_recorded_as_repr(tmp_path: Path) -> None:
    result = run(tmp_path, call="jobs:generator")
    assert result.ok and isinstance(result.value, str) and result.value.startswith("<generator object")


def test_huge_value_is_not_recorded(tmp_path: Path) -> None:
    result = run(tmp_path, call="jobs:big_value", args=(2,))
    assert result.ok and result.value is None and "not recorded" in (result.error or "")


def test_system_exit_in_a_call_is_a_failure(tmp_path: Path) -> None:
    result = run(tmp_path, call="sys:exit", args=(4,))
    assert result.status is Status.FAILED and "SystemExit: 4" in (result.error or "")


def test_read_tail_of_missing_or_empty_file(tmp_path: Path) -> None:
    assert read_tail(str(tmp_path / "missing")) is None
    (tmp_path / "empty").write_text("")
    assert read_tail(str(tmp_path / "empty")) is None


def test_commands_keep_the_signal_dispositions_they_are_given(tmp_path: Path) -> None:
    # Running a command adds no ignored signal and removes none: it ignores
    # INT/TERM/HUP exactly when this process does (e.g. under nohup).
    result = run(tmp_path, run="grep SigIgn /proc/self/status")
    ours = ignored_signals_mask(Path("/proc/self/status").read_text())
    assert result.ok and ignored_signals_mask((tmp_path / "j.out").read_text()) == ours
