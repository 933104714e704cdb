"""Stage ``smfa report``: report.md, a self-contained report.html and plots/*.png of a run."""

from __future__ import annotations

from pathlib import Path

from smfa.io import atomic_write_bytes, atomic_write_text
from smfa.layout import RunLayout
from smfa.report import PLOTS, build, load_run
from smfa.report.doc import Block, Figure, render_markdown
from smfa.report.html import render_html


def write(root: Path, blocks: list[Block]) -> Path:
    """Write plots, report.md and report.html atomically; drop stale plots of ours."""
    layout = RunLayout(Path(root))
    figures = {b.name: b.png for b in blocks if isinstance(b, Figure)}
    for name, png in figures.items():
        atomic_write_bytes(layout.plots / name, png)
    for name in PLOTS:
        if name not in figures and (layout.plots / name).is_file():
            (layout.plots / name).unlink()
    atomic_write_text(layout.report("report.md"), render_markdown(blocks))
    html_path = layout.report("report.html")
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
    return write(root, build(load_run(root)))
