"""Side-by-side timings of taskrunner and its peers, run by hand.

    apt-get install parallel          # GNU parallel (xargs is in findutils)
    pip install joblib                # the Python peer with auto-batching
    pip install '.[dask]'             # for the dask workload
    python benchmarks/compare.py [--reps 5] [--only shell,spawn,calls,python,executor,startup,cpu,scale,report,builds,resume,dask]

Each workload runs taskrunner and every peer in the same process, alternating,
``--reps`` times; it prints the median wall time of each and the ratio
taskrunner / peer (below 1.0: taskrunner is faster). Start-up is included.
"""

from __future__ import annotations

import argparse
import compileall
import concurrent.futures
import dataclasses
import functools
import importlib.util
import logging
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_tasks import burn, noop
from file_workloads import builds_workload, resume_workload
from spawn_cost import spawn_workload

import taskrunner


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def compare(title: str, contenders: dict[str, Callable[[], object]], reps: int) -> None:
    """Run every contender ``reps`` times, alternating; print medians and ratios."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(reps):
        for name, action in contenders.items():
            times[name].append(timed(action))
    ours = statistics.median(times["taskrunner"])
    print(f"\n{title}")
    for name, samples in times.items():
        median = statistics.median(samples)
        ratio = "" if name == "taskrunner" else f"  taskrunner/{name} = {ours / median:.2f}x"
        print(f"  {name:<28} {median:8.3f} s{ratio}")


def write_job_file(path: str, count: int, job: str) -> str:
    """A job file of ``count`` jobs; ``job`` is a flow mapping with ``{i}`` for the index."""
    with open(path, "w") as handle:
        handle.write("jobs:\n" + "".join("  - " + job.replace("{i}", str(i)) + "\n" for i in range(count)))
    return path


def taskrunner_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "taskrunner", *args]


def shell_workload(reps: int, scratch: str) -> None:
    count = 2000
    # `true {i}`: xargs -n 1 and parallel pass each line as an argument, and
    # coreutils' true given one argument sets up its locale (some 180 µs):
    # every contender runs the same command lines.
    job_file = write_job_file(os.path.join(scratch, "true.yaml"), count, '{name: t{i}, run: "true {i}"}')
    numbers = "\n".join(str(i) for i in range(count)) + "\n"
    contenders: dict[str, Callable[[], object]] = {
        "taskrunner": lambda: subprocess.run(
            taskrunner_command("run", job_file, "-w", "2", "--no-progress",
                               "--results", os.path.join(scratch, "r.jsonl"), "--log-dir", os.path.join(scratch, "logs")),
            check=True, capture_output=True, cwd=REPO,
        ),
        "xargs -P 2 -n 1 true": lambda: subprocess.run(
            ["xargs", "-P", "2", "-n", "1", "true"], input=numbers, text=True, check=True
        ),
    }
    if shutil.which("parallel"):
        contenders["parallel -j2 true"] = lambda: subprocess.run(
            ["parallel", "-j2", "true"], input=numbers, text=True, check=True, capture_output=True
        )
    compare(f"Shell: {count} jobs of `true N`, 2 workers (whole command)", contenders, reps)


def exec_workload(reps: int, scratch: str) -> None:
    """``taskrunner exec true ::: 1..2000`` against parallel and xargs given the same list."""
    count = 2000
    values = [str(i) for i in range(1, count + 1)]
    lines = "\n".join(values) + "\n"
    contenders: dict[str, Callable[[], object]] = {
        "taskrunner": lambda: subprocess.run(
            taskrunner_command("exec", "-j", "2", "--no-progress", "--results", os.path.join(scratch, "e.jsonl"),
                               "--log-dir", os.path.join(scratch, "elogs"), "--", "true", ":::", *values),
            check=True, capture_output=True, cwd=REPO,
        ),
        "xargs -P 2 -n 1 true": lambda: subprocess.run(
            ["xargs", "-P", "2", "-n", "1", "true"], input=lines, text=True, check=True
        ),
    }
    if shutil.which("parallel"):
        contenders["parallel -j2 true ::: ..."] = lambda: subprocess.run(
            ["parallel", "-j2", "true", ":::", *values], text=True, check=True, capture_output=True
        )
    compare(f"Exec: `exec -j2 true ::: 1..{count}` (whole command)", contenders, reps)


def python_workload(reps: int, scratch: str) -> None:
    count = 20_000
    jobs = [taskrunner.Job(name=f"n{i}", call=noop, args=(i,)) for i in range(count)]

    def ours() -> None:
        report = taskrunner.run(jobs, workers=2, progress=False, results=os.path.join(scratch, "p.jsonl"),
                                log_dir=os.path.join(scratch, "plogs"))
        assert report.ok, [(r.name, r.status.value, r.error) for r in report if not r.ok][:3]

    def executor() -> None:
        with concurrent.futures.ProcessPoolExecutor(2) as pool:
            list(pool.map(noop, range(count)))

    def mp_pool() -> None:
        with multiprocessing.get_context("forkserver").Pool(2) as pool:
            list(pool.imap_unordered(noop, range(count)))

    contenders: dict[str, Callable[[], object]] = {
        "taskrunner": ours, "ProcessPoolExecutor(2).map": executor, "Pool(2).imap_unordered": mp_pool,
    }
    try:
        import joblib

        contenders["joblib.Parallel(n_jobs=2)"] = lambda: joblib.Parallel(n_jobs=2)(
            joblib.delayed(noop)(i) for i in range(count)
        )
    except ImportError:
        print("(joblib not installed: pip install joblib)")
    compare(f"Python calls: {count} calls of a trivial function, 2 workers", contenders, reps)


#: The executor workload's scripts: each a whole program, so start-up (the
#: interpreter, imports, the workers) counts for every contender alike.
EXECUTOR_SCRIPTS = {
    "taskrunner": """
import taskrunner
if __name__ == "__main__":
    with taskrunner.Executor(2) as executor:
        assert len(list(executor.map(noop, range(COUNT)))) == COUNT
""",
    "ProcessPoolExecutor(2).map": """
import concurrent.futures
if __name__ == "__main__":
    with concurrent.futures.ProcessPoolExecutor(2) as executor:
        assert len(list(executor.map(noop, range(COUNT)))) == COUNT
""",
    "joblib.Parallel(n_jobs=2)": """
import joblib
if __name__ == "__main__":
    assert len(joblib.Parallel(n_jobs=2)(joblib.delayed(noop)(i) for i in range(COUNT))) == COUNT
""",
}


#: The same, with ``taskrunner.run`` of 20,000 ``Job``s (every result recorded:
#: a results file, logs, a report).
RUN_SCRIPTS = {
    **EXECUTOR_SCRIPTS,
    "taskrunner": """
import taskrunner
if __name__ == "__main__":
    jobs = [taskrunner.Job(name=f"n{i}", call=noop, args=(i,)) for i in range(COUNT)]
    assert taskrunner.run(jobs, workers=2, progress=False, results="run.jsonl", log_dir="runlogs").ok
""",
}


def executor_workload(reps: int, scratch: str) -> None:
    """``Executor.map`` against its peers, each a fresh script (a warm
    joblib, reusing its workers within one process, would not pay start-up)."""
    script_workload(f"Executor: list(map(noop, range({COUNT}))), 2 workers (whole script)", EXECUTOR_SCRIPTS,
                    reps, scratch)


def calls_workload(reps: int, scratch: str) -> None:
    """``taskrunner.run`` of trivial call jobs against the same peers, whole scripts."""
    script_workload(f"Calls: run() of {COUNT} Jobs calling noop, 2 workers (whole script)", RUN_SCRIPTS, reps, scratch)


COUNT = 20_000


def script_workload(title: str, scripts: dict[str, str], reps: int, scratch: str) -> None:
    """Each of ``scripts`` (COUNT stands for the number of calls) as a fresh process."""
    count = COUNT
    contenders: dict[str, Callable[[], object]] = {}
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([REPO, os.path.dirname(os.path.abspath(__file__))])}
    for name, body in scripts.items():
        if name.startswith("joblib") and importlib.util.find_spec("joblib") is None:
            print("(joblib not installed: pip install joblib)")
            continue
        script = os.path.join(scratch, f"executor_{len(contenders)}.py")
        with open(script, "w") as handle:
            handle.write("from bench_tasks import noop\n" + body.replace("COUNT", str(count)))
        contenders[name] = lambda s=script: subprocess.run([sys.executable, s], check=True, env=env, cwd=scratch)
    compare(title, contenders, reps)


def startup_workload(reps: int, scratch: str) -> None:
    """A one-job run, whole command: what every short invocation pays."""
    job_file = write_job_file(os.path.join(scratch, "one.yaml"), 1, '{name: one, run: "true"}')
    contenders: dict[str, Callable[[], object]] = {
        "taskrunner": lambda: subprocess.run(
            taskrunner_command("run", job_file, "--no-progress", "--results", os.path.join(scratch, "one.jsonl"),
                               "--log-dir", os.path.join(scratch, "onelogs")),
            check=True, capture_output=True, cwd=REPO,
        ),
    }
    if shutil.which("parallel"):
        contenders["parallel true ::: 1"] = lambda: subprocess.run(
            ["parallel", "true", ":::", "1"], check=True, capture_output=True
        )
    # The floors under a run: a bare interpreter, and one that only imports
    # the libraries every `run` needs (its CLI, its job file, its pool).
    for name, code in (("python + library imports", "import click, yaml, msgspec, multiprocessing.connection"),
                       ("python -c pass", "pass")):
        contenders[name] = functools.partial(
            subprocess.run, [sys.executable, "-c", code], check=True, capture_output=True
        )
    compare("Start-up: a one-job run (whole command)", contenders, reps)


def report_workload(reps: int, scratch: str) -> None:
    """``taskrunner report`` of a 200,000-line results file, against a bare
    ``json.loads`` of every line (both whole commands: a Python start each)."""
    sys.path.insert(0, REPO)
    from taskrunner.model import JobResult, Status
    from taskrunner.results.journal import result_line

    path = os.path.join(scratch, "report.jsonl")
    with open(path, "w") as handle:
        for number in range(200_000):
            began = 1.8e9 + number * 0.001
            handle.write(result_line(JobResult(
                f"job-{number}", Status.OK, returncode=0, attempts=1, started=began, finished=began + 0.002,
                duration=0.002, worker=f"w{number % 8 + 1}-{4000 + number % 8}", job_hash="0123456789abcdef",
                max_rss=18_000_000, history=((began, began + 0.002, f"w{number % 8 + 1}-{4000 + number % 8}", "ok"),))))
    bare = "import json, sys\nwith open(sys.argv[1], 'rb') as f:\n    rows = [json.loads(line) for line in f]"
    compare("report of a 200,000-line results file (whole command)", {
        "taskrunner": lambda: subprocess.run(taskrunner_command("report", path), check=True, capture_output=True),
        "json.loads of every line": lambda: subprocess.run([sys.executable, "-c", bare, path], check=True,
                                                           capture_output=True),
    }, reps)


def cpu_workload(reps: int, scratch: str) -> None:
    seconds = 0.5
    jobs = [taskrunner.Job(name=f"c{i}", call=burn, args=(seconds,)) for i in range(16)]
    results = {}
    for workers in (1, 2):
        samples = [
            timed(lambda w=workers: taskrunner.run(jobs, workers=w, progress=False,
                                                   results=os.path.join(scratch, "c.jsonl"),
                                                   log_dir=os.path.join(scratch, "clogs")))
            for _ in range(max(1, reps // 2))
        ]
        results[workers] = statistics.median(samples)
    print(f"\nCPU-bound: 16 calls of ~{seconds}s")
    print(f"  1 worker {results[1]:.2f} s, 2 workers {results[2]:.2f} s: speed-up {results[1] / results[2]:.2f}")


def critical_workload(reps: int, scratch: str) -> None:
    """A DAG where file order is the worst order: six independent 0.4 s jobs
    first, then a chain of four. Critical path first starts the chain at once
    (the other worker takes the independent jobs); file order runs the chain
    alone at the end. File order is forced with descending priorities."""
    sleep = 0.4

    def dag(file_order: bool) -> list[taskrunner.Job]:
        jobs = [taskrunner.Job(name=f"free-{i}", run=f"sleep {sleep}") for i in range(6)]
        jobs += [taskrunner.Job(name=f"chain-{i}", run=f"sleep {sleep}", depends_on=[f"chain-{i - 1}"] if i else [])
                 for i in range(4)]
        if file_order:
            jobs = [dataclasses.replace(job, priority=len(jobs) - n) for n, job in enumerate(jobs)]
        return jobs

    def run(jobs: list[taskrunner.Job]) -> None:
        taskrunner.run(jobs, workers=2, progress=False, results=os.path.join(scratch, "dag.jsonl"),
                       log_dir=os.path.join(scratch, "daglogs"))

    compare("DAG: 6 independent jobs then a chain of 4 (0.4 s each), 2 workers",
            {"taskrunner": lambda: run(dag(False)), "taskrunner, file order": lambda: run(dag(True))}, reps)


def scale_workload(reps: int, scratch: str) -> None:
    count = 50_000
    job_file = write_job_file(os.path.join(scratch, "big.yaml"), count, '{name: j{i}, run: "true", tags: [nightly]}')
    print(f"\nScale: a {count}-job file")
    for command in (["list", job_file], ["run", job_file, "--dry-run"]):
        seconds = statistics.median(
            timed(lambda c=command: subprocess.run(taskrunner_command(*c), check=True, capture_output=True, cwd=REPO))
            for _ in range(reps)
        )
        print(f"  taskrunner {command[0]}{' --dry-run' if len(command) > 2 else ''}: {seconds:.2f} s")
    if not os.path.exists("/usr/bin/time"):
        print("  (the rest needs GNU time: apt-get install time)")
        return
    matrix = os.path.join(scratch, "matrix1m.yaml")
    with open(matrix, "w") as handle:
        handle.write('jobs:\n  - {name: "j{n}", run: "echo {n}", matrix: {n: {range: [0, 1000000]}}}\n')
    for command in (["validate", matrix], ["list", "--json", matrix]):
        seconds, peak = measured(taskrunner_command(*command, "--max-jobs", "1000000"))
        print(f"  1,000,000-value range matrix, {' '.join(command[:-1])}: {seconds:.1f} s, peak {peak}")
    runs = {
        "100,000 call jobs written out in the file": write_job_file(
            os.path.join(scratch, "big100k.yaml"), 100_000, '{name: j{i}, call: "os:getpid"}'),
        "100,000 call jobs from a range matrix": call_matrix(os.path.join(scratch, "calls100k.yaml"), 100_000),
        "1,000,000 call jobs from a range matrix": call_matrix(os.path.join(scratch, "calls1m.yaml"), 1_000_000),
        "1,000,000 call jobs with args [\"{n}\"]": call_matrix(os.path.join(scratch, "args1m.yaml"), 1_000_000,
                                                               'call: "builtins:abs", args: ["{n}"]'),
    }
    for label, job_file in runs.items():
        seconds, peak = measured(taskrunner_command(
            "run", job_file, "-w", "2", "--no-progress", "--max-jobs", "1000000",
            "--results", os.path.join(scratch, "b.jsonl"), "--log-dir", os.path.join(scratch, "blogs")))
        os.remove(os.path.join(scratch, "b.jsonl"))
        print(f"  {label}, run on 2 workers: {seconds:.1f} s, coordinator peak {peak}")


def call_matrix(path: str, count: int, call: str = 'call: "os:getpid"') -> str:
    """A job file of one ``call`` job expanded to ``count`` jobs by a range matrix."""
    with open(path, "w") as handle:
        handle.write(f'jobs:\n  - {{name: "j{{n}}", {call}, matrix: {{n: {{range: [0, {count}]}}}}}}\n')
    return path


def measured(command: list[str]) -> tuple[float, str]:
    """Wall seconds and peak resident size (GNU time's, of the process itself:
    workers are far smaller) of ``command``, its output thrown away."""
    start = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-f", "%M", *command], cwd=REPO, check=True,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    return seconds, f"{int(done.stderr.split()[-1]) / 1024:.0f} MB"


def dask_workload(reps: int, scratch: str) -> None:
    """Per-job overhead on Dask: taskrunner's Dask backend against bare
    ``Client.submit`` + ``gather``, both on one 2-worker cluster, both
    connecting a client each time."""
    try:
        import distributed
    except ImportError:
        print("\n(Dask not installed: pip install 'taskrunner[dask]')")
        return
    count = 1000
    jobs = [taskrunner.Job(name=f"d{i}", call=noop, args=(i,)) for i in range(count)]
    quiet = {"silence_logs": logging.CRITICAL, "dashboard_address": None}
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, **quiet) as cluster:
        address = cluster.scheduler_address

        def ours() -> None:
            report = taskrunner.run(jobs, workers=2, backend="dask", scheduler=address, progress=False,
                                    results=os.path.join(scratch, "d.jsonl"), log_dir=os.path.join(scratch, "dlogs"))
            assert report.ok

        def bare() -> None:
            with distributed.Client(address, set_as_default=False) as client:
                futures = [client.submit(noop, i, pure=False) for i in range(count)]
                client.gather(futures)

        compare(f"Dask: {count} calls of a trivial function on a 2-worker cluster",
                {"taskrunner": ours, "Client.submit + gather": bare}, reps)


WORKLOADS = {
    "shell": shell_workload, "python": python_workload, "cpu": cpu_workload, "scale": scale_workload,
    "dask": dask_workload, "exec": exec_workload, "critical": critical_workload, "executor": executor_workload,
    "startup": startup_workload, "spawn": spawn_workload, "calls": calls_workload, "report": report_workload,
    "builds": lambda reps, scratch: builds_workload(reps, scratch, compare, taskrunner_command),
    "resume": lambda reps, scratch: resume_workload(reps, scratch, compare, taskrunner_command),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--only", default=",".join(WORKLOADS), help="comma-separated: " + ",".join(WORKLOADS))
    args = parser.parse_args()
    # Compiled bytecode, as an installed taskrunner (and every peer) has: with
    # PYTHONDONTWRITEBYTECODE set, a source checkout recompiles its modules in
    # every command it starts (some 0.1 s).
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    compileall.compile_dir(os.path.join(REPO, "taskrunner"), quiet=1)
    print(f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, {args.reps} repetitions (medians)")
    with tempfile.TemporaryDirectory() as scratch:
        for name in args.only.split(","):
            WORKLOADS[name](args.reps, scratch)


if __name__ == "__main__":
    main()
