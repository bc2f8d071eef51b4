"""Two checkouts of taskrunner side by side on the same workloads.

    git worktree add /tmp/before HEAD~1
    python benchmarks/ab.py /tmp/before . [--reps 7] [--only shell,long,calls]

Each workload's job file runs with ``python -m taskrunner run FILE -j 2``
from each checkout in turn (alternating, ``--reps`` times); it prints the
median wall time of each and the ratio after / before. For changes to the
engine that no peer can judge (issue 27's last-moment dispatch: a worker
gets a long job only when it is free).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

WORKLOADS = {
    # 2,000 commands of about a millisecond: chunked, queued ahead (`true N`,
    # as xargs -n 1 runs it, for numbers comparable with compare.py's).
    "shell": "jobs:\n  - {name: 't{n}', run: 'true {n}', matrix: {n: {range: [0, 2000]}}}\n",
    # 300 commands of 20 ms: each handed out when a worker is free.
    "long": "jobs:\n  - {name: 's{n}', run: 'sleep 0.02', matrix: {n: {range: [0, 300]}}}\n",
    # 5,000 calls of a trivial function.
    "calls": "jobs:\n  - {name: 'c{n}', call: 'math:sqrt', args: ['{n}'], matrix: {n: {range: [0, 5000]}}}\n",
}


def run(checkout: str, job_file: str, scratch: str) -> float:
    env = {**os.environ, "PYTHONPATH": os.path.abspath(checkout)}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "taskrunner", "run", job_file, "-j", "2", "--no-progress",
                    "--results", os.path.join(scratch, "r.jsonl")], env=env, cwd=scratch, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--only", default=",".join(WORKLOADS))
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, {args.reps} repetitions (medians)")
    for name in args.only.split(","):
        with tempfile.TemporaryDirectory() as scratch:
            job_file = os.path.join(scratch, "jobs.yaml")
            with open(job_file, "w") as out:
                out.write(WORKLOADS[name])
            times: dict[str, list[float]] = {"before": [], "after": []}
            for _ in range(args.reps):
                for label in ("before", "after"):
                    times[label].append(run(getattr(args, label), job_file, scratch))
            before, after = (statistics.median(times[label]) for label in ("before", "after"))
            print(f"{name:6s} before {before:.3f}s  after {after:.3f}s  after/before {after / before:.3f}")


if __name__ == "__main__":
    main()
