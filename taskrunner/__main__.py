"""``python -m taskrunner``: the same as the ``taskrunner`` command."""

from .cli.entry import main

main()
