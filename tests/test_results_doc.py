"""docs/results.md and README's results block are written from committed summaries only."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def writer():
    spec = importlib.util.spec_from_file_location(
        "write_results", ROOT / "benchmarks" / "write_results.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


SUMMARY = {
    "title": "t",
    "command": "python benchmarks/x.py --runs 3",
    "machine": "2 CPU cores",
    "date": "2026-12-02",
    "seed": 0,
    "tables": {
        "t1": {
            "caption": "Cap",
            "headers": ["model", "score"],
            "rows": [["a", 1.234], ["b", "**2.00**"]],
        }
    },
    "values": {"x": 3.14159, "n": 12345, "s": "yes"},
}


def test_placeholders_are_filled_from_the_summary():
    w = writer()
    text = w.render(
        "{{meta:s}}\n{{table:s.t1}}\nx={{value:s.x}} {{value:s.x:.1f}} {{value:s.n}} {{value:s.s}}",
        {"s": SUMMARY},
    )
    assert "Command: `python benchmarks/x.py --runs 3`; machine: 2 CPU cores" in text
    assert "| model | score |\n|---|---:|\n| a | 1.23 |\n| b | **2.00** |" in text
    assert "x=3.14 3.1 12 345 yes" in text


def test_a_missing_summary_or_key_is_an_error():
    w = writer()
    with pytest.raises(KeyError, match="no docs/results/nope.json"):
        w.render("{{value:nope.x}}", {"s": SUMMARY})
    with pytest.raises(KeyError, match="no value 'y'"):
        w.render("{{value:s.y}}", {"s": SUMMARY})


def test_readme_block_is_replaced_between_the_markers():
    w = writer()
    text = "intro\n<!-- results:begin x -->\nold 1.00\n<!-- results:end -->\nafter\n"
    assert w.readme_with_results(text, "new 2.00\n") == (
        "intro\n<!-- results:begin x -->\nnew 2.00\n<!-- results:end -->\nafter\n"
    )


def test_committed_results_and_readme_are_current():
    """Nobody typed a number into docs/results.md or README: both are what the writer gives."""
    w = writer()
    stale = [p.name for p, text in w.outputs().items() if p.read_text() != text]
    assert not stale, f"{stale} stale: run python benchmarks/write_results.py"
