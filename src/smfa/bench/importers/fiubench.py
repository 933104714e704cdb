"""``smfa bench import fiubench``: FIUBench (Ma et al., "Benchmarking Vision Language Model
Unlearning via Fictitious Facial Identity Dataset", arXiv 2411.03554) as it lies on disk after
``git clone https://huggingface.co/datasets/gray311/FIUBench`` and unzipping its images.

Published layout (read from its loader ``data_module.py`` and config): ``full.json`` (a JSON
list, or one object per line) of identities {``unique_id``, ``image_path``, ``qa_list``:
[{``question``, ``answer``, ``paraphrased_question`` (str or list), ``perturbed_answer``
(list), ...}]} and ``split.json`` {``forget1``, ``forget5``, ``forget10``, ``retain5``,
``retain15``: [unique_id]}; the three forget sets are disjoint, retain is everyone else.
Mapping: docs/benchmark.md "Importing MLLMU-Bench and FIUBench".
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from PIL import Image

from smfa.bench.importers.common import (
    Report,
    check_target,
    key_of,
    make_row,
    retain_few_sample,
    slug,
    take_out,
    write_bench,
    wrong_values,
)
from smfa.errors import SmfaError

SPLIT_KEYS = ("forget1", "forget5", "forget10")


def _read_json(path: Path):
    if not path.is_file():
        raise SmfaError(f"{path}: not found (expected the FIUBench layout)")
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:  # one object per line (the loader accepts both)
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    except ValueError as e:
        raise SmfaError(f"{path}: invalid JSON ({e})") from None


def find_image(root: Path, rel: str) -> Path | None:
    """``image_path`` resolved against the FIUBench folder: as written, then without its
    leading folders (the loader's paths start at the repository, e.g. ``./dataset/...``),
    then by file name anywhere below ``root``."""
    parts = Path(rel.replace("\\", "/")).parts
    parts = [p for p in parts if p not in (".", "/")]
    for i in range(len(parts)):
        cand = root.joinpath(*parts[i:])
        if cand.is_file():
            return cand
    if parts:
        hits = sorted(root.rglob(parts[-1]))
        if hits:
            return hits[0]
    return None


def import_fiubench(
    path: str,
    out: str,
    image_size: int | None = None,
    retain_few: int | None = None,
    holdout: int = 0,
    strangers: int = 0,
    seed: int = 0,
    overwrite: bool = False,
    quiet: bool = False,
) -> Path:
    """Convert a FIUBench folder (full.json, split.json, images) into a benchmark folder.

    Writes our benchmark format (see `smfa bench build`) plus ``import_report.json`` (what did
    not map, also printed). Mapping: docs/benchmark.md "Importing MLLMU-Bench and FIUBench".

    Args:
        path: FIUBench folder (holding full.json, split.json and the face images).
        out: benchmark folder to write.
        image_size: resize portraits to this square size in pixels (default: keep).
        retain_few: size of retain_few (default: FIUBench's retain5, else 5% of retain).
        holdout: retain profiles moved to holdout (never trained; default 0).
        strangers: retain profiles moved to strangers (trained with refusals; default 0).
        seed: seed of every choice the layout leaves open (samples, option order).
        overwrite: replace an existing folder that is not a benchmark.
        quiet: do not print the report.
    """
    src, dst = Path(path), Path(out)
    if image_size is not None and not 16 <= image_size <= 2048:
        raise SmfaError(f"image_size: expected a value in [16, 2048], got {image_size}")
    full = _read_json(src / "full.json")
    split = _read_json(src / "split.json")
    if not isinstance(full, list):
        raise SmfaError(f"{src / 'full.json'}: expected a list of identities")
    if not isinstance(split, dict) or not all(isinstance(split.get(k), list) for k in SPLIT_KEYS):
        raise SmfaError(f"{src / 'split.json'}: expected lists {', '.join(SPLIT_KEYS)}")
    check_target(dst, src, overwrite)
    report = Report("FIUBench", src)

    people, raw_qas, id_of = [], {}, {}
    for n, line in enumerate(full):
        sid = str((line or {}).get("unique_id") or "").strip() if isinstance(line, dict) else ""
        if not sid or sid in id_of:
            report.skip("full.json entries without a unique unique_id", f"entry {n}")
            continue
        img_file = find_image(src, str(line.get("image_path") or ""))
        if img_file is None:
            report.skip("identities whose image_path is not found", sid)
            continue
        try:
            with Image.open(img_file) as im:
                img = im.convert("RGB")
        except Exception:  # PIL raises many types for broken images
            report.skip("identities whose image does not decode", sid)
            continue
        if image_size:
            img = img.resize((image_size, image_size), Image.Resampling.BICUBIC)
        pid = slug(sid)
        id_of[sid] = pid
        name = str(line.get("name") or f"Person {sid}")
        people.append(
            {
                "id": pid,
                "source_id": sid,
                "name": name,
                "image": img,
                "image_rel": f"images/faces/{pid}.png",
            }
        )
        raw_qas[pid] = [qa for qa in (line.get("qa_list") or []) if isinstance(qa, dict)]
    if not people:
        raise SmfaError(f"{src / 'full.json'}: no identity with a readable image")

    pools: dict[int, list[str]] = {}
    for qas in raw_qas.values():
        for i, qa in enumerate(qas):
            if qa.get("answer"):
                pools.setdefault(i, []).append(key_of(str(qa["answer"])))
    rows_of = {}
    for p in people:
        pid, rng = p["id"], random.Random(f"{seed}:questions:{p['id']}")
        rows_of[pid] = []
        for i, qa in enumerate(raw_qas[pid]):
            row = _row(pid, i, qa, p["image_rel"], pools, rng, report)
            if isinstance(row, str):
                report.skip(row, f"{p['source_id']}/q{i:02d}")
            else:
                rows_of[pid].append(row)
        report.mapped["questions"] += len(rows_of[pid])
    report.note("every question is an image_memory row (FIUBench asks about the pictured person)")
    report.note("text_memory and understanding rows: none (no names, no visible-feature questions)")
    report.note("unseen, scenes_train, scenes_eval: empty (FIUBench has no such data)")
    report.note("second training phrasing is ours ('Please answer this question: ...')")

    members = _splits(split, id_of, rows_of, report)
    forgotten = set(members["forget15"])
    retain = [p for p in id_of.values() if p not in forgotten and rows_of[p]]
    retain, members["holdout"] = take_out(retain, holdout, "holdout", seed)
    retain, members["strangers"] = take_out(retain, strangers, "strangers", seed)
    members["retain"] = retain
    published = [id_of[s] for s in split.get("retain5") or [] if id_of.get(s) in set(retain)]
    if retain_few is None and published:
        members["retain_few"] = sorted(published)
        report.note("retain_few = FIUBench's retain5 (those still in retain)")
    else:
        members["retain_few"] = retain_few_sample(retain, retain_few, seed)
    for extra in ("test_full.json", "full_data.json", "idontknow.json"):
        if (src / extra).is_file():
            report.skip(f"{extra}: not read (full.json and smfa's refusal pool are used)", extra)
    params = {
        "image_size": image_size,
        "retain_few": retain_few,
        "holdout": holdout,
        "strangers": strangers,
    }
    return write_bench(dst, "FIUBench", src, people, rows_of, members, report, seed, params, quiet)


def _as_list(v) -> list[str]:
    if isinstance(v, str):
        return [v] if v.strip() else []
    return [str(x) for x in v if isinstance(x, str) and x.strip()] if isinstance(v, list) else []


def _row(pid: str, i: int, qa: dict, image: str, pools, rng, report: Report) -> dict | str:
    question, answer = qa.get("question"), str(qa.get("answer") or "").strip()
    if not isinstance(question, str) or not question.strip() or not answer:
        return "questions without a question or answer"
    key = key_of(answer)
    wrong = [key_of(a) for a in _as_list(qa.get("perturbed_answer"))]
    wrong = [
        w
        for w in dict.fromkeys(wrong)
        if w.lower() != key.lower()
        and key.lower() not in w.lower()
        and w.lower() not in key.lower()
    ]
    if len(wrong) < 3:
        report.note("perturbed answers completed from other identities' answers to question i")
        wrong += wrong_values(
            key, [v for v in pools.get(i, []) if v not in wrong], rng, 3 - len(wrong)
        )
    if len(wrong) < 3:
        return "questions with fewer than 3 distinct wrong answers available"
    paraphrases = [q for q in _as_list(qa.get("paraphrased_question")) if q != question]
    return make_row(
        pid, "image_memory", f"q{i:02d}", image, question, answer, [key], wrong, paraphrases, rng
    )


def _splits(split: dict, id_of: dict, rows_of: dict, report: Report) -> dict[str, list[str]]:
    """FIUBench's disjoint forget sets made nested: forget05 = forget5, forget15 = forget5 ∪
    forget10, forget10 = forget5 ∪ the first half of forget10 (published order); forget1
    stays in retain."""

    def ids(key: str) -> list[str]:
        out = []
        for sid in split.get(key) or []:
            pid = id_of.get(str(sid))
            if pid is None or not rows_of.get(pid):
                report.skip(f"split.json {key} ids not among the imported identities", str(sid))
            elif pid not in out:
                out.append(pid)
        return out

    f5, f10 = ids("forget5"), ids("forget10")
    f10 = [p for p in f10 if p not in f5]
    half = f10[: len(f10) // 2]
    report.note(
        "forget05 = forget5; forget10 = forget5 + the first half of forget10; "
        "forget15 = forget5 + forget10; forget1 stays in retain"
    )
    return {
        "forget05": sorted(f5),
        "forget10": sorted(f5 + half),
        "forget15": sorted(f5 + f10),
    }
