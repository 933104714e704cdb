"""The validator accepts a fresh benchmark and names each kind of damage; show() prints it."""

from __future__ import annotations

import json
import shutil

import pytest

from smfa.bench import find_problems, load, show, validate
from smfa.errors import SmfaError


@pytest.fixture
def copy(small_bench, tmp_path):
    dst = tmp_path / "bench"
    shutil.copytree(small_bench, dst)
    return dst


def first_face(bench_dir) -> str:
    return next(p["image"] for p in load(bench_dir).profiles() if p["domain"] == "faces")


def test_fresh_bench_is_valid(small_bench, capsys):
    assert find_problems(small_bench) == []
    validate(str(small_bench))
    assert "ok" in capsys.readouterr().out


def test_missing_image(copy):
    rel = first_face(copy)
    (copy / rel).unlink()
    problems = find_problems(copy)
    assert f"{rel}: file listed in manifest.json is missing" in problems
    assert any(p.endswith(f"field 'image': {rel} not found") for p in problems)


def test_corrupted_png(copy):
    rel = first_face(copy)
    data = bytearray((copy / rel).read_bytes())
    data[20:40] = bytes(20)
    (copy / rel).write_bytes(bytes(data))
    problems = find_problems(copy)
    assert f"{rel}: sha256 does not match manifest.json" in problems
    assert any(p.startswith(f"{rel}: not a valid PNG") for p in problems)


def test_profile_in_forget_and_retain(copy):
    forget = (copy / "data/forget15.jsonl").read_text().splitlines()
    pid = json.loads(forget[0])["subject_id"]
    moved = [line for line in forget if json.loads(line)["subject_id"] == pid]
    with open(copy / "data/retain.jsonl", "a") as f:
        f.write("\n".join(moved) + "\n")
    problems = find_problems(copy)
    expected = (
        f"data/retain.jsonl: 1 subjects also in forget15; forget15 and retain must be "
        f"disjoint ({pid})"
    )
    assert expected in problems


def test_missing_field(copy):
    path = copy / "data/forget05.jsonl"
    lines = path.read_text().splitlines()
    row = json.loads(lines[2])
    del row["answer"]
    lines[2] = json.dumps(row)
    path.write_text("\n".join(lines) + "\n")
    assert "data/forget05.jsonl: line 3: field 'answer' is missing" in find_problems(copy)


def test_wrong_hash_and_unlisted_file(copy):
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["files"]["refusals.json"] = "0" * 64
    (copy / "manifest.json").write_text(json.dumps(manifest))
    (copy / "data/extra.jsonl").write_text("{}\n")
    problems = find_problems(copy)
    assert "refusals.json: sha256 does not match manifest.json" in problems
    assert "data/extra.jsonl: file is not listed in manifest.json" in problems


def test_bad_types_keys_and_missing_manifest(copy):
    path = copy / "data/retain.jsonl"
    lines = path.read_text().splitlines()
    row = json.loads(lines[0])
    row["keys"], row["answer_index"] = ["Nobody Known"], "1"
    lines[0] = json.dumps(row)
    path.write_text("\n".join(lines) + "\n")
    problems = find_problems(copy)
    assert "data/retain.jsonl: line 1: field 'answer_index' should be int, got str" in problems
    (copy / "manifest.json").unlink()
    assert "manifest.json: file is missing" in find_problems(copy)
    assert find_problems(copy / "nope") == [f"{copy / 'nope'}: benchmark folder not found"]


def test_validate_cli_raises_with_count(copy, capsys):
    (copy / "attributes.json").write_text("[]")
    with pytest.raises(SmfaError, match=r"^2 problems in "):
        validate(str(copy))
    err = capsys.readouterr().err.splitlines()
    assert "attributes.json: expected a JSON dict" in err


def test_show_prints_a_profile_and_writes_a_contact_sheet(small_bench, tmp_path, monkeypatch):
    from PIL import Image

    b = load(small_bench)
    p = b.profile(b.split("holdout")[0]["subject_id"])
    sheet = tmp_path / "sheet.png"
    text = show(str(small_bench), profile=p["name"], out=str(sheet), n=9)
    assert p["id"] in text and p["name"] in text and "understanding:" in text
    assert Image.open(sheet).size == (8 * 34, 2 * 34)
    monkeypatch.chdir(tmp_path)
    assert "contact sheet" not in show(str(small_bench))  # no --out: nothing written
    assert list(tmp_path.iterdir()) == [sheet]
    with pytest.raises(SmfaError, match="input"):  # never inside the bench
        show(str(small_bench), out=str(small_bench / "sheet.png"))
    assert find_problems(small_bench) == []
    with pytest.raises(SmfaError, match="no profile"):
        show(str(small_bench), profile="Nobody")
