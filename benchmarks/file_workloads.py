"""Workloads of ``compare.py`` that read and write many files: a no-op
rebuild against make, and ``--resume`` of a run whose every job is kept."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable

#: The no-op rebuild's trees: objects, each reading its source and every header.
BUILD_SIZES = (35, 315, 1015, 3010)

MAKEFILE = """\
SRCS := $(wildcard src/*.c)
OBJS := $(SRCS:src/%.c=obj/%.o)
HDRS := $(wildcard include/*.h)
lib.a: $(OBJS)
\tcat $(OBJS) > lib.a
obj/%.o: src/%.c $(HDRS)
\tcp $< $@
"""

JOB_FILE = """\
jobs:
  - name: "cc-{{i}}"
    run: "cp src/c{{i}}.c obj/c{{i}}.o"
    matrix: {{i: {{range: [0, {count}]}}}}
    inputs: ["src/c{{i}}.c", "include/*.h"]
    outputs: "obj/c{{i}}.o"
  - name: link
    run: "cat obj/*.o > lib.a"
    inputs: "obj/*.o"
    outputs: lib.a
"""


def source_tree(folder: str, count: int) -> str:
    """A library of ``count`` sources and ``count`` headers, with a Makefile and a job file."""
    for sub in ("src", "include", "obj"):
        os.makedirs(os.path.join(folder, sub))
    for number in range(count):
        for path in (f"src/c{number}.c", f"include/h{number}.h"):
            with open(os.path.join(folder, path), "w") as handle:
                handle.write(f"/* {number} */\n")
    with open(os.path.join(folder, "Makefile"), "w") as handle:
        handle.write(MAKEFILE)
    with open(os.path.join(folder, "jobs.yaml"), "w") as handle:
        handle.write(JOB_FILE.format(count=count))
    return folder


def builds_workload(reps: int, scratch: str, compare: Callable[..., None], command: Callable[..., list[str]]) -> None:
    """A no-op rebuild (everything up to date) of trees of 35 to 3,010
    objects that all read a header glob, against make's no-op of the same tree."""
    if not shutil.which("make"):
        print("\n(builds: make is not installed)")
        return
    for count in BUILD_SIZES:
        ours = source_tree(os.path.join(scratch, f"build{count}-taskrunner"), count)
        theirs = source_tree(os.path.join(scratch, f"build{count}-make"), count)
        ours_command = command("run", "jobs.yaml", "--no-progress", "-w", "2")
        subprocess.run(ours_command, cwd=ours, check=True, capture_output=True)  # the first (real) build
        subprocess.run(["make", "-s", "-j2"], cwd=theirs, check=True, capture_output=True)
        compare(f"No-op rebuild of {count} objects sharing a header glob, and a link (whole command)", {
            "taskrunner": lambda command=ours_command, folder=ours: _no_op(command, folder),
            "make": lambda folder=theirs: _no_op(["make", "-s", "-j2"], folder),
        }, reps)


def _no_op(command: list[str], folder: str) -> None:
    done = subprocess.run(command, cwd=folder, check=True, capture_output=True, text=True)
    said = done.stderr.splitlines()[0] if done.stderr else ""
    if command[0] != "make" and not said.endswith(" uptodate"):  # ("36 jobs in 0.0s: 36 uptodate")
        raise RuntimeError(f"taskrunner rebuilt something: {said}")


#: The resume workload's jobs: a command, and a call with an argument (its
#: hash text has the argument in it).
RESUME_JOBS = {
    "commands": '{name: "j{n}", run: "true", matrix: {n: {range: [0, 100000]}}}',
    "calls with args": '{name: "c{n}", call: "operator:truth", args: ["{n}"], matrix: {n: {range: [0, 100000]}}}',
}


def resume_workload(reps: int, scratch: str, compare: Callable[..., None], command: Callable[..., list[str]]) -> None:
    """``run --resume`` of a 100,000-job range matrix whose every job is kept,
    against ``validate`` of the same file (reading it is the floor)."""
    for number, (what, job) in enumerate(RESUME_JOBS.items()):
        job_file = os.path.join(scratch, f"resume100k-{number}.yaml")
        with open(job_file, "w") as handle:
            handle.write(f"jobs:\n  - {job}\n")
        results = os.path.join(scratch, f"resume100k-{number}.jsonl")
        run = command("run", job_file, "--no-progress", "--max-jobs", "100000", "--results", results,
                      "--log-dir", os.path.join(scratch, f"resume-logs-{number}"))
        subprocess.run(run, check=True, capture_output=True)
        compare(f"--resume of a 100,000-job matrix of {what}, all kept (whole command)", {
            "taskrunner": lambda run=run: subprocess.run([*run, "--resume"], check=True, capture_output=True),
            "validate": lambda job_file=job_file: subprocess.run(
                command("validate", job_file, "--max-jobs", "100000"), check=True, capture_output=True),
        }, reps)


if __name__ == "__main__":
    sys.exit("run it through compare.py: --only builds,resume")
