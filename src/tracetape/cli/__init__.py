"""The ``tracetape`` command line: one module per verb, dispatched by `main`."""
