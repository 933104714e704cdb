"""Deletion requests over time: a ledger of sculpted deltas on one base model (docs/ledger.md).

``events`` (the append-only log and its replay) and ``compose`` (sum, re-sculpting) are pure;
``store`` reads and writes the ledger folder; ``requests`` trains one request; ``build`` gives
the composed delta of the active requests. The commands are :mod:`smfa.stages.ledger`.
"""
