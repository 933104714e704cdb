"""``smfa bench import mllmu``: MLLMU-Bench (Liu et al., NAACL 2025, arXiv 2410.22108) as it
lies on disk after ``git clone https://huggingface.co/datasets/MLLMMU/MLLMU-Bench``.

Published layout (read from its dataset card and loaders): one folder per config holding
parquet shards, ``Full_Set`` (the 500 fictitious profiles: ``image``, ``ID``, ``biography``,
``Classification_Task`` {``Image_Textual_Questions``, ``Pure_Text_Questions``: [{``Question``,
``Options`` {A..D}, ``Correct_Answer``}]}, ``Generation_Task`` and ``Mask_Task`` [{``Question``,
``Ground_Truth``, ``Type``: Image_Textual | Pure_Text}]), ``forget_5/10/15`` and
``retain_95/90/85`` (the published splits, same columns), ``Test_Set`` (the same profiles with
paraphrased questions and new images), ``Retain_Set`` (real celebrities) and ``ft_Data``.
Mapping: docs/benchmark.md "Importing MLLMU-Bench and FIUBench".
"""

from __future__ import annotations

import io
import json
import random
import re
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

FORGET = {"forget05": "forget_5", "forget10": "forget_10", "forget15": "forget_15"}
QTYPE = {"Image_Textual": "image_memory", "Pure_Text": "text_memory"}
TASKS = ("Classification_Task", "Generation_Task", "Mask_Task")
UNUSED = {
    "Retain_Set": "Retain_Set: real-celebrity profiles (not fictitious; smfa trains every "
    "profile it holds)",
    "ft_Data": "ft_Data: the fine-tuning copy of Full_Set's questions (Full_Set is read)",
}


def read_parquet_dir(folder: Path, columns: list[str] | None = None) -> list[dict]:
    """Every row of the parquet shards in ``folder`` (sorted by file name); only ``columns``
    (those present) when given."""
    import pyarrow.parquet as pq

    files = sorted(folder.glob("*.parquet"))
    if not files:
        raise SmfaError(f"{folder}: no parquet files (expected the MLLMU-Bench layout)")
    rows: list[dict] = []
    for f in files:
        try:
            names = pq.read_schema(f).names
            cols = None if columns is None else [c for c in columns if c in names]
            rows += pq.read_table(f, columns=cols).to_pylist()
        except Exception as e:  # pyarrow raises several types for broken files
            raise SmfaError(f"{f}: not a readable parquet file ({type(e).__name__})") from None
    return rows


def _image(value, size: int | None) -> Image.Image:
    data = value.get("bytes") if isinstance(value, dict) else value
    if not isinstance(data, (bytes, bytearray)):
        raise ValueError("no image bytes")
    with Image.open(io.BytesIO(data)) as img:
        img = img.convert("RGB")
    return img.resize((size, size), Image.Resampling.BICUBIC) if size else img


def _profile_name(bio, pid: str) -> tuple[str, dict]:
    """Name and private facts from the biography: a JSON object (its ``Name`` and other
    fields) or prose (the words before the first " is "/" was "/",")."""
    private: dict[str, str] = {}
    if isinstance(bio, str) and bio.strip().startswith("{"):
        try:
            obj = json.loads(bio)
        except ValueError:
            obj = None
        if isinstance(obj, dict):
            private = {slug(k).lower(): str(v) for k, v in obj.items() if not isinstance(v, dict)}
            name = private.pop("name", "")
            if name:
                return name, private
    if isinstance(bio, str) and bio.strip():
        m = re.match(r"\s*([A-Z][\w'.-]*(?:\s+[A-Z][\w'.-]*){0,4})\s*(?:,|\bis\b|\bwas\b)", bio)
        if m:
            return m.group(1), {"biography": bio.strip()}
        private = {"biography": bio.strip()}
    return f"Profile {pid}", private


def _questions(row: dict) -> dict[str, list[dict]]:
    """``{task_index_key: item}`` of one profile: ``classification_i``, ``generation_i``,
    ``cloze_i`` in published order; each item with ``qtype``, ``question``, ``answer`` and,
    for classification, ``options`` (gold first)."""
    out = {}
    cls = row.get("Classification_Task") or {}
    i = 0
    for group, qt in (
        ("Image_Textual_Questions", "image_memory"),
        ("Pure_Text_Questions", "text_memory"),
    ):
        for q in cls.get(group) or []:
            out[f"classification_{i}"] = {"qtype": qt, "raw": q}
            i += 1
    for task, name in (("Generation_Task", "generation"), ("Mask_Task", "cloze")):
        for j, q in enumerate(row.get(task) or []):
            out[f"{name}_{j}"] = {"qtype": QTYPE.get((q or {}).get("Type")), "raw": q}
    return out


def _mc(raw: dict) -> tuple[str, str, list[str]] | None:
    """(question, gold value, options with gold first) of a classification item."""
    opts = raw.get("Options") or {}
    if not isinstance(opts, dict):
        return None
    letters = [k for k in sorted(opts) if isinstance(opts[k], str) and opts[k].strip()]
    values = [opts[k].strip() for k in letters]
    gold = str(raw.get("Correct_Answer") or "").strip()
    m = re.match(r"\(?([A-Za-z])(?:[.):]\s*|\s*$)", gold)  # "B", "b)", "(B) Lisbon", "B. Lisbon"
    if gold not in values and m and m.group(1).upper() in letters:
        gold = opts[m.group(1).upper()].strip()
    if gold not in values or len(values) < 4 or not raw.get("Question"):
        return None
    return raw["Question"], gold, [gold, *[v for v in values if v != gold]]


def import_mllmu(
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
    """Convert an MLLMU-Bench folder (the Hugging Face layout on disk) into a benchmark folder.

    Writes our benchmark format (see `smfa bench build`) plus ``import_report.json`` (what did
    not map, also printed). Mapping: docs/benchmark.md "Importing MLLMU-Bench and FIUBench".

    Args:
        path: MLLMU-Bench folder (holding Full_Set/, forget_5/, forget_10/, forget_15/, ...).
        out: benchmark folder to write.
        image_size: resize portraits to this square size in pixels (default: keep).
        retain_few: size of the retain_few sample (default: 5% of retain, at least 4).
        holdout: retain profiles moved to holdout (never trained; default 0 keeps the
            published retain split).
        strangers: retain profiles moved to strangers (trained with refusals; default 0).
        seed: seed of every choice the layout leaves open (samples, option order).
        overwrite: replace an existing folder that is not a benchmark.
        quiet: do not print the report.
    """
    src, dst = Path(path), Path(out)
    if not (src / "Full_Set").is_dir():
        raise SmfaError(f"{src}: Full_Set/ not found (expected the MLLMU-Bench layout)")
    if image_size is not None and not 16 <= image_size <= 2048:
        raise SmfaError(f"image_size: expected a value in [16, 2048], got {image_size}")
    check_target(dst, src, overwrite)
    report = Report("MLLMU-Bench", src)
    full = read_parquet_dir(src / "Full_Set")

    people, items, id_of = [], {}, {}
    for n, row in enumerate(full):
        sid = str(row.get("ID") or "").strip()
        where = f"Full_Set row {n}"
        if not sid or sid in id_of:
            report.skip("Full_Set rows without a unique ID", where)
            continue
        pid = slug(sid)
        try:
            img = _image(row.get("image"), image_size)
        except Exception:  # PIL raises many types for broken images
            report.skip("profiles whose image does not decode", sid)
            continue
        name, private = _profile_name(row.get("biography"), sid)
        id_of[sid] = pid
        people.append(
            {
                "id": pid,
                "source_id": sid,
                "name": name,
                "private": private,
                "image": img,
                "image_rel": f"images/faces/{pid}.png",
            }
        )
        items[pid] = _questions(row)
        if row.get("question") or row.get("answer"):
            report.skip("Full_Set question/answer columns (duplicates of the task questions)", sid)
    if not people:
        raise SmfaError(f"{src / 'Full_Set'}: no profile rows with an ID and an image")
    _dedupe_names(people, report)

    paraphrase = _paraphrases(src, id_of, report)
    pools: dict[str, list[str]] = {}
    for qs in items.values():
        for key, it in qs.items():
            raw = it["raw"] or {}
            if not key.startswith("classification") and raw.get("Ground_Truth"):
                value = key_of(str(raw["Ground_Truth"]))
                pools.setdefault(key, []).append(value)  # the same slot (task, index)
                pools.setdefault(key.rsplit("_", 1)[0], []).append(value)  # the same task
    rows_of: dict[str, list[dict]] = {}
    for p in people:
        pid = p["id"]
        rng = random.Random(f"{seed}:questions:{pid}")
        rows_of[pid] = []
        for key, it in items[pid].items():
            row = _row(pid, key, it, p["image_rel"], pools, paraphrase.get((pid, key), []), rng)
            if isinstance(row, str):
                report.skip(row, f"{p['source_id']}/{key}")
            else:
                rows_of[pid].append(row)
        report.mapped["questions"] += len(rows_of[pid])
    if paraphrase:
        report.note("paraphrases: the Test_Set phrasing of the same question (same task, index)")
    report.note(
        "second training phrasing and missing paraphrases are ours "
        "('Please answer this question: ...', 'Here is a question for you. ...')"
    )
    report.note(
        "generation and cloze rows: key = the gold answer; perturbed answers and options = "
        "other profiles' answers to the same task and index, else to the same task "
        "(MLLMU gives none)"
    )

    members = _splits(src, id_of, rows_of, report)
    retain = [p for p in id_of.values() if p not in set(members["forget15"]) and rows_of.get(p)]
    retain, members["holdout"] = take_out(retain, holdout, "holdout", seed)
    retain, members["strangers"] = take_out(retain, strangers, "strangers", seed)
    members["retain"] = retain
    members["retain_few"] = retain_few_sample(retain, retain_few, seed)
    for folder, why in UNUSED.items():
        if (src / folder).is_dir():
            report.skip(why, folder)
    if (src / "Test_Set").is_dir():
        report.skip(
            "Test_Set images (new poses of trained profiles; not a split of ours)", "images"
        )
    report.note("unseen, scenes_train, scenes_eval: empty (MLLMU-Bench has no such data)")
    report.note("understanding rows: none (MLLMU-Bench asks no question about visible features)")
    params = {
        "image_size": image_size,
        "retain_few": retain_few,
        "holdout": holdout,
        "strangers": strangers,
    }
    return write_bench(
        dst, "MLLMU-Bench", src, people, rows_of, members, report, seed, params, quiet
    )


def _row(pid, key, it, image, pools, paraphrases, rng) -> dict | str:
    """One question row, or the reason it did not map."""
    raw, qtype = it["raw"] or {}, it["qtype"]
    if qtype is None:
        return "questions with an unknown Type (not Image_Textual or Pure_Text)"
    if key.startswith("classification"):
        mc = _mc(raw)
        if mc is None:
            return "classification questions without 4 options and a gold answer among them"
        question, gold, options = mc
        return make_row(
            pid, qtype, key, image, question, gold, [gold], options[1:], paraphrases, rng, options
        )
    question, answer = raw.get("Question"), str(raw.get("Ground_Truth") or "").strip()
    if not question or not answer:
        return "generation/cloze questions without a question or ground truth"
    keys = [key_of(answer)]
    wrong = wrong_values(keys[0], pools.get(key, []), rng)
    if len(wrong) < 3:
        task = [v for v in pools.get(key.rsplit("_", 1)[0], []) if v not in wrong]
        wrong += wrong_values(keys[0], task, rng, 3 - len(wrong))
    if len(wrong) < 3:
        return "generation/cloze questions with fewer than 3 distinct wrong answers available"
    return make_row(pid, qtype, key, image, question, answer, keys, wrong, paraphrases, rng)


def _dedupe_names(people: list[dict], report: Report) -> None:
    seen: dict[str, int] = {}
    for p in people:
        if p["name"] in seen:
            report.skip("duplicate profile names (suffixed with the ID)", p["source_id"])
            p["name"] = f"{p['name']} ({p['source_id']})"
        seen[p["name"]] = 1


def _paraphrases(src: Path, id_of: dict, report: Report) -> dict[tuple[str, str], list[str]]:
    """Test_Set questions by (profile id, task key): the held-out phrasing of each question."""
    if not (src / "Test_Set").is_dir():
        report.note("Test_Set/ not found: every paraphrase is ours")
        return {}
    out = {}
    for row in read_parquet_dir(src / "Test_Set", ["ID", *TASKS]):
        pid = id_of.get(str(row.get("ID") or "").strip())
        if pid is None:
            report.skip("Test_Set rows of unknown profiles", str(row.get("ID")))
            continue
        for key, it in _questions(row).items():
            q = (it["raw"] or {}).get("Question")
            if q:
                out[(pid, key)] = [q]
    return out


def _splits(src: Path, id_of: dict, rows_of: dict, report: Report) -> dict[str, list[str]]:
    """The published forget sets, made nested (forget05 ⊂ forget10 ⊂ forget15) if needed."""
    members: dict[str, list[str]] = {}
    acc: list[str] = []
    for ours, theirs in FORGET.items():
        folder = src / theirs
        if not folder.is_dir():
            raise SmfaError(f"{folder}: not found (MLLMU-Bench forget split)")
        ids = []
        for row in read_parquet_dir(folder, ["ID"]):
            sid = str(row.get("ID") or "").strip()
            pid = id_of.get(sid)
            if pid is None or not rows_of.get(pid):
                report.skip(f"{theirs} IDs not among the imported Full_Set profiles", sid)
            elif pid not in ids:
                ids.append(pid)
        added = [p for p in acc if p not in ids]
        if added:
            report.note(f"{ours}: {len(added)} profiles of the smaller forget set added (nesting)")
        acc = sorted(set(ids) | set(acc))
        members[ours] = acc
    for pct in (95, 90, 85):
        folder = src / f"retain_{pct}"
        if folder.is_dir():
            report.mapped[f"retain_{pct} (published) profiles"] = len(
                read_parquet_dir(folder, ["ID"])
            )
    return members
