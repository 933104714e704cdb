"""Procedural portraits: every visible feature is drawn from its value, nothing is random.

Coordinates are fractions of the image side. ``PROBES`` gives, for features drawn as flat
areas, a point whose pixel has exactly that feature's color (the tests read them back).
"""

from __future__ import annotations

from PIL import Image, ImageDraw

from smfa.bench.colors import COLORS, EYES, HAIR, SKIN

PROBES = {
    "background_color": (0.03, 0.03),
    "hair_color": (0.24, 0.45),
    "skin_tone": (0.36, 0.54),
    "clothing_color": (0.5, 0.95),
    "eye_color": (0.41, 0.40),  # left iris center
}
FEATURE_RGB = {
    "background_color": COLORS,
    "hair_color": HAIR,
    "skin_tone": SKIN,
    "clothing_color": COLORS,
    "eye_color": EYES,
}
_FRAME = (30, 30, 30)
_HATS = {"cap": (40, 50, 90), "beanie": (130, 30, 50), "top hat": (35, 35, 35)}


def probe_xy(feature: str, size: int) -> tuple[int, int]:
    """Pixel coordinates of a feature's probe point at a given image size."""
    fx, fy = PROBES[feature]
    return int(fx * size), int(fy * size)


def render_face(visible: dict, size: int) -> Image.Image:
    """Draw a portrait with the given visible features (see ``profiles.VISIBLE['faces']``)."""
    s = size

    def p(*fs: float) -> list[int]:
        return [int(f * s) for f in fs]

    w = max(1, s // 32)
    img = Image.new("RGB", (s, s), COLORS[visible["background_color"]])
    d = ImageDraw.Draw(img)
    hair = HAIR[visible["hair_color"]]
    skin = SKIN[visible["skin_tone"]]
    d.ellipse(p(0.19, 0.09, 0.81, 0.55), fill=hair)  # hair behind the head
    d.rectangle(p(0.19, 0.32, 0.81, 0.64), fill=hair)
    d.rectangle(p(0.44, 0.60, 0.56, 0.80), fill=skin)  # neck
    d.ellipse(p(0.10, 0.74, 0.90, 1.40), fill=COLORS[visible["clothing_color"]])
    d.ellipse(p(0.30, 0.18, 0.70, 0.68), fill=skin)  # face
    r_white, r_iris = max(2, int(0.06 * s)), max(1, int(0.035 * s))
    for cx in (0.41, 0.59):
        x, y = p(cx, 0.40)
        d.ellipse([x - r_white, y - r_white, x + r_white, y + r_white], fill=(255, 255, 255))
        d.ellipse([x - r_iris, y - r_iris, x + r_iris, y + r_iris], fill=EYES[visible["eye_color"]])
    d.line(p(0.43, 0.57, 0.57, 0.57), fill=(150, 50, 50), width=w)  # mouth
    _glasses(d, visible["glasses"], p, w)
    _hat(d, visible["hat"], p)
    return img


def _glasses(d: ImageDraw.ImageDraw, kind: str, p, w: int) -> None:
    if kind == "goggles":
        d.rectangle(p(0.30, 0.33, 0.70, 0.47), outline=_FRAME, width=w)
        return
    if kind == "no glasses":
        return
    for cx in (0.41, 0.59):
        box = p(cx - 0.085, 0.40 - 0.075, cx + 0.085, 0.40 + 0.075)
        if kind == "round glasses":
            d.ellipse(box, outline=_FRAME, width=w)
        else:
            d.rectangle(box, outline=_FRAME, width=w)
    d.line(p(0.495, 0.40, 0.505, 0.40), fill=_FRAME, width=w)


def _hat(d: ImageDraw.ImageDraw, kind: str, p) -> None:
    if kind == "no hat":
        return
    color = _HATS[kind]
    if kind == "cap":
        d.chord(p(0.27, 0.06, 0.73, 0.36), 180, 360, fill=color)
        d.rectangle(p(0.25, 0.19, 0.85, 0.24), fill=color)
    elif kind == "beanie":
        d.chord(p(0.25, 0.04, 0.75, 0.44), 180, 360, fill=color)
        d.rectangle(p(0.25, 0.20, 0.75, 0.27), fill=color)
    else:  # top hat
        d.rectangle(p(0.34, 0.0, 0.66, 0.20), fill=color)
        d.rectangle(p(0.24, 0.18, 0.76, 0.23), fill=color)
