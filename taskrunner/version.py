"""The installed version, read from the distribution's metadata when first asked.

The distribution is ``taskrunner-jobs`` (``taskrunner`` on the public index
is another project); the import name and the command stay ``taskrunner``.
``__version__`` is looked up on first use: reading the metadata costs some
15 ms that a command's start-up does not need.

    >>> __version__.count(".") >= 1
    True
"""

from __future__ import annotations

__all__ = ["DISTRIBUTION", "__version__"]

__version__: str  # looked up by the module __getattr__ below

DISTRIBUTION = "taskrunner-jobs"


def __getattr__(name: str) -> str:
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import metadata

    try:
        version = metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:  # run from a source tree that is not installed
        version = "0+unknown"
    globals()["__version__"] = version
    return version
