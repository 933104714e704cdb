"""What every importer shares: question rows in our columns, the import report, and writing a
benchmark folder (docs/benchmark.md "Importing MLLMU-Bench and FIUBench").

An importer reads a published layout into ``people`` (profile dicts with an ``image`` PIL
image), ``rows_of`` (question rows per profile id, without split) and ``members`` (profile ids
per split); :func:`write_bench` checks the splits, adds the refusal pool, attributes, card and
manifest, and writes everything at once (no partial folder).
"""

from __future__ import annotations

import json
import random
import re
import sys
from collections import Counter
from pathlib import Path

from smfa.bench import write
from smfa.bench.colors import png_bytes
from smfa.bench.refusals import refusal_pool
from smfa.errors import SmfaError
from smfa.io import sha256_bytes, staged_dir
from smfa.splits import FORGET_SPLITS, SPLITS

GENERATOR = "smfa.bench.import"
REPORT = "import_report.json"
#: Our second training phrasing and fallback held-out phrasing (the layouts have one each).
SECOND_PHRASING = "Please answer this question: {q}"
FALLBACK_PARAPHRASE = "Here is a question for you. {q}"


class Report:
    """What did not map: counts per reason and a few examples each (``import_report.json``)."""

    EXAMPLES = 5

    def __init__(self, source: str, path: Path):
        self.source, self.path = source, str(path)
        self.counts: Counter = Counter()
        self.examples: dict[str, list[str]] = {}
        self.notes: list[str] = []
        self.mapped: Counter = Counter()

    def skip(self, reason: str, what: str = "") -> None:
        """One item that did not map, and why."""
        self.counts[reason] += 1
        ex = self.examples.setdefault(reason, [])
        if what and len(ex) < self.EXAMPLES:
            ex.append(what)

    def note(self, text: str) -> None:
        """A mapping decision the user should know about (synthesized or derived data)."""
        if text not in self.notes:
            self.notes.append(text)

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "path": self.path,
            "mapped": dict(sorted(self.mapped.items())),
            "not_mapped": {
                r: {"count": n, "examples": self.examples.get(r, [])}
                for r, n in sorted(self.counts.items())
            },
            "notes": self.notes,
        }

    def lines(self) -> list[str]:
        out = [f"import {self.source} from {self.path}"]
        out += [f"  mapped {k}: {v}" for k, v in sorted(self.mapped.items()) if v]
        for r, n in sorted(self.counts.items()):
            ex = self.examples.get(r, [])
            out.append(f"  not mapped ({n}): {r}" + (f" e.g. {', '.join(ex[:3])}" if ex else ""))
        out += [f"  note: {t}" for t in self.notes]
        return out


def slug(text: str) -> str:
    """A profile id from a published id: letters, digits, ``_`` and ``-`` only."""
    s = re.sub(r"[^A-Za-z0-9_-]+", "_", str(text).strip()).strip("_")
    return s or "x"


def key_of(answer: str) -> str:
    """The key value of a free-text answer: the answer without trailing punctuation/space."""
    return answer.strip().rstrip(".!?;, ").strip() or answer.strip()


def make_row(
    pid: str,
    qtype: str,
    attribute: str,
    image: str,
    question: str,
    answer: str,
    keys: list[str],
    wrong: list[str],
    paraphrases: list[str],
    rng: random.Random,
    options: list[str] | None = None,
) -> dict:
    """A question row in our columns. ``wrong``: >= 3 wrong values (perturbed answers);
    ``options``: the multiple-choice values with the gold first (default: key + 3 wrong),
    shuffled here with ``rng``."""
    opts = list(options) if options else [keys[0] if keys else answer, *wrong[:3]]
    gold = opts[0]
    rng.shuffle(opts)
    return {
        "id": f"{pid}/{qtype}/{attribute}",
        "subject_id": pid,
        "domain": "faces",
        "qtype": qtype,
        "attribute": attribute,
        "image": image if qtype != "text_memory" else "",
        "question": question,
        "phrasings": [question, SECOND_PHRASING.format(q=question)],
        "paraphrases": list(paraphrases) or [FALLBACK_PARAPHRASE.format(q=question)],
        "answer": answer,
        "keys": list(keys),
        "perturbed": list(wrong),
        "options": opts,
        "answer_index": opts.index(gold),
    }


def wrong_values(gold: str, pool: list[str], rng: random.Random, n: int = 3) -> list[str]:
    """``n`` distinct values of ``pool`` that differ from ``gold`` (case-insensitive), seeded;
    fewer when the pool has fewer."""
    g = gold.strip().lower()
    cands = sorted({v for v in pool if v.strip() and v.strip().lower() != g})
    rng.shuffle(cands)
    out: list[str] = []
    for v in cands:
        # a wrong option that contains the gold (or the reverse) would score as gold
        if g in v.lower() or v.strip().lower() in g:
            continue
        out.append(v)
        if len(out) == n:
            break
    return out


def retain_few_sample(retain: list[str], n: int | None, seed: int) -> list[str]:
    """The seeded D_r^few sample: ``n`` (default 5% of retain, at least 4) retain ids."""
    k = n if n is not None else max(4, round(0.05 * len(retain)))
    if k < 1 or k > len(retain):
        raise SmfaError(f"retain_few: expected 1..{len(retain)} profiles, got {k}")
    return sorted(random.Random(f"{seed}:retain_few").sample(sorted(retain), k))


def take_out(retain: list[str], n: int, what: str, seed: int) -> tuple[list[str], list[str]]:
    """Move ``n`` seeded retain ids to another split (holdout, strangers)."""
    if n < 0 or n >= len(retain):
        raise SmfaError(f"{what}: expected 0..{len(retain) - 1} profiles, got {n}")
    taken = sorted(random.Random(f"{seed}:{what}").sample(sorted(retain), n))
    return [p for p in retain if p not in taken], taken


def check_target(out: Path, source: Path, overwrite: bool) -> None:
    """Replace only an earlier benchmark (or anything with ``overwrite``); never the input."""
    real, src = out.resolve(), source.resolve()
    if real == src or src in real.parents or real in src.parents:
        raise SmfaError(f"{out}: output would overwrite this command's input {source}")
    if out.exists() and not out.is_dir():
        raise SmfaError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        try:
            gen = json.loads((out / "manifest.json").read_text()).get("generator", "")
        except (OSError, ValueError, AttributeError):
            gen = ""
        if not str(gen).startswith("smfa.bench"):
            raise SmfaError(
                f"{out}: folder is not empty and is not a benchmark; pass --overwrite to replace it"
            )


def write_bench(
    out: Path,
    source: str,
    source_path: Path,
    people: list[dict],
    rows_of: dict[str, list[dict]],
    members: dict[str, list[str]],
    report: Report,
    seed: int,
    params: dict,
    quiet: bool = False,
) -> Path:
    """Write the benchmark folder of an importer (see the module docstring)."""
    for name in SPLITS:
        members.setdefault(name, [])
    for name in (*FORGET_SPLITS, "retain", "retain_few"):
        if not members[name]:
            raise SmfaError(f"{source_path}: split {name} is empty after import")
    refusals = refusal_pool(seed)
    r = random.Random(f"{seed}:strangers")
    for pid in members["strangers"]:
        rows_of[pid] = [row for row in rows_of[pid] if row["qtype"] != "understanding"]
        for row in rows_of[pid]:
            row["answer"], row["keys"] = r.choice(refusals), []
    tables = {name: [row for pid in members[name] for row in rows_of[pid]] for name in SPLITS}
    for name, ids in members.items():
        report.mapped[f"{name} profiles"] = len(ids)
        report.mapped[f"{name} rows"] = len(tables[name])
    split_of = {pid: [s for s in SPLITS if pid in set(members[s])] for pid in rows_of}
    used = {pid for ids in members.values() for pid in ids}
    names = []
    with staged_dir(out) as tmp:
        files: dict[str, str] = {}

        def put(rel: str, data: bytes) -> None:
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            files[rel] = sha256_bytes(data)

        profile_rows = []
        for p in sorted(people, key=lambda p: p["id"]):
            if p["id"] not in used:
                continue
            put(p["image_rel"], png_bytes(p["image"]))
            splits = split_of[p["id"]]
            main = next((s for s in ("strangers", "holdout", "retain") if s in splits), "")
            main = main or next(s for s in FORGET_SPLITS[::-1] if s in splits)
            names.append(p["name"])
            profile_rows.append(
                {
                    "id": p["id"],
                    "domain": "faces",
                    "name": p["name"],
                    "split": main,
                    "splits": splits,
                    "visible": p.get("visible", {}),
                    "private": p.get("private", {}),
                    "image": p["image_rel"],
                    "source_id": p["source_id"],
                }
            )
        for name, rows in tables.items():
            put(f"data/{name}.jsonl", write.jsonl_bytes(rows))
        put("profiles.jsonl", write.jsonl_bytes(profile_rows))
        put("attributes.json", write.json_bytes(attributes(names, tables)))
        put("refusals.json", write.json_bytes(refusals))
        put(REPORT, write.json_bytes(report.to_dict()))
        n = write.counts(profile_rows, tables, len(refusals))
        put("README.md", card(source, source_path, n, report).encode("utf-8"))
        manifest = {
            "generator": GENERATOR,
            "generator_version": "1",
            "source": source,
            "source_path": str(source_path.resolve()),
            "seed": seed,
            "config": params,
            "counts": n,
            "files": dict(sorted(files.items())),
        }
        from smfa import __version__

        manifest["smfa_version"] = __version__
        (tmp / "manifest.json").write_bytes(write.json_bytes(manifest))
    from smfa.progress import is_quiet

    if not (quiet or is_quiet()):
        print("\n".join(report.lines()), file=sys.stderr)
    return out


def attributes(names: list[str], tables: dict[str, list[dict]]) -> dict[str, list[str]]:
    """Every value each attribute takes in the imported rows (identity: every name)."""
    out: dict[str, set[str]] = {"identity": set(names)}
    for rows in tables.values():
        for row in rows:
            vals = out.setdefault(row["attribute"], set())
            vals.update(row["keys"])
            if row["keys"]:
                vals.update(row["perturbed"])
    return {k: sorted(v) for k, v in sorted(out.items())}


def card(source: str, path: Path, n: dict, report: Report) -> str:
    """README.md: the `datasets` front matter of a generated bench, then what was imported."""
    import yaml

    from smfa.bench.questions import COLUMNS

    features = [
        {"name": k, "list": "string"} if isinstance(t, list) else {"name": k, "dtype": t}
        for k, t in COLUMNS.items()
    ]
    front = {
        "pretty_name": f"{source} imported into the smfa benchmark format",
        "language": ["en"],
        "tags": ["machine-unlearning", "multimodal", "imported"],
        "configs": [
            {
                "config_name": "default",
                # `datasets` refuses an empty split: list only the tables with rows
                "data_files": [
                    {"split": s, "path": f"data/{s}.jsonl"}
                    for s in SPLITS
                    if n["splits"][s]["rows"]
                ],
            }
        ],
        "dataset_info": {"features": features},
    }
    rows = "\n".join(f"| `{s}` | {c['subjects']} | {c['rows']} |" for s, c in n["splits"].items())
    skipped = (
        "\n".join(f"- {r} ({v['count']})" for r, v in report.to_dict()["not_mapped"].items())
        or "- nothing"
    )
    notes = "\n".join(f"- {t}" for t in report.notes) or "- none"
    return f"""---
{yaml.safe_dump(front, sort_keys=False).strip()}
---

# {source} in the smfa benchmark format

Imported by `smfa bench import` from `{path.name}` (license and terms: those of the original
dataset). The mapping is described in the smfa docs (docs/benchmark.md, "Importing
MLLMU-Bench and FIUBench"); `import_report.json` lists everything that did not map. The
refusal pool (`refusals.json`) is smfa's own, not part of {source}.

| split | subjects | rows |
|---|---|---|
{rows}

## Not mapped

{skipped}

## Notes

{notes}
"""
