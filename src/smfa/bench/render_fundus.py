"""Synthetic retinal fundus photos: orange-red disc on black, optic disc, vessels, lesions.

Visible features (lesion count and color, optic disc side, vessel density) are drawn exactly;
the layout of vessels and lesions comes from a per-patient random stream, so two patients with
the same features still get different images.
"""

from __future__ import annotations

import math
import random

from PIL import Image, ImageDraw

from smfa.bench.colors import LESIONS

FUNDUS = (200, 75, 35)
OPTIC_DISC = (250, 215, 140)
VESSEL = (120, 20, 20)
DISC_CENTER = {"left": (0.27, 0.5), "right": (0.73, 0.5), "top": (0.5, 0.27), "bottom": (0.5, 0.73)}
VESSELS = {"minimal": 2, "low": 4, "medium": 6, "high": 9}


def render_fundus(visible: dict, size: int, rnd: random.Random) -> Image.Image:
    """Draw a fundus photo with the given visible features (see ``profiles.VISIBLE['fundus']``)."""
    s = size
    img = Image.new("RGB", (s, s), (0, 0, 0))
    d = ImageDraw.Draw(img)
    d.ellipse([int(0.04 * s), int(0.04 * s), int(0.96 * s), int(0.96 * s)], fill=FUNDUS)
    cx, cy = DISC_CENTER[visible["disc_side"]]
    n = VESSELS[visible["vessel_density"]]
    w = max(1, s // 40)
    for i in range(n):
        angle = 2 * math.pi * (i + rnd.uniform(0.1, 0.9)) / n
        pts = [(cx, cy)]
        x, y = cx, cy
        for _ in range(4):
            angle += rnd.uniform(-0.4, 0.4)
            nx, ny = x + 0.12 * math.cos(angle), y + 0.12 * math.sin(angle)
            if math.hypot(nx - 0.5, ny - 0.5) > 0.43:
                break
            x, y = nx, ny
            pts.append((x, y))
        d.line([(int(a * s), int(b * s)) for a, b in pts], fill=VESSEL, width=w)
    r = int(0.09 * s)
    d.ellipse([int(cx * s) - r, int(cy * s) - r, int(cx * s) + r, int(cy * s) + r], fill=OPTIC_DISC)
    rl = max(1, int(0.035 * s))
    for x, y in lesion_centers(int(visible["lesion_count"]), (cx, cy), rnd):
        px, py = int(x * s), int(y * s)
        d.ellipse([px - rl, py - rl, px + rl, py + rl], fill=LESIONS[visible["lesion_color"]])
    return img


def lesion_centers(n: int, disc: tuple[float, float], rnd: random.Random) -> list[tuple]:
    """n lesion centers inside the fundus, apart from the optic disc and from each other."""
    out: list[tuple[float, float]] = []
    while len(out) < n:
        x, y = rnd.uniform(0.14, 0.86), rnd.uniform(0.14, 0.86)
        if math.hypot(x - 0.5, y - 0.5) > 0.36 or math.dist((x, y), disc) < 0.16:
            continue
        if all(math.dist((x, y), o) >= 0.13 for o in out):
            out.append((x, y))
    return out
