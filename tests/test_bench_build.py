"""Generated benchmark: splits, questions, refusals, determinism, config and atomic output."""

from __future__ import annotations

import json

import pytest

from smfa.bench import SPLITS, BenchConfig, build, load
from smfa.bench.refusals import refusal_pool
from smfa.errors import SmfaError


def subjects(bench, split):
    return {r["subject_id"] for r in bench.split(split)}


def test_splits_are_nested_and_disjoint(small_bench):
    b = load(small_bench)
    s = {name: subjects(b, name) for name in SPLITS}
    assert s["forget05"] <= s["forget10"] <= s["forget15"]
    assert s["retain_few"] <= s["retain"]
    assert not s["forget15"] & s["retain"]
    trained = s["forget15"] | s["retain"]
    assert len(trained) == 20
    assert (len(s["forget05"]), len(s["forget10"]), len(s["forget15"])) == (1, 2, 3)
    assert len(s["retain_few"]) == 4  # 5% of 17 rounds to 1; the floor is 4
    extras = [s["unseen"], s["holdout"], s["strangers"]]
    for i, extra in enumerate(extras):
        assert len(extra) == 4
        assert not extra & trained
        assert not any(extra & other for other in extras[i + 1 :])
    assert not s["scenes_train"] & s["scenes_eval"]
    assert (len(s["scenes_train"]), len(s["scenes_eval"])) == (40, 10)
    by_id = {p["id"]: p for p in b.profiles()}
    assert {by_id[i]["domain"] for i in trained} == {"faces", "fundus"}


def test_default_split_sizes_are_stratified():
    from smfa.bench.profiles import make_people

    people, members = make_people(BenchConfig(profiles=200))
    domain = {p["id"]: p["domain"] for p in people}
    sizes = {k: len(v) for k, v in members.items()}
    assert sizes == {
        "forget05": 10,
        "forget10": 20,
        "forget15": 30,
        "retain": 170,
        "retain_few": 9,
        "unseen": 20,
        "holdout": 20,
        "strangers": 20,
    }
    for name in ("forget05", "forget10", "forget15", "holdout"):
        fundus = sum(domain[i] == "fundus" for i in members[name])
        assert fundus == sizes[name] // 5, name  # 20% fundus in every split
    assert len({p["name"] for p in people}) == len(people)


def test_names_and_portraits_stay_unique_for_1000_profiles():
    from smfa.bench.profiles import make_people

    people, _ = make_people(BenchConfig(profiles=1000, seed=3))
    assert len({p["name"] for p in people}) == len(people) == 1300
    faces = [tuple(sorted(p["visible"].items())) for p in people if p["domain"] == "faces"]
    assert len(set(faces)) == len(faces)


def test_question_rows_follow_the_contract(small_bench):
    b = load(small_bench)
    refusals = set(b.refusals())
    for split in SPLITS:
        rows = b.split(split)
        assert rows and len({r["id"] for r in rows}) == len(rows)
        for r in rows:
            assert r["question"] == r["phrasings"][0] and len(r["phrasings"]) >= 2
            assert len(r["paraphrases"]) >= 1
            assert not set(r["paraphrases"]) & set(r["phrasings"])
            assert len(r["perturbed"]) >= 3 and r["answer"] not in r["perturbed"]
            assert len(r["options"]) == 4 == len(set(r["options"]))
            for key in r["keys"]:
                assert key.lower() in r["answer"].lower(), r
            if split == "strangers":
                assert r["keys"] == [] and r["answer"] in refusals
                assert r["qtype"] in ("image_memory", "text_memory")
            else:
                assert r["keys"]
                assert r["options"][r["answer_index"]].lower() in r["answer"].lower()
            assert (r["image"] == "") == (r["qtype"] == "text_memory")
    assert {r["qtype"] for r in b.split("unseen")} == {"understanding"}
    assert {r["qtype"] for r in b.split("holdout")} == {
        "image_memory",
        "text_memory",
        "understanding",
    }


def test_every_profile_fact_is_asked_in_every_view(small_bench):
    b = load(small_bench)
    p = b.profile(b.split("retain")[0]["subject_id"])
    rows = {r["id"]: r for r in b.split("retain") if r["subject_id"] == p["id"]}
    for attr, value in p["private"].items():
        for view in ("image_memory", "text_memory"):
            r = rows[f"{p['id']}/{view}/{attr}"]
            assert r["keys"] == [value] and p["name"] in r["answer"]
        assert p["name"] in rows[f"{p['id']}/text_memory/{attr}"]["question"]
    assert rows[f"{p['id']}/image_memory/identity"]["keys"] == [p["name"]]
    for attr, value in p["visible"].items():
        assert rows[f"{p['id']}/understanding/{attr}"]["keys"] == [value]


def test_scene_object_lists_use_the_canonical_order(small_bench):
    b = load(small_bench)
    order = ("left", "top", "right", "bottom")
    for r in b.split("scenes_train"):
        if r["attribute"] == "objects":
            scene = [x for x in b.split("scenes_train") if x["subject_id"] == r["subject_id"]]
            by_slot = {
                x["id"].split("/")[-1]: x["keys"][0] for x in scene if x["attribute"] == "object"
            }
            names = [by_slot[s] for s in order if s in by_slot]
            assert r["keys"] == list(dict.fromkeys(names))
            positions = [r["answer"].index(n) for n in dict.fromkeys(names)]
            assert positions == sorted(positions)


def test_refusal_pool_is_large_and_distinct(small_bench):
    pool = load(small_bench).refusals()
    assert len(pool) >= 1000 and len(set(pool)) == len(pool)
    assert sorted(pool) == sorted(refusal_pool(1))  # the seed orders the pool, nothing else
    assert pool != refusal_pool(1)


def test_same_seed_same_bytes_other_seed_other_profiles(tmp_path, small_bench, small_bench_kwargs):
    SMALL = small_bench_kwargs
    again = build(tmp_path / "again", **SMALL)
    first = (small_bench / "manifest.json").read_bytes()
    assert (again / "manifest.json").read_bytes() == first
    files = json.loads(first)["files"]
    assert all((again / rel).read_bytes() == (small_bench / rel).read_bytes() for rel in files)
    other = build(tmp_path / "other", **{**SMALL, "seed": 1})
    names = {p["name"] for p in load(other).profiles()}
    assert names != {p["name"] for p in load(small_bench).profiles()}
    assert json.loads((other / "manifest.json").read_text())["files"] != files


def test_manifest_lists_every_file_and_the_parameters(small_bench):
    m = load(small_bench).manifest
    on_disk = {p.relative_to(small_bench).as_posix() for p in small_bench.rglob("*") if p.is_file()}
    assert set(m["files"]) == on_disk - {"manifest.json"}
    assert m["seed"] == 0 and m["config"]["profiles"] == 20 and m["config"]["image_size"] == 32
    assert m["counts"]["splits"]["forget15"]["subjects"] == 3


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"profiles": 3}, "profiles"),
        ({"image_size": 16}, "image_size"),
        ({"domains": ("faces", "xray")}, "domains"),
        ({"fundus_fraction": 1.5}, "fundus_fraction"),
        ({"retain_few": 500}, "retain_few"),
        ({"scenes_eval": 0}, "scenes_eval"),
        ({"profiles": 7000}, "profiles"),
    ],
)
def test_config_errors_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=f"^{field}:"):
        BenchConfig(**kwargs)


def test_config_defaults_and_from_dict():
    cfg = BenchConfig()
    assert (cfg.profiles, cfg.unseen, cfg.holdout, cfg.strangers, cfg.retain_few) == (
        200,
        20,
        20,
        20,
        9,
    )
    assert BenchConfig.from_dict({"profiles": 40, "domains": ["faces"]}).domains == ("faces",)
    with pytest.raises(ValueError, match="^colour:"):
        BenchConfig.from_dict({"colour": "red"})


def test_build_errors_are_smfa_errors_and_leave_no_output(
    tmp_path, monkeypatch, small_bench_kwargs
):
    SMALL = small_bench_kwargs
    with pytest.raises(SmfaError, match="profiles"):
        build(tmp_path / "b", profiles=2)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "mine.txt").write_text("keep me")
    with pytest.raises(SmfaError, match="not a benchmark"):
        build(tmp_path / "notes", **SMALL)
    assert (tmp_path / "notes" / "mine.txt").read_text() == "keep me"

    import importlib

    builder = importlib.import_module("smfa.bench.build")  # the package exports build()

    def broken(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(builder, "render_scene", broken)
    with pytest.raises(RuntimeError):
        builder.build(tmp_path / "partial", **SMALL)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes"]


def test_single_domain_benches(tmp_path, small_bench_kwargs):
    kw = {**small_bench_kwargs, "scenes_train": 2, "scenes_eval": 1, "profiles": 10}
    faces = load(build(tmp_path / "faces", domains=["faces"], **kw))
    assert {p["domain"] for p in faces.profiles()} == {"faces"}
    fundus = load(build(tmp_path / "fundus", domains=["fundus"], **kw))
    assert {p["domain"] for p in fundus.profiles()} == {"fundus"}


def test_shipped_configs_are_valid():
    from pathlib import Path

    from smfa.io import read_yaml

    root = Path(__file__).resolve().parents[1] / "configs" / "bench"
    default = BenchConfig.from_dict(read_yaml(root / "default.yaml"))
    assert default == BenchConfig()
    smoke = BenchConfig.from_dict(read_yaml(root / "smoke.yaml"))
    assert (smoke.profiles, smoke.image_size, smoke.scenes_train) == (20, 32, 40)
