"""The job file: YAML to validated ``Job`` values (reader, YAML nodes, matrix, shell values and their
scanner, inputs and globs, env files). Imports the engine (its dependency rule) and the ground."""
