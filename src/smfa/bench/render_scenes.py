"""General scenes: up to four flat shapes (circle, square, triangle) at fixed slots."""

from __future__ import annotations

from PIL import Image, ImageDraw

from smfa.bench.colors import COLORS

BACKGROUND = (245, 245, 240)
SLOT_CENTER = {"left": (0.2, 0.5), "top": (0.5, 0.2), "right": (0.8, 0.5), "bottom": (0.5, 0.8)}
HALF = 0.13


def render_scene(objects: list[dict], size: int) -> Image.Image:
    """Draw objects ``{"slot", "shape", "color"}``; each slot holds at most one shape."""
    s = size
    img = Image.new("RGB", (s, s), BACKGROUND)
    d = ImageDraw.Draw(img)
    for o in objects:
        cx, cy = SLOT_CENTER[o["slot"]]
        x0, y0, x1, y1 = (int(v * s) for v in (cx - HALF, cy - HALF, cx + HALF, cy + HALF))
        fill = COLORS[o["color"]]
        if o["shape"] == "circle":
            d.ellipse([x0, y0, x1, y1], fill=fill)
        elif o["shape"] == "square":
            d.rectangle([x0, y0, x1, y1], fill=fill)
        else:
            d.polygon([(int(cx * s), y0), (x0, y1), (x1, y1)], fill=fill)
    return img
