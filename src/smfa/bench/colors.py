"""Exact RGB of every color name used in rendered images (no antialiasing, so pixels are exact)."""

from __future__ import annotations

import io

from PIL import Image

COLORS = {
    "red": (210, 40, 40),
    "blue": (50, 90, 210),
    "green": (50, 160, 70),
    "yellow": (240, 210, 50),
    "purple": (130, 60, 170),
    "orange": (240, 140, 30),
    "black": (25, 25, 25),
    "brown": (120, 75, 35),
    "pink": (240, 150, 190),
    "gray": (160, 160, 160),
    "white": (250, 250, 250),
}

HAIR = {
    "black": (20, 20, 20),
    "brown": (110, 70, 30),
    "blond": (235, 205, 110),
    "red": (190, 60, 20),
    "gray": (140, 140, 140),
    "white": (240, 240, 235),
}
EYES = {
    "brown": (90, 50, 20),
    "blue": (40, 100, 220),
    "green": (40, 160, 60),
    "gray": (120, 130, 140),
}
SKIN = {
    "pale": (255, 228, 215),
    "light": (240, 200, 165),
    "tan": (205, 155, 105),
    "brown": (150, 100, 60),
    "dark": (90, 60, 40),
}
LESIONS = {
    "yellow": (245, 225, 60),
    "white": (250, 250, 250),
    "black": (20, 20, 20),
    "purple": (120, 40, 160),
}


def png_bytes(img: Image.Image) -> bytes:
    """Encode deterministically: fixed zlib level, no optimizer pass, no metadata chunks."""
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=6)
    return buf.getvalue()
