"""Importers of published unlearning benchmarks into our benchmark folder format.

``smfa bench import mllmu PATH OUT`` (MLLMU-Bench) and ``smfa bench import fiubench PATH OUT``
(FIUBench); each writes ``import_report.json`` with what did not map. Mapping:
docs/benchmark.md "Importing MLLMU-Bench and FIUBench".
"""

from smfa.bench.importers.fiubench import import_fiubench
from smfa.bench.importers.mllmu import import_mllmu

IMPORTERS = {"mllmu": import_mllmu, "fiubench": import_fiubench}

__all__ = ["IMPORTERS", "import_fiubench", "import_mllmu"]
