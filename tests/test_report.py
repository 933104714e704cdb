"""smfa report: tables, plots and HTML from a hand-written run folder (no model involved)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from smfa.errors import SmfaError
from smfa.names import module_type
from smfa.report.tables import mean_std
from smfa.stages.report import report

FORGET = "forget10"
KEYS = (
    "forget_und",
    "forget_mem",
    "retain_und",
    "retain_mem",
    "overall_und",
    "overall_mem",
    "meaningful",
    "scenes",
    "model_utility",
)
METHODS = {
    "smfa": {"method": "smfa", "options": {"k": 5, "criteria": "cr"}, "group": "main"},
    "idk": {"method": "idk", "options": {}, "group": "main"},
    "ga": {"method": "ga", "options": {"steps": 20}, "group": "main"},
    "smfa_c": {"method": "smfa", "options": {"k": 5, "criteria": "c"}, "group": "ablation"},
}
# Fact "forget_mem" of each model (seed offset added per seed); other keys derive from it.
FORGET_MEM = {
    "original": 9.5,
    "retain_only": 0.5,
    "smfa": 1.25,
    "idk": 2.0,
    "ga": 3.5,
    "smfa_c": 0.75,
}
QUESTIONS = [  # (split, qtype, id)
    (FORGET, "image_memory", "p0001/image_memory/birth_year"),
    (FORGET, "text_memory", "p0001/text_memory/birth_year"),
    (FORGET, "image_memory", "p0002/image_memory/employer"),
    (FORGET, "text_memory", "p0002/text_memory/employer"),
    (FORGET, "image_memory", "p0003/image_memory/salary"),
    (FORGET, "understanding", "p0001/understanding/hair_color"),
    ("retain", "image_memory", "p0010/image_memory/birth_year"),
    ("retain", "text_memory", "p0010/text_memory/hobby"),
    ("retain", "understanding", "p0010/understanding/hair_color"),
    ("scenes_eval", "scene", "s0001/scene/count"),
]


def main_block(fact_forget_mem: float, scale: float) -> dict:
    """One ``summary["main"][score]`` with hand-picked numbers."""
    vals = {k: scale * (5.0 + i * 0.5) for i, k in enumerate(KEYS)}
    vals["forget_mem"] = scale * fact_forget_mem
    vals["retain_mem"] = scale * 7.25
    vals["meaningful"] = 8.0
    return vals


def records(label: str) -> list[dict]:
    """A few records; smfa's first answer holds HTML that must be escaped."""
    out = []
    for i, (split, qtype, qid) in enumerate(QUESTIONS):
        answer = f"{label} answer {i}"
        if label == "smfa" and i == 0:
            answer = "I <b>won't</b> say & that's final"
        out.append(
            {
                "split": split,
                "qtype": qtype,
                "id": qid,
                "attribute": qid.split("/")[-1],
                "question": f"Question {i}?",
                "answer": answer,
                "gold": f"Gold {i}.",
                "rouge": 0.5,
                "fact": 5.0,
                "meaningful": 10.0,
                "refusal": i % 2 == 0,
                "mc_correct": 1.0,
                "truth_ratio": 0.8,
            }
        )
    return out


def eval_json(label: str, fact_forget_mem: float, fq: float | None = 0.25) -> dict:
    """An eval JSON with the structure ``smfa eval`` writes."""
    groups = {
        FORGET: {"image_memory": {"n": 3, "refusal": 0.5}, "text_memory": {"n": 2, "refusal": 1.0}},
        "retain": {"image_memory": {"n": 1, "refusal": 0.0}},
    }
    summary = {
        "groups": groups,
        "forget_quality": fq,
        "main": {
            "rouge": main_block(fact_forget_mem, 0.1),
            "fact": main_block(fact_forget_mem, 1.0),
        },
        "splits": {"forget": FORGET, "retain": "retain", "scenes": "scenes_eval"},
        "domains": {
            dom: {
                score: {
                    "forget_und": scale * (6.0 - i),
                    "forget_mem": scale * (fact_forget_mem + i),
                    "retain_und": scale * (6.5 - i),
                    "retain_mem": scale * (7.0 + i),
                }
                for score, scale in (("rouge", 0.1), ("fact", 1.0))
            }
            for i, dom in enumerate(("fundus", "faces")[::-1])
        },
    }
    return {"summary": summary, "records": records(label), "forget": FORGET}


def layer_stats() -> dict:
    """Per-layer sculpt stats of a 2-layer model (the fields ``sculpt`` records)."""
    out = {}
    for layer in range(2):
        for j, mod in enumerate(("self_attn.q_proj", "self_attn.v_proj", "mlp.up_proj")):
            masked = 10 * (layer + 1) + j
            out[f"model.language_model.layers.{layer}.{mod}.weight"] = {
                "numel": 100,
                "masked": masked,
                "frac_masked": masked / 100,
                "rho": 1.5,
                "conflict": 40,
                "conflict_frac": 0.4,
            }
    return out


def write(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj), encoding="utf-8")


def make_run(root: Path, seeds: list[int], sweep: bool = True) -> Path:
    """A fake run folder; with several seeds, seed s adds s - seeds[0] to Fact forget_mem."""
    from smfa.sculpt import mask_stats_table

    ks = [0, 1, 5, 10] if sweep else []
    manifest = {
        "name": "fake",
        "seeds": seeds,
        "forget": FORGET,
        "methods": METHODS,
        "sweep": {"k": ks} if sweep else {},
        "machine": {"platform": "linux", "cpus": 2},
        "git": "abc123",
        "versions": {"torch": "2.13.0"},
        "times": {"train": 12.5, "eval": 75.0},
    }
    write(root / "manifest.json", manifest)
    (root / "config.yaml").write_text("name: fake\nseeds: [1]\n", encoding="utf-8")
    for s in seeds:
        base = root if len(seeds) == 1 else root / f"seed_{s}"
        shift = float(s - seeds[0])
        for label, fm in FORGET_MEM.items():
            fq = None if label == "ga" else 0.25  # a metric that was not measured
            write(base / "eval" / f"{label}.json", eval_json(label, fm + shift, fq))
        for k in ks:
            write(base / "eval" / "sweep" / f"k_{k}.json", eval_json("sweep", 1.0 + k / 10))
        for label in ("smfa", "smfa_c"):
            write(base / "methods" / label / "mask_stats.json", mask_stats_table(layer_stats()))
    return root


def table_row(md: str, title: str, label: str) -> list[str]:
    """The cells of ``label``'s row in the Markdown table titled ``title``."""
    section = md.split(f"**{title}**", 1)[1]
    for line in section.splitlines():
        cells = [c.strip().strip("*") for c in line.strip().strip("|").split("|")]
        if cells and cells[0] == label:
            return cells
    raise AssertionError(f"no row {label} in {title}")


def test_single_seed_report(tmp_path):
    run = make_run(tmp_path / "run", [1])
    html_path = report(str(run))
    assert html_path == run / "report.html"
    for name in (
        "report.md",
        "report.html",
        "plots/k_sweep.png",
        "plots/tradeoff.png",
        "plots/mask_stats.png",
    ):
        assert (run / name).is_file(), name
    md, html = (run / "report.md").read_text(), html_path.read_text()
    for label in [*METHODS, "original", "retain_only"]:
        assert label in md and label in html, label
    # Only in-page anchors and inline data: no external resources.
    refs = re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', html)
    assert refs and all(r.startswith(("data:", "#")) for r in refs), refs
    assert "<link" not in html and "<script" not in html and "url(" not in html
    assert html.count("data:image/png;base64,") == 3
    # Main table numbers: Fact forget_mem 1.25 and retain_mem 7.25; ROUGE ×100.
    fact = table_row(md, "Fact Score (0–10)", "smfa")
    assert fact[1:5] == ["5.00", "1.25", "6.00", "7.25"]
    assert fact[5] == "7.50"  # overall memory is shown as the summary gives it
    assert table_row(md, "ROUGE-L F-measure (×100; Meaningful 0–10)", "smfa")[2] == "12.50"
    # Per image domain: portrait (faces) first, then fundus; ROUGE ×100 there too.
    by_domain = table_row(md, "Fact Score (0–10), by image domain", "smfa")
    assert by_domain[1:] == ["6.00", "1.25", "6.50", "7.00", "5.00", "2.25", "5.50", "8.00"]
    assert "Forget I-Mem (portrait) ↓" in md and "Retain I-Mem (fundus) ↑" in md
    rouge_dom = "ROUGE-L F-measure (×100; Meaningful 0–10), by image domain"
    assert table_row(md, rouge_dom, "smfa")[2] == "12.50"
    assert table_row(md, "k sweep, Fact Score (0–10), by image domain", "smfa k=5")[2] == "1.50"
    ablation_dom = md.split("## Ablation", 1)[1].split("## ", 1)[0]
    assert "by image domain" in ablation_dom
    checks = table_row(md, "Forgetting checks", "idk")
    assert checks[1:] == ["0.25", "75.00", "0.00", "–"]  # no over_refusal in old JSONs
    assert table_row(md, "Forgetting checks", "ga")[1] == "–"
    # Bold: lowest forget memory among methods (not the reference retain_only, 0.50).
    fact_table = md.split("**Fact Score (0–10)**", 1)[1].split("\n\n", 2)[1]
    assert "| **1.25** |" in fact_table and "**0.50**" not in fact_table
    assert "*retain_only (reference)*" in md
    # Ablation table: smfa (cr), smfa_c, idk with their settings.
    ablation = md.split("## Ablation", 1)[1].split("## ", 1)[0]
    assert "smfa: criteria=c, k=5" in ablation and "idk" in ablation
    # Escaping: the answer's HTML never reaches the page as markup.
    assert "<b>won't</b>" not in html and "&lt;b&gt;won&#x27;t&lt;/b&gt;" in html
    assert "<b>" not in md and "&lt;b&gt;won't&lt;/b&gt;" in md
    assert "smfa run " in md and "12.5 s" in md and "abc123" in md


def test_mean_std_over_seeds(tmp_path):
    run = make_run(tmp_path / "run", [1, 2], sweep=False)
    report(str(run))
    md = (run / "report.md").read_text()
    # forget_mem of smfa: 1.25 (seed 1) and 2.25 (seed 2): mean 1.75, std sqrt(0.5) = 0.71.
    assert table_row(md, "Fact Score (0–10)", "smfa")[2] == "1.75 ± 0.71"
    assert table_row(md, "Fact Score (0–10)", "smfa")[4] == "7.25 ± 0.00"
    assert "over 2 seeds" in md
    assert not (run / "plots" / "k_sweep.png").exists() and "## k sweep" not in md
    assert (run / "plots" / "mask_stats.png").is_file()


def test_deterministic(tmp_path):
    run = make_run(tmp_path / "run", [1])
    report(str(run))
    first = {
        p: p.read_bytes()
        for p in [run / "report.md", run / "report.html", *sorted((run / "plots").glob("*.png"))]
    }
    report(str(run))
    assert {p: p.read_bytes() for p in first} == first


def test_missing_eval_is_an_error(tmp_path):
    (tmp_path / "run").mkdir()
    with pytest.raises(SmfaError, match="eval: no evaluation results; run the eval stage first"):
        report(str(tmp_path / "run"))
    assert not (tmp_path / "run" / "report.md").exists()


def test_minimal_run_folder(tmp_path):
    """No manifest, only the original model's eval: the optional sections are left out."""
    run = tmp_path / "run"
    write(run / "eval" / "original.json", eval_json("original", 9.5))
    report(str(run))
    md = (run / "report.md").read_text()
    assert "*original (reference)*" in md and "## Ablation" not in md
    assert "## Mask statistics" not in md and "## k sweep" not in md
    assert sorted(p.name for p in (run / "plots").glob("*.png")) == ["tradeoff.png"]


def test_mean_std_and_module_type_helpers():
    assert mean_std([7.0, 8.0, None]) == (7.5, pytest.approx(0.5**0.5))
    assert mean_std([None]) == (None, None)
    expected = {"model.layers.0.mlp.up_proj.weight": "up_proj", "a.q_proj.weight@view0": "q_proj"}
    for key, kind in {**expected, "bias": "bias"}.items():
        assert module_type(key) == kind
