"""The paper's result tables (main, ablation, k sweep) from eval summaries.

Each cell reads one number from the ``summary`` of an eval JSON
(:func:`smfa.eval.metrics.summarize`); with several seeds it shows ``mean ± std`` over the seeds
(sample standard deviation, n − 1). The best method per column is bold; reference rows
(original, retain-only, raw MFA) are shown but never bold.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from statistics import fmean, stdev

from smfa.eval.metrics import MEMORY_QTYPES
from smfa.report.doc import Block, Heading, Para, Table
from smfa.report.rundir import Entry, Run

DASH = "–"

# (title, key in summary["main"][score], lower is better), in the paper's column order.
PAPER_COLUMNS = (
    ("Forget I-Und", "forget_und", False),
    ("Forget I-Mem", "forget_mem", True),
    ("Retain I-Und", "retain_und", False),
    ("Retain I-Mem", "retain_mem", False),
    ("Overall Memory", "overall_mem", False),
    ("Meaningful", "meaningful", False),
)
EXTRA_COLUMNS = (("Scenes", "scenes", False), ("Model Utility", "model_utility", False))


@dataclass(frozen=True)
class Column:
    """A numeric column: ``get(summary)`` (before ``scale``) and its better direction."""

    title: str
    get: Callable[[dict], float | None]
    lower_better: bool = False
    scale: float = 1.0
    scientific: bool = False  # small values (p-values) as 1.2e-05

    @property
    def header(self) -> str:
        """The title with ↑ (higher is better) or ↓ (lower is better)."""
        return f"{self.title} {'↓' if self.lower_better else '↑'}"


def main_metric(score: str, key: str) -> Callable[[dict], float | None]:
    """Getter of ``summary["main"][score][key]``."""
    return lambda s: ((s.get("main") or {}).get(score) or {}).get(key)


def refusal_rate(role: str) -> Callable[[dict], float | None]:
    """Getter of the mean refusal rate over the memory question types of the forget/retain split."""

    def get(s: dict) -> float | None:
        split = (s.get("splits") or {}).get(role) or role
        groups = (s.get("groups") or {}).get(split) or {}
        vals = [g.get("refusal") for q, g in groups.items() if q in MEMORY_QTYPES]
        vals = [v for v in vals if v is not None]
        return fmean(vals) if vals else None

    return get


def score_columns(score: str, scale: float | None = None) -> list[Column]:
    """The paper's columns + Scenes + Model Utility of one main metric, cells × ``scale``
    (default: ×100 for ``rouge``, ×1 otherwise); Meaningful is always 0–10."""
    if scale is None:
        scale = 100.0 if score == "rouge" else 1.0
    return [
        Column(title, main_metric(score, key), lower, 1.0 if key == "meaningful" else scale)
        for title, key, lower in PAPER_COLUMNS + EXTRA_COLUMNS
    ]


#: How the report names the image domains of ``summary["domains"]`` (docs/metrics.md §7).
DOMAIN_NAMES = {"faces": "portrait", "fundus": "fundus"}
DOMAIN_KEYS = PAPER_COLUMNS[:4]  # Forget/Retain I-Und and I-Mem


def domain_metric(score: str, domain: str, key: str) -> Callable[[dict], float | None]:
    """Getter of ``summary["domains"][domain][score][key]``."""
    return lambda s: (((s.get("domains") or {}).get(domain) or {}).get(score) or {}).get(key)


def run_domains(run: Run) -> list[str]:
    """The image domains the run's eval summaries split by: portraits, fundus, then others."""
    found = {
        d
        for e in run.models + run.sweep
        for ev in e.evals.values()
        for d in ((ev.get("summary") or {}).get("domains") or {})
    }
    order = list(DOMAIN_NAMES)
    return sorted(found, key=lambda d: (order.index(d) if d in order else len(order), d))


def domain_columns(score: str, domains: Sequence[str], scale: float = 1.0) -> list[Column]:
    """Forget/Retain I-Und and I-Mem of one main metric, once per image domain."""
    return [
        Column(f"{title} ({DOMAIN_NAMES.get(d, d)})", domain_metric(score, d, key), lower, scale)
        for d in domains
        for title, key, lower in DOMAIN_KEYS
    ]


DOMAIN_CAPTION = (
    "Forget/retain columns split by image domain (portrait = faces, fundus = retinal "
    "photos): the same questions as the table above, grouped by the person's image. "
)


#: Main metrics of eval JSONs written before they described their metrics.
DEFAULT_MAIN_METRICS = {
    "rouge": {"title": "ROUGE-L F-measure (×100; Meaningful 0–10)", "scale": 100.0},
    "fact": {"title": "Fact Score (0–10)", "scale": 1.0},
}


def main_metrics(run: Run) -> dict[str, dict]:
    """``{summary key: description}`` of the metrics with a main table, as the eval JSONs
    describe them (``metrics``, written from the METRICS registry), in first-seen order."""
    found: dict[str, dict] = {}
    for e in run.models + run.sweep:
        for ev in e.evals.values():
            for name, d in (ev.get("metrics") or {}).items():
                if isinstance(d, dict) and d.get("main"):
                    found.setdefault(d.get("group") or name, d)
    return found or DEFAULT_MAIN_METRICS


FORGETTING_COLUMNS = [
    Column("Forget Quality", lambda s: s.get("forget_quality"), scientific=True),
    Column("Forget refusal %", refusal_rate("forget"), scale=100.0),
    Column("Retain refusal %", refusal_rate("retain"), lower_better=True, scale=100.0),
    # Over-refusal on scenes (docs/metrics.md §9): refusing a question about a drawn scene is
    # benign knowledge lost.
    Column(
        "Scenes refusal %",
        lambda s: (s.get("over_refusal") or {}).get("scenes"),
        lower_better=True,
        scale=100.0,
    ),
]


def mean_std(values: Sequence[float | None]) -> tuple[float | None, float | None]:
    """Mean and sample std (n − 1) of the non-missing values; std is ``None`` below 2 values."""
    vals = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    if not vals:
        return None, None
    return fmean(vals), (stdev(vals) if len(vals) > 1 else None)


def format_number(x: float, scientific: bool = False) -> str:
    """Two decimals; ``scientific`` columns show small non-zero values as ``1.2e-05``."""
    if scientific and x != 0 and abs(x) < 0.01:
        return f"{x:.1e}"
    return f"{x:.2f}"


def format_cell(mean: float | None, std: float | None, scientific: bool = False) -> str:
    """``7.25``, ``7.50 ± 0.71`` or ``–`` for a missing value."""
    if mean is None:
        return DASH
    text = format_number(mean, scientific)
    return text if std is None else f"{text} ± {format_number(std, scientific)}"


def cell_stats(entry: Entry, col: Column) -> tuple[float | None, float | None]:
    """Mean and std over the entry's seeds of one column (scaled)."""
    vals = [col.get(s) for s in entry.summaries]
    return mean_std([None if v is None else v * col.scale for v in vals])


def best_rows(means: list[float | None], candidates: list[int], lower_better: bool) -> set[int]:
    """Rows among ``candidates`` whose mean is the best (ties all win; none when all tie)."""
    vals = {i: round(means[i], 9) for i in candidates if means[i] is not None}
    if len(set(vals.values())) < 2:
        return set()
    best = min(vals.values()) if lower_better else max(vals.values())
    return {i for i, v in vals.items() if v == best}


def row_label(entry: Entry, refs: Sequence[Entry]) -> str:
    """The model column: the label, marked ``(reference)`` for reference rows."""
    return f"{entry.label} (reference)" if any(entry is r for r in refs) else entry.label


def metric_table(
    title: str,
    refs: Sequence[Entry],
    entries: Sequence[Entry],
    columns: Sequence[Column],
    lead: Sequence[tuple[str, Callable[[Entry], str]]] = (),
    caption: str = "",
) -> Table:
    """Reference rows then method rows; one text column per ``lead`` after the model label."""
    rows_e = list(refs) + list(entries)
    headers = ["Model"] + [h for h, _ in lead] + [c.header for c in columns]
    first = 1 + len(lead)
    rows, bold = [], set()
    stats = [[cell_stats(e, c) for c in columns] for e in rows_e]
    for e, row_stats in zip(rows_e, stats, strict=True):
        text = [
            format_cell(m, s, c.scientific) for (m, s), c in zip(row_stats, columns, strict=True)
        ]
        rows.append([row_label(e, refs)] + [f(e) for _, f in lead] + text)
    methods = list(range(len(refs), len(rows_e)))
    for j, c in enumerate(columns):
        means = [row[j][0] for row in stats]
        bold |= {(i, first + j) for i in best_rows(means, methods, c.lower_better)}
    return Table(
        title,
        headers,
        rows,
        [False] * first + [True] * len(columns),
        bold,
        set(range(len(refs))),
        caption,
    )


def seeds_note(run: Run) -> str:
    """How cells aggregate seeds (empty for a single seed)."""
    if len(run.seeds) < 2:
        return ""
    return (
        f" Cells are mean ± sample standard deviation (n − 1) over {len(run.seeds)} seeds "
        f"({', '.join(run.seeds)})."
    )


LEGEND = (
    "↑ higher is better, ↓ lower is better; bold = best method per column (reference rows "
    "excluded; none when all methods tie); – = not measured."
)


def result_tables(run: Run, refs: list[Entry], entries: list[Entry], lead=()) -> list[Table]:
    """The ROUGE-L, Fact Score and forgetting tables of one set of rows."""
    note = seeds_note(run)
    tables = [
        metric_table(
            d.get("title") or key,
            refs,
            entries,
            score_columns(key, float(d.get("scale", 1.0))),
            lead,
            LEGEND + note,
        )
        for key, d in main_metrics(run).items()
    ]
    domains = run_domains(run)
    if domains:
        tables += [
            metric_table(
                f"{d.get('title') or key}, by image domain",
                refs,
                entries,
                domain_columns(key, domains, float(d.get("scale", 1.0))),
                lead,
                DOMAIN_CAPTION + LEGEND + note,
            )
            for key, d in main_metrics(run).items()
        ]
    return [
        *tables,
        metric_table(
            "Forgetting checks",
            refs,
            entries,
            FORGETTING_COLUMNS,
            lead,
            "Forget Quality: KS-test p-value of forget-set truth ratios vs the "
            "retain-only model. Refusal %: share of memory questions refused." + note,
        ),
    ]


def main_section(run: Run) -> list[Block]:
    """Section 'Main results': reference rows + every method of group ``main``."""
    entries = run.method_group("main")
    if not entries and not run.references:
        return []
    intro = Para(
        f"Forget split: {run.forget or DASH}. I-Und = image understanding, I-Mem = "
        "image + text memory, Overall Memory = Retain I-Mem − Forget I-Mem."
    )
    return [Heading("Main results"), intro, *result_tables(run, run.references, entries)]


def setting(entry: Entry) -> str:
    """``smfa: criteria=c, k=5`` — the method and its options, for the ablation table."""
    opts = ", ".join(f"{k}={v}" for k, v in sorted(entry.options.items()))
    return f"{entry.method or entry.label}: {opts}" if opts else (entry.method or entry.label)


def ablation_entries(run: Run) -> list[Entry]:
    """Full SMFA (criteria cr), the ablations, then the raw MFA (idk); [] without ablations."""
    ablations = run.method_group("ablation")
    if not ablations:
        return []
    main = run.method_group("main")
    full = [e for e in main if e.method == "smfa" and e.options.get("criteria", "cr") == "cr"]
    raw = [e for e in main if e.method == "idk"]
    return full + ablations + raw


def ablation_section(run: Run) -> list[Block]:
    """Section 'Ablation': sculpting criteria (and other variants) side by side."""
    entries = ablation_entries(run)
    if not entries:
        return []
    intro = Para(
        "SMFA with both criteria (cr), one criterion (c: directional conflict, r: "
        "relative magnitude) and none (raw MFA = idk)."
    )
    return [
        Heading("Ablation"),
        intro,
        *result_tables(run, [], entries, lead=[("Setting", setting)]),
    ]


def sweep_table(run: Run) -> Table:
    """Fact Score of every k point, with the raw MFA (idk, k = ∞) as the reference row."""
    raw = [e for e in run.methods if e.method == "idk"]
    return metric_table(
        "k sweep, Fact Score (0–10)",
        raw,
        run.sweep,
        score_columns("fact"),
        caption=LEGEND + seeds_note(run),
    )


def sweep_domain_table(run: Run) -> Table | None:
    """The k sweep's Fact Score split by image domain (``None`` without domain summaries)."""
    domains = run_domains(run)
    if not domains:
        return None
    raw = [e for e in run.methods if e.method == "idk"]
    return metric_table(
        "k sweep, Fact Score (0–10), by image domain",
        raw,
        run.sweep,
        domain_columns("fact", domains),
        caption=DOMAIN_CAPTION + LEGEND + seeds_note(run),
    )
