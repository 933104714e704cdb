"""The report's plots as PNG bytes: k sweep, forget-vs-retain trade-off, mask statistics.

Deterministic: matplotlib's object API (no pyplot, no global backend switch), the default style,
a fixed size and dpi, and no ``Software`` metadata in the PNG, so the same results give the same
bytes.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from contextlib import contextmanager

from smfa.report.masks import block_name, mean_per_layer, module_types
from smfa.report.rundir import Entry, Run, format_k
from smfa.report.tables import main_metric, mean_std

DPI = 100
FACT = "Fact Score (0–10)"
SWEEP_LINES = (  # (summary key, legend, colour, line style)
    ("forget_mem", "Forget I-Mem ↓", "tab:red", "-"),
    ("retain_mem", "Retain I-Mem ↑", "tab:blue", "-"),
    ("forget_und", "Forget I-Und ↑", "tab:orange", "--"),
    ("retain_und", "Retain I-Und ↑", "tab:green", "--"),
)


@contextmanager
def _style() -> Iterator[None]:
    """matplotlib defaults (ignoring any user matplotlibrc) plus a light grid."""
    import matplotlib
    import matplotlib.style

    with (
        matplotlib.style.context("default"),
        matplotlib.rc_context({"font.size": 9, "axes.grid": True, "grid.alpha": 0.3}),
    ):
        yield


def _figure(width: float, height: float):
    """A new figure (inches) with constrained layout, not registered with pyplot."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def _png(fig) -> bytes:
    """The figure as PNG bytes without the ``Software`` tag (byte-stable)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def fact(entry: Entry, key: str) -> tuple[float | None, float | None]:
    """Mean and std over seeds of ``summary["main"]["fact"][key]``."""
    get = main_metric("fact", key)
    return mean_std([get(s) for s in entry.summaries])


def _set_k_axis(ax, ks: list[float]) -> None:
    """Log k axis; symlog (linear near 0) when k = 0 is swept; every k gets a tick."""
    from matplotlib.ticker import NullLocator

    positive = [k for k in ks if k > 0]
    if 0 in ks:
        ax.set_xscale("symlog", linthresh=min(positive) if positive else 1.0, linscale=0.5)
    elif len(positive) > 1:
        ax.set_xscale("log")
    ax.xaxis.set_minor_locator(NullLocator())
    if len(ks) <= 12:
        ax.set_xticks(ks, [format_k(k) for k in ks])


def _sweep_line(ax, pts: list[Entry], key: str, label: str, color: str, style: str) -> None:
    """One metric over k, with a ±std band when there are several seeds."""
    stats = [(e.k, *fact(e, key)) for e in pts]
    stats = [(k, m, s) for k, m, s in stats if m is not None]
    if not stats:
        return
    ks, ms, ss = zip(*stats, strict=True)
    ax.plot(ks, ms, style, color=color, marker="o", label=label)
    if any(s is not None for s in ss):
        lo = [m - (s or 0.0) for m, s in zip(ms, ss, strict=True)]
        hi = [m + (s or 0.0) for m, s in zip(ms, ss, strict=True)]
        ax.fill_between(ks, lo, hi, color=color, alpha=0.15, linewidth=0)


def k_sweep_plot(run: Run) -> bytes | None:
    """Fact scores against k (finite k only), raw MFA (idk) as horizontal references."""
    pts = [e for e in run.sweep if e.k is not None and math.isfinite(e.k)]
    if not pts:
        return None
    with _style():
        fig = _figure(8.0, 4.8)
        ax = fig.add_subplot()
        for key, label, color, style in SWEEP_LINES:
            _sweep_line(ax, pts, key, label, color, style)
        raw = next((e for e in run.methods if e.method == "idk"), None)
        for key, label, color, _ in SWEEP_LINES[:2] if raw else ():
            mean, _std = fact(raw, key)
            if mean is not None:
                ax.axhline(mean, color=color, linestyle=":", label=f"raw MFA ({raw.label}) {label}")
        _set_k_axis(ax, [e.k for e in pts])
        ax.set(
            xlabel="k (relative-magnitude threshold)",
            ylabel=FACT,
            ylim=(-0.3, 10.3),
            title="SMFA k sweep",
        )
        ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
        return _png(fig)


def _point(ax, entry: Entry, ykey: str, style: dict) -> bool:
    """One model at (forget memory, ``ykey``) with error bars and its label; False if missing."""
    (x, xs), (y, ys) = fact(entry, "forget_mem"), fact(entry, ykey)
    if x is None or y is None:
        return False
    ax.errorbar(x, y, xerr=xs, yerr=ys, linestyle="none", label=entry.label, **style)
    ax.annotate(entry.label, (x, y), textcoords="offset points", xytext=(5, 4), fontsize=7)
    return True


def _sweep_path(ax, pts: list[Entry], ykey: str) -> None:
    """The k sweep as a connected grey line, each point annotated with its k."""
    xy = [(e, fact(e, "forget_mem")[0], fact(e, ykey)[0]) for e in pts]
    xy = [(e, x, y) for e, x, y in xy if x is not None and y is not None]
    if not xy:
        return
    ax.plot(
        [x for _, x, _ in xy],
        [y for _, _, y in xy],
        "-",
        color="0.6",
        marker=".",
        label="smfa k sweep",
        zorder=1,
    )
    for e, x, y in xy:
        ax.annotate(
            f"k={format_k(e.k)}",
            (x, y),
            textcoords="offset points",
            xytext=(3, -9),
            fontsize=6,
            color="0.4",
        )


def _styles(run: Run) -> list[tuple[Entry, dict]]:
    """Marker and colour per model: references black/grey, methods the colour cycle."""
    ref = {
        "original": {"marker": "*", "color": "black", "markersize": 11},
        "retain_only": {"marker": "s", "color": "0.35", "markersize": 7},
    }
    out = [(e, ref.get(e.label, {"marker": "D", "color": "0.5"})) for e in run.references]
    for i, e in enumerate(run.methods):
        out.append(
            (
                e,
                {
                    "marker": "o" if e.group == "main" else "^",
                    "color": f"C{i % 10}",
                    "markersize": 6,
                },
            )
        )
    return out


def tradeoff_plot(run: Run) -> bytes | None:
    """Forget memory (x, lower is better) against retain memory and model utility (y)."""
    panels = (
        ("retain_mem", "Retain I-Mem, " + FACT + " ↑"),
        ("model_utility", "Model Utility (Fact) ↑"),
    )
    with _style():
        fig = _figure(11.0, 4.8)
        axes = fig.subplots(1, 2)
        drawn = False
        for ax, (ykey, ylabel) in zip(axes, panels, strict=True):
            _sweep_path(ax, [e for e in run.sweep if e.k is not None], ykey)
            for e, style in _styles(run):
                drawn |= _point(ax, e, ykey, style)
            ax.set(
                xlabel="Forget I-Mem, " + FACT + " ↓",
                ylabel=ylabel,
                xlim=(-0.3, 10.3),
                ylim=(-0.3, 10.3),
            )
        if not drawn:
            return None
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside right upper", fontsize=8)
        fig.suptitle("Forget vs retain trade-off (better: up and left)")
        return _png(fig)


def _layer_axis(ax, label: str, seeds: dict, mods: list[str]) -> None:
    """One method's % deleted per layer, one line per module type (colours fixed by ``mods``)."""
    layers = mean_per_layer(seeds)
    blocks = list(layers)
    towers = sorted({b[0] for b in blocks if b[1] >= 0})
    xs = list(range(len(blocks)))
    for j, m in enumerate(mods):
        ys = [100.0 * layers[b].get(m, math.nan) for b in blocks]
        if not all(math.isnan(y) for y in ys):
            ax.plot(xs, ys, marker="o", markersize=3, color=f"C{j % 10}", label=m)
    step = max(1, math.ceil(len(blocks) / 24))
    names = [block_name(b, towers) for b in blocks]
    ax.set_xticks(xs[::step], names[::step], rotation=90 if len(towers) > 1 else 0, fontsize=7)
    ax.set(title=label, xlabel="layer")
    ax.set_ylim(bottom=0)


def mask_stats_plot(mask_stats: dict[str, dict[str, dict]]) -> bytes | None:
    """One panel per smfa-family method: fraction deleted per layer and module type."""
    if not mask_stats:
        return None
    labels, mods = list(mask_stats), module_types(mask_stats)
    ncols = min(len(labels), 3)
    nrows = math.ceil(len(labels) / ncols)
    with _style():
        fig = _figure(4.2 * ncols + 1.6, 3.4 * nrows)
        axes = fig.subplots(nrows, ncols, squeeze=False, sharey=True)
        for ax, label in zip(axes.flat, labels, strict=False):
            _layer_axis(ax, label, mask_stats[label], mods)
        for ax in axes[:, 0]:
            ax.set_ylabel("% of ΔW_f entries deleted")
        for ax in list(axes.flat)[len(labels) :]:
            ax.set_visible(False)
        legend = {}  # module type -> handle, over all panels (a panel may lack a type)
        for ax in axes.flat:
            for h, name in zip(*ax.get_legend_handles_labels(), strict=True):
                legend.setdefault(name, h)
        names = [m for m in mods if m in legend]
        handles = [legend[m] for m in names]
        fig.legend(handles, names, loc="outside right upper", fontsize=8, title="module")
        return _png(fig)
