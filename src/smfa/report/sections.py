"""Report sections other than the metric tables: header, k sweep, trade-off, masks, samples."""

from __future__ import annotations

from smfa.report import masks, plots
from smfa.report.doc import Block, Code, Facts, Figure, Heading, Para, Table
from smfa.report.rundir import Run
from smfa.report.samples import sample_table
from smfa.report.tables import DASH, sweep_domain_table, sweep_table


def _inline(value) -> str:
    """A manifest value on one line: dicts as ``key: value, ...``."""
    if value is None or value == "" or value == {}:
        return DASH
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_inline(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_inline(v) for v in value)
    return str(value)


def format_seconds(seconds: float) -> str:
    """``12.3 s``, ``4 min 05 s``, ``1 h 02 min``."""
    s = float(seconds)
    if s < 60:
        return f"{s:.1f} s"
    if s < 3600:
        return f"{int(s // 60)} min {int(s % 60):02d} s"
    return f"{int(s // 3600)} h {int(s % 3600 // 60):02d} min"


def reproduce_command(run: Run) -> str:
    """``smfa run <config>``: the manifest's config path, else the run folder's config.yaml."""
    config = run.manifest.get("config")
    path = config if isinstance(config, str) else (run.root / "config.yaml").as_posix()
    return f"smfa run {path}"


def _seeds(run: Run) -> str:
    """The seeds with results, and those without."""
    text = ", ".join(run.seeds) if run.seeds != ["-"] else DASH
    if run.seeds_without_eval:
        text += f" (no eval results yet: {', '.join(run.seeds_without_eval)})"
    return text


def times_table(times: dict) -> Table:
    """Seconds per stage, plus the total."""
    rows = [
        [str(k), format_seconds(v) if isinstance(v, int | float) else str(v)]
        for k, v in times.items()
    ]
    total = sum(v for v in times.values() if isinstance(v, int | float))
    rows.append(["total", format_seconds(total)])
    return Table("Time per stage", ["Stage", "Time"], rows, [False, True])


def header_section(run: Run) -> list[Block]:
    """Run identity, provenance, the command to reproduce it, stage times, the config."""
    m = run.manifest
    facts = [
        ("Run", str(m.get("name") or run.root.name)),
        ("Forget split", run.forget or DASH),
        ("Seeds", _seeds(run)),
        ("Machine", _inline(m.get("machine"))),
        ("Git", _inline(m.get("git"))),
        ("Versions", _inline(m.get("versions"))),
    ]
    blocks: list[Block] = [Facts(facts), Para("Reproduce:"), Code(reproduce_command(run))]
    if run.missing:
        blocks.append(Para(f"Not evaluated (no eval JSON): {', '.join(run.missing)}."))
    if isinstance(m.get("times"), dict) and m["times"]:
        blocks.append(times_table(m["times"]))
    if run.config_text:
        blocks.append(Code(run.config_text, summary="Resolved configuration (config.yaml)"))
    return blocks


def sweep_section(run: Run) -> list[Block]:
    """The k sweep: curve and table (omitted when the run has no sweep)."""
    if not run.sweep:
        return []
    blocks: list[Block] = [
        Heading("k sweep"),
        Para(
            "SMFA re-sculpted from the same MFA and anchor at each k (no retraining). Small k "
            "deletes more of the MFA; k → ∞ is the raw MFA (idk)."
        ),
    ]
    png = plots.k_sweep_plot(run)
    if png:
        blocks.append(
            Figure(
                "k_sweep.png",
                png,
                "Fact Score against k (log scale; k = 0 at "
                "the left on a linear segment); dotted: raw MFA (idk).",
            )
        )
    by_domain = sweep_domain_table(run)
    return blocks + [sweep_table(run)] + ([by_domain] if by_domain else [])


def tradeoff_section(run: Run) -> list[Block]:
    """The forget-vs-retain scatter (omitted when no model has the two numbers)."""
    png = plots.tradeoff_plot(run)
    if not png:
        return []
    return [
        Heading("Forget vs retain trade-off"),
        Figure(
            "tradeoff.png",
            png,
            "Each model at (forget memory, retain memory) and "
            "(forget memory, model utility), Fact Score; the grey line is the k sweep.",
        ),
    ]


def mask_section(run: Run) -> list[Block]:
    """Mask statistics of the methods that wrote ``mask_stats.json``."""
    if not run.mask_stats:
        return []
    blocks: list[Block] = [
        Heading("Mask statistics"),
        Para(
            "Share of the entries of ΔW_f that sculpting deletes (M = C & R), per layer and "
            "module type."
        ),
    ]
    png = plots.mask_stats_plot(run.mask_stats)
    if png:
        blocks.append(Figure("mask_stats.png", png, "% of ΔW_f entries deleted per layer."))
    blocks.append(masks.summary_table(run.mask_stats))
    blocks += [masks.layer_table(label, seeds) for label, seeds in run.mask_stats.items()]
    return blocks


def samples_section(run: Run) -> list[Block]:
    """The same questions answered by every model."""
    table = sample_table(run)
    return [Heading("Sample answers"), table] if table else []
