"""`smfa bench import mllmu|fiubench` on small hand-written fixtures in the published layouts
(tests/data/mllmu/layout.json: the parquet rows without images; tests/data/fiubench/: full.json
and split.json as published). Parquet shards and tiny PNG portraits are written here."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from smfa.bench import find_problems, load
from smfa.bench.importers import import_fiubench, import_mllmu
from smfa.errors import SmfaError

DATA = Path(__file__).parent / "data"


def png(i: int, size: int = 40) -> bytes:
    """A small portrait stand-in: a distinct colour per profile, a darker 'face' square."""
    img = Image.new("RGB", (size, size), ((37 * i) % 256, (91 * i) % 256, (53 * i + 80) % 256))
    img.paste((20, 20, 20), (size // 4, size // 4, 3 * size // 4, 3 * size // 4))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def write_mllmu(root: Path) -> Path:
    """The MLLMU-Bench folder layout (one parquet shard per config) from layout.json."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    layout = json.loads((DATA / "mllmu" / "layout.json").read_text())
    full = layout["Full_Set"]
    by_id = {r["ID"]: i for i, r in enumerate(full)}

    def shard(folder: str, rows: list[dict]) -> None:
        (root / folder).mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rows), root / folder / "train-00000-of-00001.parquet")

    with_image = [{"image": {"bytes": png(i), "path": None}, **r} for i, r in enumerate(full)]
    shard("Full_Set", with_image)
    for name in ("forget_5", "forget_10", "forget_15", "retain_85"):
        shard(name, [with_image[by_id[i]] for i in layout[name]])
    test = [
        {"ID": r["ID"], "images": [{"bytes": png(by_id[r["ID"]] + 50), "path": None}], **r}
        for r in layout["Test_Set"]
    ]
    shard("Test_Set", test)
    shard("Retain_Set", layout["Retain_Set"])
    return root


def write_fiubench(root: Path) -> Path:
    """full.json + split.json as published, the portraits where image_path points."""
    shutil.copytree(DATA / "fiubench", root)
    for i, ident in enumerate(json.loads((root / "full.json").read_text())):
        p = root / ident["image_path"].removeprefix("./dataset/")
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(png(i))
    return root


def layout() -> dict:
    return json.loads((DATA / "mllmu" / "layout.json").read_text())


@pytest.fixture(scope="module")
def mllmu_dir(tmp_path_factory):
    return write_mllmu(tmp_path_factory.mktemp("mllmu") / "MLLMU-Bench")


@pytest.fixture(scope="module")
def mllmu_bench(mllmu_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("imported") / "mllmu"
    return import_mllmu(str(mllmu_dir), str(out), image_size=32, strangers=2, quiet=True)


def test_mllmu_import_validates_and_maps_the_published_splits(mllmu_bench):
    assert find_problems(mllmu_bench) == []
    b = load(mllmu_bench)
    subjects = {s: {r["subject_id"] for r in b.split(s)} for s in b.splits}
    assert subjects["forget05"] == {"001"}
    assert subjects["forget10"] == {"001", "002"}
    assert subjects["forget15"] == {"001", "002", "003"}
    assert len(subjects["retain"]) == 7 and len(subjects["strangers"]) == 2
    assert subjects["retain"] | subjects["strangers"] == {f"{i:03d}" for i in range(4, 13)}
    assert subjects["retain_few"] <= subjects["retain"] and len(subjects["retain_few"]) == 4
    assert not b.split("unseen") and not b.split("scenes_eval")
    p = b.profile("001")
    assert p["name"] == "Alma Verdane" and p["source_id"] == "001"
    with Image.open(b.image_path(p)) as img:
        assert img.size == (32, 32) and img.format == "PNG"


def test_imported_bench_loads_with_datasets(mllmu_bench):
    import datasets

    ds = datasets.load_dataset(str(mllmu_bench))  # empty tables are left out of the card
    assert len(ds["forget05"]) == 6 and "unseen" not in ds
    assert ds["retain"].features["keys"].feature.dtype == "string"


def test_mllmu_rows_keep_the_published_questions_answers_and_options(mllmu_bench, mllmu_dir):
    rows = {r["id"]: r for r in load(mllmu_bench).split("forget05")}
    mc_img = rows["001/image_memory/classification_0"]
    # layout.json: Alma is a florist; option letters rotate, the gold value is what counts
    assert mc_img["answer"] == "florist" and mc_img["keys"] == ["florist"]
    assert mc_img["options"][mc_img["answer_index"]] == "florist"
    assert len(mc_img["options"]) == 4 and "florist" not in mc_img["perturbed"]
    assert mc_img["image"] == "images/faces/001.png"
    mc_txt = rows["001/text_memory/classification_1"]
    assert mc_txt["question"] == "In which city was Alma Verdane born?" and mc_txt["image"] == ""
    assert mc_txt["answer"] == "Lisbon" and mc_txt["paraphrases"] == [
        "Which city is the birthplace of Alma Verdane?"
    ]  # from Test_Set, same task and index
    gen = rows["001/image_memory/generation_0"]
    assert gen["answer"] == "This person was born in 1984."
    assert gen["keys"] == ["This person was born in 1984"]
    assert gen["paraphrases"] == ["When was the person shown here born?"]
    cloze = rows["001/text_memory/cloze_1"]
    assert cloze["question"] == "Alma Verdane works as a [Blank]." and cloze["answer"] == "florist"
    assert len(set(cloze["perturbed"])) == 3 and "florist" not in cloze["perturbed"]
    # wrong answers come from the same slot of other profiles (cloze_1: occupations)
    jobs = {r["Mask_Task"][1]["Ground_Truth"] for r in layout()["Full_Set"]}
    assert set(cloze["perturbed"]) <= jobs
    assert all(p.startswith("This person was born in ") for p in gen["perturbed"])
    assert all(len(r["phrasings"]) == 2 for r in rows.values())


def test_mllmu_report_lists_what_did_not_map(mllmu_bench):
    report = json.loads((Path(mllmu_bench) / "import_report.json").read_text())
    skipped = report["not_mapped"]
    bad = skipped["classification questions without 4 options and a gold answer among them"]
    assert bad == {"count": 1, "examples": ["012/classification_0"]}  # Correct_Answer "E"
    assert any(k.startswith("Retain_Set") for k in skipped)
    assert any(k.startswith("Test_Set images") for k in skipped)
    assert report["mapped"]["questions"] == 12 * 6 - 1
    manifest = json.loads((Path(mllmu_bench) / "manifest.json").read_text())
    assert manifest["generator"] == "smfa.bench.import" and manifest["source"] == "MLLMU-Bench"


def test_mllmu_import_is_deterministic_and_prints_the_report(mllmu_dir, tmp_path, capsys):
    a = import_mllmu(str(mllmu_dir), str(tmp_path / "a"), image_size=32, seed=3)
    err = capsys.readouterr().err
    assert "import MLLMU-Bench" in err and "not mapped (1): classification" in err
    b = import_mllmu(str(mllmu_dir), str(tmp_path / "b"), image_size=32, seed=3, quiet=True)
    ma, mb = (json.loads((p / "manifest.json").read_text()) for p in (a, b))
    assert ma["files"] == mb["files"]
    c = import_mllmu(str(mllmu_dir), str(tmp_path / "c"), holdout=2, retain_few=3, quiet=True)
    assert find_problems(c) == []
    hc = load(c)
    assert len({r["subject_id"] for r in hc.split("holdout")}) == 2
    assert len({r["subject_id"] for r in hc.split("retain")}) == 7
    assert len({r["subject_id"] for r in hc.split("retain_few")}) == 3


def test_fiubench_import(tmp_path):
    src = write_fiubench(tmp_path / "FIUBench")
    out = import_fiubench(str(src), str(tmp_path / "fiu"), image_size=32, quiet=True)
    assert find_problems(out) == []
    b = load(out)
    subjects = {s: {r["subject_id"] for r in b.split(s)} for s in b.splits}
    # split.json: forget5 = [1], forget10 = [2, 3] (disjoint); forget1 = [10] stays in retain
    assert subjects["forget05"] == {"00000001"}
    assert subjects["forget10"] == {"00000001", "00000002"}
    assert subjects["forget15"] == {"00000001", "00000002", "00000003"}
    assert "00000010" in subjects["retain"]
    assert subjects["retain_few"] == {"00000004", "00000005", "00000006", "00000007"}  # retain5
    rows = {r["id"]: r for r in b.split("forget05")}
    q0 = rows["00000001/image_memory/q00"]
    assert q0["answer"] == "The person works as a florist."
    assert q0["keys"] == ["The person works as a florist"]
    assert q0["paraphrases"] == ["What job does this person have?"]
    assert len(q0["perturbed"]) == 3 and all("florist" not in p for p in q0["perturbed"])
    q1 = rows["00000001/image_memory/q01"]  # one published perturbed answer + 2 from others
    assert q1["perturbed"][0] == "This person was born in Oslo" and len(q1["perturbed"]) == 3
    assert q1["paraphrases"] == ["What is the birthplace of the pictured person?"]
    assert {r["qtype"] for s in b.splits for r in b.split(s)} == {"image_memory"}
    report = json.loads((Path(out) / "import_report.json").read_text())
    assert report["mapped"]["questions"] == 30


def test_import_refuses_bad_inputs_and_user_folders(tmp_path, mllmu_dir):
    with pytest.raises(SmfaError, match="Full_Set/ not found"):
        import_mllmu(str(tmp_path), str(tmp_path / "x"))
    with pytest.raises(SmfaError, match="split.json: not found"):
        bad = tmp_path / "fiu"
        bad.mkdir()
        (bad / "full.json").write_text("[]")
        import_fiubench(str(bad), str(tmp_path / "y"))
    user = tmp_path / "mine"
    user.mkdir()
    (user / "notes.txt").write_text("keep")
    with pytest.raises(SmfaError, match="not a benchmark; pass --overwrite"):
        import_mllmu(str(mllmu_dir), str(user), quiet=True)
    assert (user / "notes.txt").read_text() == "keep"
    with pytest.raises(SmfaError, match="would overwrite this command's input"):
        import_mllmu(str(mllmu_dir), str(mllmu_dir / "out"), quiet=True)


def test_smoke_pipeline_runs_on_an_imported_mllmu_bench(mllmu_run):
    """`smfa run` with ``bench_dir`` = the imported fixture: train, unlearn, eval, report."""
    assert (mllmu_run / "report.md").is_file()
    res = json.loads((mllmu_run / "eval" / "smfa.json").read_text())
    groups = res["summary"]["groups"]
    assert set(groups["forget10"]) == {"image_memory", "text_memory"}
    assert groups["forget10"]["image_memory"]["n"] > 0 and "unseen" not in groups
    assert res["summary"]["main"]["rouge"]["forget_mem"] is not None


def test_mllmu_names_and_gold_options_in_every_published_spelling():
    from smfa.bench.importers.mllmu import _mc, _profile_name

    assert _profile_name('{"Name": "Rosa Quill", "Born": "1950"}', "7") == (
        "Rosa Quill",
        {"born": "1950"},
    )
    assert _profile_name("Rosa Quill, born in 1950, is a potter.", "7")[0] == "Rosa Quill"
    assert _profile_name("", "7") == ("Profile 7", {})
    opts = {"A": "Oslo", "B": "Lisbon", "C": "Quito", "D": "Perth"}
    for gold in ("B", "b", "B.", "(B)", "B) Lisbon", "B. Lisbon", "Lisbon"):
        q, value, options = _mc({"Question": "Where?", "Options": opts, "Correct_Answer": gold})
        assert (
            value == "Lisbon"
            and options[0] == "Lisbon"
            and sorted(options) == sorted(opts.values())
        ), gold
    assert _mc({"Question": "Where?", "Options": opts, "Correct_Answer": "E"}) is None
    assert (
        _mc({"Question": "Where?", "Options": {"A": "x", "B": "y"}, "Correct_Answer": "A"}) is None
    )
