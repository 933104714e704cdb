"""`smfa bench build`: generate a benchmark folder from a seed (see docs/benchmark.md)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from smfa.bench import write
from smfa.bench.colors import png_bytes
from smfa.bench.config import PROFILE_SPLITS, BenchConfig, rng
from smfa.bench.profiles import make_people
from smfa.bench.questions import make_scene, profile_rows, scene_rows
from smfa.bench.refusals import refusal_pool
from smfa.bench.render_faces import render_face
from smfa.bench.render_fundus import render_fundus
from smfa.bench.render_scenes import render_scene
from smfa.errors import SmfaError
from smfa.io import sha256_bytes, staged_dir

ALL_QTYPES = ("image_memory", "text_memory", "understanding")
QTYPES_BY_SPLIT = {"unseen": ("understanding",), "strangers": ("image_memory", "text_memory")}


def build(
    out: str | Path,
    profiles: int = 200,
    seed: int = 0,
    image_size: int = 64,
    domains: Sequence[str] = ("faces", "fundus"),
    fundus_fraction: float = 0.2,
    scenes_train: int = 500,
    scenes_eval: int = 100,
    unseen: int | None = None,
    holdout: int | None = None,
    strangers: int | None = None,
    retain_few: int | None = None,
    quiet: bool = False,
) -> Path:
    """Generate a synthetic S-MLLMUn-style benchmark folder (same seed, same bytes).

    Args:
        out: Folder to write; an existing benchmark there is replaced, any other
            non-empty folder is refused.
        profiles: Trained profiles (forget15 + retain); forget05/10/15 are 5/10/15% of them.
        seed: Seed of every random choice.
        image_size: Side of every PNG in pixels.
        domains: Profile image domains: faces (portraits) and/or fundus (retinal photos).
        fundus_fraction: Share of fundus patients in every split when both domains are on.
        scenes_train: General shape scenes for training.
        scenes_eval: General shape scenes for evaluation.
        unseen: Never-trained portraits (understanding only); default max(4, profiles // 10).
        holdout: Never-trained profiles (all question types); default max(4, profiles // 10).
        strangers: Profiles trained with refusal answers; default max(4, profiles // 10).
        retain_few: Size of the retain_few anchor sample; default 5% of retain, at least 4.
        quiet: Hide progress bars.

    Returns:
        The benchmark folder.
    """
    try:
        cfg = BenchConfig(
            profiles=profiles,
            seed=seed,
            image_size=image_size,
            domains=tuple(domains),
            fundus_fraction=fundus_fraction,
            scenes_train=scenes_train,
            scenes_eval=scenes_eval,
            unseen=unseen,
            holdout=holdout,
            strangers=strangers,
            retain_few=retain_few,
        )
    except ValueError as e:
        raise SmfaError(f"bench build: {e}") from None
    return build_from_config(out, cfg, quiet=quiet)


def build_from_config(out: str | Path, cfg: BenchConfig, quiet: bool = False) -> Path:
    """Generate a benchmark folder from a :class:`BenchConfig`."""
    out = Path(out)
    _check_target(out)
    people, members = make_people(cfg)
    names = [p["name"] for p in people]
    by_id = {p["id"]: p for p in people}

    rows_of = {}
    for p in people:
        qtypes = QTYPES_BY_SPLIT.get(p["split"], ALL_QTYPES)
        rows_of[p["id"]] = profile_rows(p, qtypes, names, rng(cfg.seed, "questions", p["id"]))
    refusals = refusal_pool(cfg.seed)
    r = rng(cfg.seed, "strangers")
    for pid in members["strangers"]:
        for row in rows_of[pid]:
            row["answer"], row["keys"] = r.choice(refusals), []

    n_scenes = cfg.scenes_train + cfg.scenes_eval
    scenes = [make_scene(f"s{i:04d}", rng(cfg.seed, "scene", i)) for i in range(n_scenes)]
    for s in scenes:
        s["rows"] = scene_rows(s, rng(cfg.seed, "scene_questions", s["id"]))
    tables = {
        name: [row for pid in members[name] for row in rows_of[pid]] for name in PROFILE_SPLITS
    }
    tables["scenes_train"] = [row for s in scenes[: cfg.scenes_train] for row in s["rows"]]
    tables["scenes_eval"] = [row for s in scenes[cfg.scenes_train :] for row in s["rows"]]

    with staged_dir(out) as tmp:
        files: dict[str, str] = {}

        def put(rel: str, data: bytes) -> None:
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            files[rel] = sha256_bytes(data)

        size = cfg.image_size
        for p in _bar(people, "profiles", quiet):
            if p["domain"] == "faces":
                img = render_face(p["visible"], size)
            else:
                img = render_fundus(p["visible"], size, rng(cfg.seed, "render", p["id"]))
            put(p["image"], png_bytes(img))
        for s in _bar(scenes, "scenes", quiet):
            put(s["image"], png_bytes(render_scene(s["objects"], size)))

        for name, rows in tables.items():
            put(f"data/{name}.jsonl", write.jsonl_bytes(rows))
        profile_keys = ("id", "domain", "name", "split", "splits", "visible", "private", "image")
        put(
            "profiles.jsonl",
            write.jsonl_bytes([{k: by_id[i][k] for k in profile_keys} for i in sorted(by_id)]),
        )
        put("attributes.json", write.json_bytes(write.attributes(names)))
        put("refusals.json", write.json_bytes(refusals))
        n = write.counts(people, tables, len(refusals))
        put("README.md", write.card(cfg, n).encode("utf-8"))
        (tmp / "manifest.json").write_bytes(write.json_bytes(write.manifest(cfg, n, files)))
    return out


def _bar(items: list, desc: str, quiet: bool):
    """Iterate with a progress bar unless ``quiet`` or smfa is quiet (``--quiet``)."""
    from smfa.progress import bar, is_quiet

    if quiet or is_quiet():
        yield from items
        return
    with bar(total=len(items), desc=desc) as b:
        for it in items:
            yield it
            b.update(1)


def _check_target(out: Path) -> None:
    """Replace only an earlier benchmark; never wipe a folder that is something else."""
    if out.exists() and not out.is_dir():
        raise SmfaError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        try:
            generator = json.loads((out / "manifest.json").read_text()).get("generator")
        except (OSError, ValueError, AttributeError):
            generator = None
        if generator != write.GENERATOR:
            raise SmfaError(
                f"{out}: folder is not empty and is not a benchmark; refusing to replace it"
            )
