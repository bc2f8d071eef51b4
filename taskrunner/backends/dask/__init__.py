"""The Dask backend: ``backend`` (the coordinator's side), ``connect`` (the
cluster, its dashboard, its workers), ``onworker`` (what runs on a Dask
worker), ``callchild``/``callserver`` (the process a worker runs calls in),
``logshome`` (logs brought back to the coordinator)."""

from .backend import DaskBackend, require_dask
from .connect import check_scheduler

__all__ = ["DaskBackend", "check_scheduler", "require_dask"]
