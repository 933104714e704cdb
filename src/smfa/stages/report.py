"""Stage ``smfa report``: report.md, a self-contained report.html and plots/*.png of a run."""

from __future__ import annotations

import os
from contextlib import ExitStack
from pathlib import Path

from smfa.io import atomic_path, atomic_write_bytes, check_output, output_lock
from smfa.layout import RunLayout
from smfa.report import PLOTS, build, load_run
from smfa.report.doc import Block, Figure, render_markdown
from smfa.report.html import render_html

MARKS = {"report.md": "# smfa report", "report.html": "<title>smfa report"}


def is_report(path: Path) -> bool:
    """Whether ``path`` is a report file that ``smfa report`` wrote."""
    try:
        return MARKS[path.name] in path.read_text(encoding="utf-8")[:2000]
    except (OSError, UnicodeDecodeError, KeyError):
        return False


def write(root: Path, blocks: list[Block], overwrite: bool = False) -> Path:
    """Write plots, then report.md and report.html as a set; drop stale plots of ours.

    Both files are written under temporary names first and then renamed, so a failure leaves
    the earlier pair; an existing file that is not an earlier report is refused unless
    ``overwrite``.
    """
    layout = RunLayout(Path(root))
    texts = {
        layout.report("report.md"): render_markdown(blocks),
        layout.report("report.html"): render_html(blocks, blocks[0].text),
    }
    for path in texts:
        check_output(path, "report", overwrite, is_file=True, owned=is_report(path))
    figures = {b.name: b.png for b in blocks if isinstance(b, Figure)}
    for name, png in figures.items():
        atomic_write_bytes(layout.plots / name, png)
    for name in PLOTS:
        if name not in figures and (layout.plots / name).is_file():
            (layout.plots / name).unlink()
    with ExitStack() as stack:
        staged = {path: stack.enter_context(atomic_path(path, commit=False)) for path in texts}
        for path, tmp in staged.items():
            tmp.write_text(texts[path], encoding="utf-8")
        for path, tmp in staged.items():
            os.replace(tmp, path)
    return layout.report("report.html")


def report(run_dir: str, overwrite: bool = False) -> Path:
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
        overwrite: replace report files that an earlier ``smfa report`` did not write.

    Returns:
        The path of report.html.
    """
    root = Path(run_dir)
    run = load_run(root)
    with output_lock(root / "report.html"):
        return write(root, build(run), overwrite)
