"""The sequential-requests section of the report: forgetting and utility against the number of
deletion requests, per composition mode (``<run>/sequential/summary.json``, written by
:mod:`smfa.pipeline.sequential`; definitions in docs/ledger.md)."""

from __future__ import annotations

import json
from pathlib import Path

from smfa.report.doc import Block, Figure, Heading, Para, Table
from smfa.report.rundir import Run

PLOT = "sequential.png"
COLORS = {
    "independent": "tab:blue",
    "resculpt": "tab:green",
    "sequential": "tab:red",
    "all_at_once": "black",
}
COLUMNS = ("forgotten", "rebound", "retain_mem", "scenes", "model_utility")
HEADERS = [
    "Mode",
    "Requests",
    "Forgotten I-Mem ↓",
    "Rebound ↓",
    "Retain I-Mem ↑",
    "Scenes ↑",
    "Model Utility ↑",
]


def load_summary(root: Path) -> dict | None:
    """The protocol summary of the run (the first seed's with several seeds), or None."""
    paths = [
        root / "sequential" / "summary.json",
        *sorted(root.glob("seed_*/sequential/summary.json")),
    ]
    for p in paths:
        if p.is_file():
            try:
                data = json.loads(p.read_text(encoding="utf-8"))
            except ValueError:
                return None
            return data if isinstance(data, dict) and isinstance(data.get("modes"), dict) else None
    return None


def _fmt(v) -> str:
    return "–" if v is None else f"{v:.2f}"


def table_rows(summary: dict) -> list[list[str]]:
    """One row per (mode, number of requests), plus the base model as 0 requests."""
    base = summary.get("base", {})
    facts = [v for v in base.get("per_request", []) if v is not None]
    start = sum(facts) / len(facts) if facts else None
    rows = [["base", "0", _fmt(start), _fmt(None)] + [_fmt(base.get(k)) for k in COLUMNS[2:]]]
    for mode, steps in ordered(summary):
        for s in steps:
            rows.append([mode, str(s["n"])] + [_fmt(s.get(k)) for k in COLUMNS])
    return rows


def ordered(summary: dict) -> list[tuple[str, list]]:
    """The modes in protocol order (the JSON sorts them by name)."""
    modes = summary["modes"]
    return sorted(
        modes.items(), key=lambda kv: list(COLORS).index(kv[0]) if kv[0] in COLORS else 99
    )


def plot(summary: dict) -> bytes:
    """Two panels against the number of requests: forgotten facts and rebound; utility."""
    from smfa.report.plots import _figure, _png, _style

    with _style():
        fig = _figure(9.0, 3.4)
        ax1, ax2 = fig.subplots(1, 2)
        for mode, steps in ordered(summary):
            n = [s["n"] for s in steps]
            c = COLORS.get(mode, "tab:gray")
            ax1.plot(n, [s.get("forgotten") for s in steps], "-o", color=c, label=mode, ms=4)
            ax1.plot(n, [s.get("rebound") for s in steps], ":", color=c, lw=1)
            ax2.plot(n, [s.get("retain_mem") for s in steps], "-o", color=c, label=mode, ms=4)
            ax2.plot(n, [s.get("scenes") for s in steps], "--", color=c, lw=1)
        ax1.set(
            xlabel="requests so far",
            ylabel="Fact (0–10)",
            title="forgotten requests' I-Mem (—) and rebound (···) ↓",
        )
        ax2.set(
            xlabel="requests so far", ylabel="Fact (0–10)", title="retain I-Mem (—), scenes (- -) ↑"
        )
        for ax in (ax1, ax2):
            ax.set_xticks(sorted({s["n"] for st in summary["modes"].values() for s in st}))
        ax1.legend(fontsize=7)
        return _png(fig)


def sequential_section(run: Run) -> list[Block]:
    summary = load_summary(run.root)
    if not summary or not summary["modes"]:
        return []
    reqs = summary.get("requests", [])
    return [
        Heading("Deletion requests over time"),
        Para(
            f"The forget set ({summary.get('forget')}) dealt into {len(reqs)} requests "
            f"({'; '.join(', '.join(r) for r in reqs)}), composed by a ledger "
            "(docs/ledger.md). Forgotten I-Mem: Fact score of the memory questions of the "
            "requests made so far; rebound: how much of an earlier request's facts came back "
            "since it was forgotten."
        ),
        Table(
            "Forgetting and utility per request", HEADERS, table_rows(summary), [False] + [True] * 6
        ),
        Figure(PLOT, plot(summary), "Forgetting and utility against the number of requests."),
    ]
