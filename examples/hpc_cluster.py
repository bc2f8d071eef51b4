"""Run a job file on an HPC cluster: Dask workers as Slurm jobs, taskrunner on top.

    pip install '.[dask]' dask-jobqueue
    python examples/hpc_cluster.py jobs.example.yaml --workers 8            # Slurm
    python examples/hpc_cluster.py jobs.example.yaml --workers 2 --local    # try it here

Each Dask worker is one Slurm job (dask-jobqueue's ``SLURMCluster``; for PBS,
SGE, LSF or HTCondor use its ``PBSCluster``, ``SGECluster``, ...). Any
``distributed.deploy.Cluster`` works the same way (dask-kubernetes,
dask-cloudprovider), and so does a ``distributed.Client``. The cluster stays
the caller's: taskrunner does not close it.

The workers need taskrunner (and the modules that ``call`` jobs name)
installed; what jobs print comes back to this machine's log folder, so no
shared file system is needed for logs (``cwd`` and the job file's folder, for
``call`` imports, must still exist on the workers).
"""

from __future__ import annotations

import argparse
import sys

import taskrunner
from taskrunner import load_jobs


def start_cluster(workers: int, local: bool) -> object:
    """A cluster of ``workers`` single-threaded Dask workers."""
    if local:
        from distributed import LocalCluster

        return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True)
    from dask_jobqueue import SLURMCluster  # pip install dask-jobqueue

    cluster = SLURMCluster(
        cores=1,             # one thread per worker: each runs one job at a time
        processes=1,
        memory="4GB",        # what each Slurm job asks for
        walltime="02:00:00",
        # queue="normal", account="myproject", job_extra_directives=["--gres=gpu:1"],
    )
    cluster.scale(jobs=workers)  # submits the Slurm jobs; the run waits for them to start
    return cluster


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("job_file")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--local", action="store_true", help="a LocalCluster here instead of Slurm")
    options = parser.parse_args()
    cluster = start_cluster(options.workers, options.local)
    try:
        # scheduler= takes the cluster object (or a distributed.Client, or an
        # address): the run prints the dashboard's address, and says so while
        # no worker has connected yet (Slurm jobs may wait in the queue).
        report = taskrunner.run(load_jobs(options.job_file), backend="dask", scheduler=cluster)
    finally:
        cluster.close()  # type: ignore[attr-defined]
    print(f"{len(report.results)} jobs: {dict(report.counts)}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
