"""The run: runner, run loop, plan (pure), options, selection, freshness, pre-run checks.
Imports display, backends, execution, results and the ground."""
