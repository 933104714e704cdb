"""Loading a benchmark: the Bench API, datasets.load_dataset and load_hf."""

from __future__ import annotations

import pytest

from smfa.bench import SPLITS, load, load_hf
from smfa.errors import SmfaError


def test_bench_api(small_bench):
    b = load(small_bench)
    assert b.root == small_bench and b.manifest["seed"] == 0
    row = b.split("forget05")[0]
    assert b.image_path(row) == small_bench / row["image"]
    assert b.open_image(row).size == (32, 32)
    text = next(r for r in b.split("retain") if r["qtype"] == "text_memory")
    assert b.image_path(text) is None and b.open_image(text) is None
    attrs = b.attributes()
    assert row["keys"][0] in attrs[row["attribute"]]
    p = b.profiles()[0]
    assert b.profile(p["name"]) == p == b.profile(p["id"])


def test_bench_errors(small_bench, tmp_path):
    with pytest.raises(SmfaError, match="known splits: forget05"):
        load(small_bench).split("forget20")
    with pytest.raises(SmfaError, match="not found"):
        load(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SmfaError, match="manifest.json: file not found"):
        load(tmp_path / "empty")


def test_load_dataset_round_trip(small_bench, tmp_path):
    import datasets

    ds = datasets.load_dataset(str(small_bench), cache_dir=str(tmp_path / "cache"))
    b = load(small_bench)
    assert set(ds) == set(SPLITS)
    for name in SPLITS:
        assert ds[name].to_list() == b.split(name), name


def test_load_hf_decodes_images(small_bench):
    ds = load_hf(small_bench, splits=["forget10", "unseen"])
    assert set(ds) == {"forget10", "unseen"}
    rows = ds["forget10"]
    first = rows[0]
    assert first["image"].size == (32, 32)
    text = next(r for r in rows if r["qtype"] == "text_memory")
    assert text["image"] is None
    assert list(rows.column_names)[:3] == ["id", "subject_id", "domain"]
