"""The ``concurrent.futures`` front door: ``Executor``, its loop, ``map`` results, its results file.
Imports engine (pre-run checks), backends, execution, results and the ground."""
