"""``python -m taskrunner``: the same as the ``taskrunner`` command."""

from .entry import main

main()
