"""The queue and the packet pipe under the local pool: the only code that
reaches into CPython's ``multiprocessing`` internals (a Queue's reader and
writer, a JoinableQueue's condition), so a CPython change lands here only."""
