"""Where attempts run: the ``Backend`` interface, ``local/`` (the design card's pool), Dask, in-process,
and what they share. Imports execution and the ground."""
