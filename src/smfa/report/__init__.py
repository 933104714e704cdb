"""The report of a run folder, built from its result files alone (never loads a model).

``rundir`` reads them, ``tables``/``masks``/``samples``/``sections`` build the document once as
blocks, ``doc`` and ``html`` render it as Markdown and HTML, ``plots`` draws the PNGs. The
``smfa report`` stage that writes the files is :mod:`smfa.stages.report`.
"""

from __future__ import annotations

from smfa.report.attacks import attack_section
from smfa.report.doc import Block, Heading
from smfa.report.rundir import Run, load_run
from smfa.report.sections import (
    header_section,
    mask_section,
    samples_section,
    sweep_section,
    tradeoff_section,
)
from smfa.report.sequential import sequential_section
from smfa.report.tables import ablation_section, main_section

PLOTS = ("k_sweep.png", "tradeoff.png", "mask_stats.png", "sequential.png", "attacks.png")


def build(run: Run) -> list[Block]:
    """All sections, in the paper's order; optional ones are empty when their data is absent."""
    title = f"smfa report: {run.manifest.get('name') or run.root.name}"
    return [
        Heading(title, level=1),
        *header_section(run),
        *main_section(run),
        *ablation_section(run),
        *sweep_section(run),
        *tradeoff_section(run),
        *mask_section(run),
        *sequential_section(run),
        *attack_section(run),
        *samples_section(run),
    ]


__all__ = ["PLOTS", "build", "load_run"]
