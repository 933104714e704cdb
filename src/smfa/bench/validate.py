"""`smfa bench validate`: check a benchmark folder against its manifest and the data contract.

``find_problems(dir)`` is the pure checker: one line per problem, naming the file, the line
and the field (``data/forget05.jsonl: line 3: field 'answer' is missing``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from PIL import Image

from smfa.bench.config import DOMAINS, PROFILE_SPLITS, SCENE_SPLITS, SPLITS
from smfa.bench.questions import COLUMNS, QTYPES
from smfa.errors import SmfaError
from smfa.io import sha256_file
from smfa.splits import FORGET_SPLITS

REQUIRED = ("README.md", "profiles.jsonl", "attributes.json", "refusals.json") + tuple(
    f"data/{s}.jsonl" for s in SPLITS
)
PROFILE_FIELDS = {
    "id": str,
    "domain": str,
    "name": str,
    "split": str,
    "splits": list,
    "visible": dict,
    "private": dict,
    "image": str,
}
MIN_LEN = {"phrasings": 2, "paraphrases": 1, "perturbed": 3, "options": 4}
SHOW = 5  # ids quoted per split problem


def validate(path: str) -> None:
    """Check a benchmark folder; print one line per problem and fail if there is any.

    Args:
        path: Benchmark folder written by `smfa bench build`.
    """
    problems = find_problems(path)
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        n = len(problems)
        raise SmfaError(f"{n} problem{'s' if n > 1 else ''} in {path}; first: {problems[0]}")
    print(f"{path}: ok")


def find_problems(path: str | Path) -> list[str]:
    """Every problem of a benchmark folder, one line each (empty list: valid)."""
    root = Path(path)
    if not root.is_dir():
        return [f"{root}: benchmark folder not found"]
    problems: list[str] = []
    listed = _check_manifest(root, problems)
    for rel in REQUIRED:
        if not (root / rel).is_file() and (listed is None or rel not in listed):
            problems.append(f"{rel}: file is missing")

    refusals = _load_json(root, "refusals.json", list, problems)
    if refusals is not None:
        if not all(isinstance(r, str) for r in refusals):
            problems.append("refusals.json: expected a list of strings")
        elif len(set(refusals)) < 1000 or len(set(refusals)) != len(refusals):
            problems.append(
                f"refusals.json: expected >= 1000 distinct strings, "
                f"got {len(set(refusals))} distinct of {len(refusals)}"
            )
    attrs = _load_json(root, "attributes.json", dict, problems)
    if attrs is not None and not all(
        isinstance(v, list) and all(isinstance(x, str) for x in v) for v in attrs.values()
    ):
        problems.append("attributes.json: expected {attribute: [string values]}")

    profiles = _check_profiles(root, problems)
    images: dict[str, str] = {
        p["image"]: f"profiles.jsonl: line {p['_line']}: field 'image'"
        for p in profiles.values()
        if isinstance(p.get("image"), str)
    }
    members: dict[str, set[str]] = {}
    for split in SPLITS:
        rows = _read_rows(root, f"data/{split}.jsonl", problems)
        members[split] = set()
        seen_ids: set[str] = set()
        for line, row in rows:
            loc = f"data/{split}.jsonl: line {line}"
            if not _check_row(row, loc, split, set(refusals or []), problems):
                continue
            if row["id"] in seen_ids:
                problems.append(f"{loc}: field 'id': duplicate id {row['id']!r}")
            seen_ids.add(row["id"])
            members[split].add(row["subject_id"])
            if split in PROFILE_SPLITS and row["subject_id"] not in profiles:
                problems.append(f"{loc}: field 'subject_id': unknown profile {row['subject_id']!r}")
            if row["image"]:
                images.setdefault(row["image"], f"{loc}: field 'image'")
    _check_splits(members, profiles, problems)
    _check_images(root, images, problems)
    return problems


def _check_manifest(root: Path, problems: list[str]) -> dict | None:
    manifest = _load_json(root, "manifest.json", dict, problems)
    if manifest is None:
        return None
    files = manifest.get("files")
    if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
        problems.append("manifest.json: field 'files' is missing or not {path: sha256}")
        return None
    for rel, digest in sorted(files.items()):
        f = root / rel
        if not f.is_file():
            problems.append(f"{rel}: file listed in manifest.json is missing")
        elif sha256_file(f) != digest:
            problems.append(f"{rel}: sha256 does not match manifest.json")
    on_disk = {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    }
    for rel in sorted(on_disk - set(files) - {"manifest.json"}):
        problems.append(f"{rel}: file is not listed in manifest.json")
    return files


def _load_json(root: Path, rel: str, kind: type, problems: list[str]):
    f = root / rel
    if not f.is_file():
        if rel == "manifest.json":
            problems.append("manifest.json: file is missing")
        return None
    try:
        obj = json.loads(f.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        problems.append(f"{rel}: invalid JSON ({e})")
        return None
    if not isinstance(obj, kind):
        problems.append(f"{rel}: expected a JSON {kind.__name__}")
        return None
    return obj


def _read_rows(root: Path, rel: str, problems: list[str]) -> list[tuple[int, dict]]:
    f = root / rel
    if not f.is_file():
        return []
    rows = []
    for i, line in enumerate(f.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as e:
            problems.append(f"{rel}: line {i}: invalid JSON ({e})")
            continue
        if not isinstance(row, dict):
            problems.append(f"{rel}: line {i}: expected a JSON object")
            continue
        rows.append((i, row))
    return rows


def _type_ok(value, kind) -> bool:
    if kind == "int64":
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(kind, list):
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    return isinstance(value, str)


def _type_name(kind) -> str:
    return "list[str]" if isinstance(kind, list) else {"int64": "int"}.get(kind, "str")


def _check_row(row: dict, loc: str, split: str, refusals: set[str], problems: list[str]) -> bool:
    """Field presence and types, then the row's own invariants. False: too broken to use."""
    ok = True
    for field, kind in COLUMNS.items():
        if field not in row:
            problems.append(f"{loc}: field '{field}' is missing")
            ok = False
        elif not _type_ok(row[field], kind):
            problems.append(
                f"{loc}: field '{field}' should be {_type_name(kind)}, "
                f"got {type(row[field]).__name__}"
            )
            ok = False
    for field in sorted(set(row) - set(COLUMNS)):
        problems.append(f"{loc}: field '{field}' is not a known column")
    if not ok:
        return False
    for field, n in MIN_LEN.items():
        if len(row[field]) < n:
            problems.append(f"{loc}: field '{field}' has {len(row[field])} items, expected >= {n}")
    if row["phrasings"] and row["question"] != row["phrasings"][0]:
        problems.append(f"{loc}: field 'question' differs from phrasings[0]")
    if row["domain"] not in (*DOMAINS, "scenes"):
        problems.append(f"{loc}: field 'domain': unknown domain {row['domain']!r}")
    if row["qtype"] not in QTYPES:
        problems.append(f"{loc}: field 'qtype': unknown question type {row['qtype']!r}")
    if (row["qtype"] == "scene") != (split in SCENE_SPLITS):
        problems.append(f"{loc}: field 'qtype': {row['qtype']!r} does not belong in {split}")
    if (row["image"] == "") != (row["qtype"] == "text_memory"):
        problems.append(f"{loc}: field 'image': text_memory rows and only they have no image")
    answer = row["answer"].lower()
    for key in row["keys"]:
        if key.lower() not in answer:
            problems.append(f"{loc}: field 'keys': {key!r} does not appear in the answer")
    if not 0 <= row["answer_index"] < len(row["options"]):
        problems.append(f"{loc}: field 'answer_index' {row['answer_index']} is out of range")
    elif split == "strangers":
        if row["keys"]:
            problems.append(f"{loc}: field 'keys': stranger rows have no keys")
        if refusals and row["answer"] not in refusals:
            problems.append(f"{loc}: field 'answer': not a refusal from refusals.json")
    elif row["options"][row["answer_index"]].lower() not in answer:
        problems.append(f"{loc}: field 'options': the gold option does not appear in the answer")
    return True


def _check_profiles(root: Path, problems: list[str]) -> dict[str, dict]:
    profiles: dict[str, dict] = {}
    names: set[str] = set()
    for line, p in _read_rows(root, "profiles.jsonl", problems):
        loc = f"profiles.jsonl: line {line}"
        bad = [f for f, t in PROFILE_FIELDS.items() if not isinstance(p.get(f), t)]
        for f in bad:
            verb = "is missing" if f not in p else f"should be {PROFILE_FIELDS[f].__name__}"
            problems.append(f"{loc}: field '{f}' {verb}")
        if bad:
            continue
        if p["id"] in profiles:
            problems.append(f"{loc}: field 'id': duplicate profile {p['id']!r}")
        if p["name"] in names:
            problems.append(f"{loc}: field 'name': duplicate name {p['name']!r}")
        names.add(p["name"])
        profiles[p["id"]] = {**p, "_line": line}
    return profiles


def _check_splits(members: dict[str, set[str]], profiles: dict, problems: list[str]) -> None:
    def report(table: str, ids: set[str], what: str) -> None:
        if ids:
            some = ", ".join(sorted(ids)[:SHOW]) + (", ..." if len(ids) > SHOW else "")
            problems.append(f"data/{table}.jsonl: {len(ids)} subjects {what} ({some})")

    for table in (*FORGET_SPLITS, "retain", "retain_few"):
        if not members[table]:
            problems.append(f"data/{table}.jsonl: the split is empty (no profiles)")
    for small, big in (
        ("forget05", "forget10"),
        ("forget10", "forget15"),
        ("retain_few", "retain"),
    ):
        report(
            small, members[small] - members[big], f"not in {big}; {small} must be a subset of {big}"
        )
    report(
        "retain",
        members["retain"] & members["forget15"],
        "also in forget15; forget15 and retain must be disjoint",
    )
    report(
        "scenes_eval",
        members["scenes_eval"] & members["scenes_train"],
        "also in scenes_train; scene splits must be disjoint",
    )
    for table in ("unseen", "holdout", "strangers"):
        for other in PROFILE_SPLITS:
            if other != table and other not in ("forget05", "forget10", "retain_few"):
                report(
                    table,
                    members[table] & members[other],
                    f"also in {other}; {table} must be disjoint from every other split",
                )
    for pid, p in sorted(profiles.items()):
        want = [s for s in PROFILE_SPLITS if pid in members[s]]
        if sorted(p["splits"]) != sorted(want):
            problems.append(
                f"profiles.jsonl: line {p['_line']}: field 'splits': {p['splits']} "
                f"but the tables hold {pid} in {want}"
            )


def _check_images(root: Path, images: dict[str, str], problems: list[str]) -> None:
    for rel, where in sorted(images.items()):
        f = root / rel
        if not f.is_file():
            problems.append(f"{where}: {rel} not found")
            continue
        try:
            with Image.open(f) as img:
                fmt = img.format
                img.verify()
            if fmt != "PNG":
                raise ValueError(f"format is {fmt}")
        except Exception as e:  # PIL raises many types for broken files
            problems.append(f"{rel}: not a valid PNG ({type(e).__name__})")


def load_valid(path: str | Path):
    """Load a benchmark for a stage that uses it, refusing one that fails validation.

    Raises SmfaError with the first problem (and how many more) on one line.
    """
    from smfa.bench.load import load

    problems = find_problems(path)
    if problems:
        more = (
            f" (+{len(problems) - 1} more; run `smfa bench validate {path}`)"
            if len(problems) > 1
            else ""
        )
        raise SmfaError(f"benchmark fails validation: {problems[0]}{more}")
    return load(path)
