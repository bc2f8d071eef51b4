"""The Dask backend: ``backend`` (the coordinator's side), ``onworker`` (what
runs on a Dask worker)."""

from .backend import DaskBackend, require_dask

__all__ = ["DaskBackend", "require_dask"]
