"""The installed version, read from the distribution's metadata.

The distribution is ``taskrunner-jobs`` (``taskrunner`` on the public index
is another project); the import name and the command stay ``taskrunner``.

    >>> __version__.count(".") >= 1
    True
"""

from __future__ import annotations

from importlib import metadata

__all__ = ["DISTRIBUTION", "__version__"]

DISTRIBUTION = "taskrunner-jobs"

try:
    __version__ = metadata.version(DISTRIBUTION)
except metadata.PackageNotFoundError:  # run from a source tree that is not installed
    __version__ = "0+unknown"
