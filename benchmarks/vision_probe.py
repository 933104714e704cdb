"""Why the tiny model's vision was slow to learn: a scenes-only probe of the vision settings.

Trains the tiny model from scratch on ``scenes_train`` alone (a few epochs, through the same
``fit`` loop and ``TinyConfig`` as ``smfa train``) under each setting, then reports scene
accuracy (rule judge Fact = 10) on 500 trained questions and on ``scenes_eval``, and how much of
the projected image features still depends on the image (``image_signal``: std across images /
rms; near 0 means the tower has collapsed to one output for every image).

    python benchmarks/vision_probe.py --bench runs/b200 --out runs/vision_probe --epochs 4

Settings: CLIP's init and one learning rate (``base``); the vision tower and projector at 0.1×
the learning rate (``lr0.1``); vision position embeddings initialised with std 1 (``pos1``);
the tower frozen at its random initialisation with those positions (``frozen+pos1``); both
(``lr0.1+pos1``, the shipped recipe).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

SETTINGS = {
    "base": ({}, {}),
    "lr0.1": ({}, {"vision_tower": 0.1, "multi_modal_projector": 0.1}),
    "pos1": ({"vision_position_std": 1.0}, {}),
    "frozen+pos1": ({"vision_position_std": 1.0}, {"vision_tower": 0.0}),
    "lr0.1+pos1": (
        {"vision_position_std": 1.0},
        {"vision_tower": 0.1, "multi_modal_projector": 0.1},
    ),
}


def image_signal(model, processor, bench, rows) -> float:
    """Std across images of the projected image features, relative to their rms."""
    import torch

    from smfa.data import ImageCache
    from smfa.models.format import train_batch

    img = ImageCache()
    seen, items = set(), []
    for r in rows:
        if r["image"] not in seen:
            seen.add(r["image"])
            items.append((img(str(bench.image_path(r))), r["question"], r["answer"]))
    pv = train_batch(processor, items[:32])["pixel_values"]
    with torch.no_grad():
        f = model.model.get_image_features(pixel_values=pv).pooler_output
    f = torch.stack(list(f)) if isinstance(f, (list, tuple)) else f
    return round(float(f.std(0).pow(2).mean().sqrt() / f.pow(2).mean().sqrt()), 4)


def probe(bench, out: Path, name: str, epochs: float, seed: int) -> dict:
    import dataclasses

    from smfa.data import samples_from_rows
    from smfa.models import load, tiny
    from smfa.stages.train_original import corpus_texts, load_original_config
    from smfa.train import fit, nll_loss_fn

    sys.path.insert(0, str(Path(__file__).parent))
    from train_original import per_attribute, score

    model_kw, lr_scale = SETTINGS[name]
    shipped = load_original_config(None, tiny=True)
    cfg = tiny.TinyConfig(**{**shipped.model, "vision_position_std": 0.02, **model_kw})
    train = dataclasses.replace(shipped.train, epochs=epochs, lr_scale=lr_scale, checkpoint_every=0)
    work = out / name
    tiny.build(work / "init", corpus_texts(bench), cfg, seed=seed)
    model, processor = load(str(work / "init"))
    samples = samples_from_rows(bench, bench.split("scenes_train"))
    t = time.monotonic()
    model, _ = fit(model, processor, {"train": samples}, nll_loss_fn(), train, work / "fit")
    secs = time.monotonic() - t
    model.save_pretrained(work / "model")
    processor.save_pretrained(work / "model")
    result = {"setting": name, "epochs": epochs, "train_seconds": round(secs, 1)}
    result["image_signal"] = image_signal(model, processor, bench, bench.split("scenes_train"))
    rows = {
        "scenes_train": random.Random(seed).sample(bench.split("scenes_train"), 500),
        "scenes_eval": bench.split("scenes_eval"),
    }
    for split, rs in rows.items():
        s = score(work / "model", bench, rs)
        result[f"{split}_acc"] = round(sum(x["correct"] for x in s) / len(s), 3)
        result[f"{split}_per_attribute"] = per_attribute(s)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench", default="runs/b200")
    ap.add_argument("--out", default="runs/vision_probe")
    ap.add_argument("--epochs", type=float, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--settings", nargs="*", default=list(SETTINGS), choices=list(SETTINGS))
    args = ap.parse_args()
    from smfa import bench as benchmod

    bench_dir, out = Path(args.bench), Path(args.out)
    if not (bench_dir / "manifest.json").is_file():
        benchmod.build(str(bench_dir), quiet=True)
    b = benchmod.load(bench_dir)
    results = []
    for name in args.settings:
        r = probe(b, out, name, args.epochs, args.seed)
        print(json.dumps({k: v for k, v in r.items() if not k.endswith("attribute")}))
        results.append(r)
    out.mkdir(parents=True, exist_ok=True)
    (out / "vision_probe.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
