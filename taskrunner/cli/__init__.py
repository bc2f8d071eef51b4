"""The command line: click commands, ``exec``, what ``run`` and ``exec`` share, the entry point.
Imports every other wing; nothing imports it."""
