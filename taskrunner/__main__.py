"""``python -m taskrunner``: the same as the ``taskrunner`` command."""

from .cli import main

main()
