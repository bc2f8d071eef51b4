"""The results file: journal, line codec, store, lock, resume, retention, report.
Imports only the ground."""
