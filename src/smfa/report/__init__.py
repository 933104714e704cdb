"""``smfa report``: report.md, a self-contained report.html and plots/*.png of a run folder.

Made from the run folder's result files alone (never loads a model): ``rundir`` reads them,
``tables``/``masks``/``samples``/``sections`` build the document once as blocks, ``doc`` and
``html`` render it as Markdown and HTML, ``plots`` draws the PNGs.
"""

from __future__ import annotations

from pathlib import Path

from smfa.io import atomic_write_bytes, atomic_write_text
from smfa.report.doc import Block, Figure, Heading, render_markdown
from smfa.report.html import render_html
from smfa.report.rundir import Run, load_run
from smfa.report.sections import (
    header_section,
    mask_section,
    samples_section,
    sweep_section,
    tradeoff_section,
)
from smfa.report.tables import ablation_section, main_section

PLOTS = ("k_sweep.png", "tradeoff.png", "mask_stats.png")


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
        *samples_section(run),
    ]


def write(root: Path, blocks: list[Block]) -> Path:
    """Write plots, report.md and report.html atomically; drop stale plots of ours."""
    figures = {b.name: b.png for b in blocks if isinstance(b, Figure)}
    for name, png in figures.items():
        atomic_write_bytes(root / "plots" / name, png)
    for name in PLOTS:
        if name not in figures and (root / "plots" / name).is_file():
            (root / "plots" / name).unlink()
    atomic_write_text(root / "report.md", render_markdown(blocks))
    html_path = root / "report.html"
    atomic_write_text(html_path, render_html(blocks, blocks[0].text))
    return html_path


def report(run_dir: str) -> Path:
    """Write the report of a run folder: report.md, report.html and plots/*.png.

    Reads only the run folder's files (manifest.json, config.yaml, eval/*.json,
    eval/sweep/k_<k>.json, methods/<label>/mask_stats.json; seed_<s>/ sub-folders when the run
    has several seeds) and never loads a model. Contents: run header and the command to
    reproduce it, the main table (ROUGE-L and Fact Score: Forget/Retain I-Und, I-Mem, Overall
    Memory, Meaningful, Scenes, Model Utility, Forget Quality, refusal rates), the ablation
    table, the k-sweep curve, the forget-vs-retain trade-off, mask statistics per layer and
    sample answers. With several seeds each cell is mean ± std over the seeds. report.html is
    self-contained (inline CSS, plots as data URIs).

    Args:
        run_dir: the run folder written by ``smfa run``.

    Returns:
        The path of report.html.
    """
    root = Path(run_dir)
    blocks = build(load_run(root))
    return write(root, blocks)


__all__ = ["build", "load_run", "report"]
