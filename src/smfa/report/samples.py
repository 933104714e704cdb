"""Sample answers: the same few questions answered by every model, side by side.

Picked deterministically from the first reference model's records (file order): forget-set
memory questions (image and text views alternating), retain memory questions, and image
understanding questions (forget set first), preferring ids that every model answered.
"""

from __future__ import annotations

from collections.abc import Iterable

from smfa.eval.metrics import MEMORY_QTYPES, UNDERSTANDING_QTYPE
from smfa.report.doc import Table
from smfa.report.rundir import Entry, Run

Key = tuple[str, str]  # (split, id)


def _records(entry: Entry, seed: str) -> list[dict]:
    """The entry's records of one seed ([] when that seed has none)."""
    return list((entry.evals.get(seed) or {}).get("records") or [])


def _interleave(rows: list[dict], n: int) -> list[dict]:
    """Up to ``n`` rows taking question types in turn (image memory, text memory, ...)."""
    by_type: dict[str, list[dict]] = {}
    for r in rows:
        by_type.setdefault(r.get("qtype", ""), []).append(r)
    out, queues = [], list(by_type.values())
    while len(out) < n and any(queues):
        for q in queues:
            if q and len(out) < n:
                out.append(q.pop(0))
    return out


def pick(
    records: list[dict],
    forget: str | None,
    common: set[Key],
    counts: tuple[int, int, int] = (4, 2, 2),
) -> list[dict]:
    """Forget memory, retain memory and understanding questions (``counts`` of each)."""
    n_forget, n_retain, n_und = counts

    def pool(pred) -> list[dict]:
        rows = [r for r in records if pred(r)]
        both = [r for r in rows if (r.get("split"), r.get("id")) in common]
        return both or rows

    def memory(split: str | None):
        return lambda r: r.get("qtype") in MEMORY_QTYPES and r.get("split") == split

    f_mem, r_mem = pool(memory(forget)), pool(memory("retain"))
    und = pool(
        lambda r: r.get("qtype") == UNDERSTANDING_QTYPE and r.get("split") in (forget, "retain")
    )
    und = _interleave(sorted(und, key=lambda r: r.get("split") != forget), n_und)
    return _interleave(f_mem, n_forget) + r_mem[:n_retain] + und


def _text(value) -> str:
    """A record field as text, ``–`` when missing."""
    return "–" if value is None else str(value)


def _common_keys(lookups: Iterable[dict[Key, dict]]) -> set[Key]:
    """The (split, id) pairs every model answered."""
    sets = [set(d) for d in lookups]
    return set.intersection(*sets) if sets else set()


def sample_table(run: Run) -> Table | None:
    """Question, gold answer and one answer column per model; ``None`` without records."""
    models = run.models
    if not models or not run.seeds:
        return None
    seed = run.seeds[0]
    lookups = [{(r.get("split"), r.get("id")): r for r in _records(e, seed)} for e in models]
    base = next((_records(e, seed) for e in models if _records(e, seed)), [])
    chosen = pick(base, run.forget, _common_keys(d for d in lookups if d))
    if not chosen:
        return None
    rows = []
    for r in chosen:
        key = (r.get("split"), r.get("id"))
        answers = [_text((d.get(key) or {}).get("answer")) for d in lookups]
        kind = f"{r.get('split')} / {r.get('qtype')}"
        rows.append([kind, str(r.get("question", "")), str(r.get("gold", "")), *answers])
    headers = ["Split / type", "Question", "Gold", *[e.label for e in models]]
    note = f"Greedy answers (seed {seed})." if len(run.seeds) > 1 else "Greedy answers."
    return Table("", headers, rows, [False] * len(headers), caption=note)
