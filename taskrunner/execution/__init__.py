"""One attempt in this process: execute, command wait, clean call, capture, slot fill, memory
watch, direct exec, call values, log files. Imports only the ground."""
