"""Rendered images show exactly what the answers say (pixel probes) and never repeat."""

from __future__ import annotations

import numpy as np
import pytest

from smfa.bench import load
from smfa.bench.colors import COLORS, LESIONS
from smfa.bench.render_faces import FEATURE_RGB, PROBES, probe_xy, render_face
from smfa.bench.render_fundus import DISC_CENTER, OPTIC_DISC, render_fundus
from smfa.bench.render_scenes import SLOT_CENTER


def answer_value(bench, pid: str, attr: str) -> str:
    """The value that the bench's own understanding answer states for a profile."""
    for split in ("forget15", "retain", "unseen", "holdout"):
        for r in bench.split(split):
            if r["id"] == f"{pid}/understanding/{attr}":
                return r["keys"][0]
    raise KeyError(pid)


def test_portrait_pixels_match_the_answers(small_bench):
    b = load(small_bench)
    faces = [p for p in b.profiles() if p["domain"] == "faces" and p["split"] != "strangers"]
    assert len(faces) >= 10
    for p in faces:
        img = np.asarray(b.open_image(p))
        for feature in PROBES:
            value = answer_value(b, p["id"], feature)
            assert value == p["visible"][feature]
            x, y = probe_xy(feature, img.shape[0])
            assert tuple(img[y, x]) == FEATURE_RGB[feature][value], (p["id"], feature)


@pytest.mark.parametrize("size", [32, 48, 64, 100, 128])
def test_portrait_probes_hold_at_every_size(size):
    visible = {
        "hair_color": "red",
        "eye_color": "green",
        "skin_tone": "tan",
        "clothing_color": "purple",
        "background_color": "yellow",
    }
    for glasses in ("no glasses", "round glasses", "square glasses", "goggles"):
        for hat in ("no hat", "cap", "beanie", "top hat"):
            img = np.asarray(render_face({**visible, "glasses": glasses, "hat": hat}, size))
            for feature in PROBES:
                x, y = probe_xy(feature, size)
                assert tuple(img[y, x]) == FEATURE_RGB[feature][visible[feature]]


def test_glasses_and_hats_change_the_picture():
    base = {
        "hair_color": "black",
        "eye_color": "blue",
        "skin_tone": "light",
        "clothing_color": "red",
        "background_color": "white",
    }
    imgs = [
        np.asarray(render_face({**base, "glasses": g, "hat": h}, 32)).tobytes()
        for g in ("no glasses", "round glasses", "square glasses", "goggles")
        for h in ("no hat", "cap", "beanie", "top hat")
    ]
    assert len(set(imgs)) == 16


def test_all_images_are_distinct(small_bench):
    b = load(small_bench)
    pixels = [np.asarray(b.open_image(p)).tobytes() for p in b.profiles()]
    assert len(set(pixels)) == len(pixels)


def test_fundus_disc_and_lesions_are_drawn(small_bench):
    import random

    b = load(small_bench)
    fundus = [p for p in b.profiles() if p["domain"] == "fundus"]
    assert fundus
    for p in fundus:
        img = np.asarray(b.open_image(p))
        cx, cy = DISC_CENTER[answer_or_visible(b, p, "disc_side")]
        s = img.shape[0]
        assert tuple(img[int(cy * s), int(cx * s)]) == OPTIC_DISC
        lesion = LESIONS[p["visible"]["lesion_color"]]
        assert (img.reshape(-1, 3) == lesion).all(axis=1).any()
    for side in DISC_CENTER:
        visible = {"disc_side": side, "vessel_density": "high", "lesion_count": "6"}
        img = np.asarray(render_fundus({**visible, "lesion_color": "white"}, 64, random.Random(0)))
        cx, cy = DISC_CENTER[side]
        assert tuple(img[int(cy * 64), int(cx * 64)]) == OPTIC_DISC


def answer_or_visible(bench, p, attr):
    return p["visible"][attr] if p["split"] == "strangers" else answer_value(bench, p["id"], attr)


def test_scene_pixels_match_the_answers(small_bench):
    b = load(small_bench)
    rows = [r for r in b.split("scenes_eval") if r["attribute"] == "object"]
    assert rows
    for r in rows:
        img = np.asarray(b.open_image(r))
        slot = r["id"].split("/")[-1]
        color, _shape = r["keys"][0].split()
        cx, cy = SLOT_CENTER[slot]
        assert tuple(img[int(cy * img.shape[0]), int(cx * img.shape[1])]) == COLORS[color]
