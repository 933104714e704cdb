"""The CLI stages, one file each: resolve the inputs, run, write the outputs atomically.

``train_original`` (``smfa train``), ``unlearn``, ``sculpt``, ``evaluate`` (``smfa eval``) and
``report``; the benchmark stage is the :mod:`smfa.bench` package. Stages import the library
below them (models, training, methods, evaluation) and never each other's internals, except
where one stage's output format is another's input (``smfa.adapters``).
"""
