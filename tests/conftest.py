"""Shared fixtures: one small generated benchmark per test session (read-only: copy to break)."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

SMALL = dict(profiles=20, seed=0, image_size=32, scenes_train=40, scenes_eval=10, quiet=True)


@pytest.fixture(scope="session")
def small_bench(tmp_path_factory):
    """A 20-profile, 32 px benchmark folder (faces + fundus, 40 + 10 scenes). Do not modify."""
    from smfa.bench import build

    return build(tmp_path_factory.mktemp("bench") / "small", **SMALL)


@pytest.fixture(scope="session")
def small_bench_kwargs():
    """The ``smfa.bench.build`` arguments of ``small_bench`` (to rebuild it elsewhere)."""
    return dict(SMALL)


@pytest.fixture(scope="session")
def bench_dir(small_bench):
    """Alias of ``small_bench`` for tests of other stages."""
    return small_bench


@pytest.fixture(scope="session")
def tiny_original(small_bench, tmp_path_factory):
    """The tiny original model trained briefly (configs/train/smoke.yaml) on ``small_bench``."""
    from smfa.paths import shipped_config
    from smfa.stages.train_original import train_original

    out = tmp_path_factory.mktemp("models") / "original"
    return train_original(
        str(small_bench), str(out), train_config=str(shipped_config("train", "smoke.yaml"))
    )


@pytest.fixture(scope="session")
def mllmu_run(tmp_path_factory):
    """`smfa run` (smoke settings, methods smfa and idk, no sweep) on the hand-written MLLMU-Bench
    fixture imported with `smfa bench import mllmu` (tests/test_bench_import.py)."""
    import sys

    import yaml

    from smfa.bench.importers import import_mllmu
    from smfa.paths import shipped_config
    from smfa.pipeline import run

    sys.path.insert(0, os.path.dirname(__file__))
    from test_bench_import import write_mllmu

    root = tmp_path_factory.mktemp("mllmu_run")
    bench = import_mllmu(
        str(write_mllmu(root / "MLLMU-Bench")),
        str(root / "bench"),
        image_size=32,
        strangers=2,
        quiet=True,
    )
    cfg = {
        "name": "mllmu",
        "bench_dir": str(bench),
        "model": "tiny",
        "train_config": str(shipped_config("train", "smoke.yaml")),
        "unlearn_config": str(shipped_config("unlearn", "smoke.yaml")),
        "forget": "forget10",
        "methods": {"smfa": {"method": "smfa"}, "idk": {"method": "idk"}},
        "eval": {"max_samples": 24, "batch_size": 64},
        "parallel_train": False,
    }
    path = root / "run.yaml"
    path.write_text(yaml.safe_dump(cfg))
    run(str(path), out=str(root / "runs"))
    return root / "runs" / "mllmu"
