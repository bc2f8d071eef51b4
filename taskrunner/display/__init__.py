"""What people see: progress and summary, the timeline page, names printed as shell words.
Imports results and the ground."""
