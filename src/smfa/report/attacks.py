"""The attack table and bar plot: how much of the forgotten facts each attack brings back.

Rows: the retain-only control first (it never learned the forget profiles: its recovery is
what an attack gets from guessing), the original model, then every method. Columns: the
attacks, in the order the suite ran them. Cells: recovery of the attack's headline score
(leak rate, logit-lens hit rate, membership advantage: ``results.model[attack].score``) in
percentage points, mean ± std over seeds. Read from ``attacks/<label>.json`` only.
"""

from __future__ import annotations

from smfa.report.doc import Block, Figure, Heading, Para, Table
from smfa.report.rundir import Entry, Run
from smfa.report.tables import DASH, format_cell, mean_std

ORDER = ("retain_only", "original")


def attack_entries(run: Run) -> list[Entry]:
    """Models with attack results: control, original, then methods in manifest order."""
    refs = sorted((e for e in run.references if e.attacks), key=lambda e: ORDER.index(e.label))
    return refs + [e for e in run.methods if e.attacks]


def attack_names(entries: list[Entry]) -> tuple[list[str], dict[str, str]]:
    """Attack names in the order the suites ran them (each JSON's ``attacks`` list; JSON
    objects are written with sorted keys), and their titles."""
    names, titles = [], {}
    for e in entries:
        for data in e.attacks.values():
            results = (data.get("results") or {}).get("model") or {}
            order = [n for n in data.get("attacks") or [] if n in results]
            for name in order + sorted(set(results) - set(order)):
                if name not in titles:
                    names.append(name)
                    titles[name] = (results.get(name) or {}).get("title") or name
    return names, titles


def _score(entry: Entry, name: str, key: str) -> tuple[float | None, float | None]:
    vals = []
    for data in entry.attacks.values():
        res = ((data.get("results") or {}).get("model") or {}).get(name) or {}
        v = (res.get("score") or {}).get(key)
        vals.append(None if v is None else 100.0 * v)
    return mean_std(vals)


def recovery(entry: Entry, name: str) -> tuple[float | None, float | None]:
    """Mean and std over seeds of the attack's recovery, in percentage points."""
    return _score(entry, name, "recovery")


def attack_table(run: Run) -> Table | None:
    """The attack table (module docstring); None when no model was attacked."""
    entries = attack_entries(run)
    if not entries:
        return None
    names, titles = attack_names(entries)
    rows = []
    for e in entries:
        leak = _leak_unattacked(e)
        rows.append([e.label, format_cell(*leak)] + [format_cell(*recovery(e, n)) for n in names])
    return Table(
        "Attacks: recovery (percentage points; attacked − unattacked)",
        ["Model", "Forget leak % (no attack)"] + [titles[n] for n in names],
        rows,
        [False] + [True] * (len(names) + 1),
        ref_rows={i for i, e in enumerate(entries) if e.kind == "reference"},
        caption=(
            "Forget leak %: share of the attacked forget questions whose key value the model "
            "states when asked plainly. Each attack cell is attacked − unattacked of its "
            "headline score: leak rate (prompt, paraphrase, view, image, relearning, "
            "quantization), top-B hit rate of any layer vs the output (logit lens), "
            "2·|AUC − 0.5| (membership inference). "
            "Recovery above the retain-only row is leakage."
        ),
    )


def _leak_unattacked(entry: Entry) -> tuple[float | None, float | None]:
    """The leak rate (%) of the plain answers to the attacked questions, mean ± std."""
    vals = []
    for data in entry.attacks.values():
        v = ((data.get("unattacked") or {}).get("model") or {}).get("leak_rate")
        vals.append(None if v is None else 100.0 * v)
    return mean_std(vals)


def attack_plot(run: Run) -> bytes | None:
    """Grouped bars: recovery (pp) per attack (x) and model (colour), control first."""
    from smfa.report.plots import _figure, _png, _style

    entries = attack_entries(run)
    if not entries:
        return None
    names, titles = attack_names(entries)
    with _style():
        fig = _figure(max(8.0, 0.9 * len(names) + 3), 4.6)
        ax = fig.subplots()
        width = 0.8 / len(entries)
        for j, e in enumerate(entries):
            ys = [recovery(e, n)[0] for n in names]
            xs = [i - 0.4 + width * (j + 0.5) for i in range(len(names))]
            style = {"color": "black"} if e.label == "retain_only" else {}
            ax.bar(xs, [0.0 if y is None else y for y in ys], width, label=e.label, **style)
        ax.axhline(0.0, color="gray", lw=0.8)
        ax.set_xticks(range(len(names)), [titles[n] for n in names], rotation=40, ha="right")
        ax.set_ylabel("recovery (percentage points) ↓")
        ax.set_title("How much each attack brings back (black: retain-only control)")
        ax.legend(loc="upper left", fontsize=7, ncols=2)
        return _png(fig)


def attack_section(run: Run) -> list[Block]:
    """Section 'Robustness of forgetting' (omitted when the run has no attack results)."""
    table = attack_table(run)
    if table is None:
        return []
    blocks: list[Block] = [
        Heading("Robustness of forgetting"),
        Para(
            "Is the fact gone or only hidden? Each attack (docs/metrics.md §10) on the forget "
            "set, against the retain-only control, which never learned these people. A "
            "method whose recovery stays at the control's forgot; one above it hid."
        ),
    ]
    png = attack_plot(run)
    if png:
        blocks.append(Figure("attacks.png", png, "Recovery per attack and model."))
    return blocks + [table, Para(f"{DASH}: not measured.")]
