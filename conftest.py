"""pytest configuration for the repository root (doctests in taskrunner/)."""

# Importing it makes the importing process ignore SIGTERM and SIGHUP: it is
# meant for multiprocessing's fork server only, never for the test process.
collect_ignore = ["taskrunner/backends/local/forkserver_setup.py"]
