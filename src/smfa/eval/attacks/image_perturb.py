"""Image perturbations of the image-memory forget questions: blur, noise, crop, colour jitter,
JPEG (PIL; seeded per question). A fact that only a pixel-exact portrait hides is not gone.
Text-only questions are left out of these attacks. The perturbations are pure functions
``(PIL image, random.Random) -> PIL image`` of the same size and mode."""

from __future__ import annotations

import io
import random

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

from smfa.eval.attacks.base import Attack, Attacked, Target, row_rng
from smfa.registry import ATTACKS


def blur(img: Image.Image, rng: random.Random) -> Image.Image:
    """Gaussian blur, radius in [0.8, 1.5] px of a 32-px-scale image (scaled to the size)."""
    radius = rng.uniform(0.8, 1.5) * max(img.size) / 32
    return img.filter(ImageFilter.GaussianBlur(radius))


def noise(img: Image.Image, rng: random.Random, sigma: float = 16.0) -> Image.Image:
    """Additive Gaussian pixel noise, std ``sigma`` on the 0–255 scale, clipped."""
    a = np.asarray(img, dtype=np.float64)
    gen = np.random.default_rng(rng.getrandbits(32))
    out = np.clip(a + gen.normal(0.0, sigma, a.shape), 0, 255).round().astype(np.uint8)
    return Image.fromarray(out, mode=img.mode)


def crop(img: Image.Image, rng: random.Random, keep: float = 0.85) -> Image.Image:
    """A random crop of ``keep`` × each side, resized back to the original size."""
    w, h = img.size
    cw, ch = max(1, round(w * keep)), max(1, round(h * keep))
    x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
    return img.crop((x, y, x + cw, y + ch)).resize((w, h), Image.BILINEAR)


def color_jitter(img: Image.Image, rng: random.Random, amount: float = 0.3) -> Image.Image:
    """Brightness, contrast and saturation each scaled by a factor in [1 − amount, 1 + amount]."""
    for enhancer in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
        img = enhancer(img).enhance(rng.uniform(1 - amount, 1 + amount))
    return img


def jpeg(img: Image.Image, rng: random.Random) -> Image.Image:
    """JPEG compression at a quality in [10, 30], decoded back."""
    buf = io.BytesIO()
    img.convert("RGB").save(buf, format="JPEG", quality=rng.randint(10, 30))
    buf.seek(0)
    with Image.open(buf) as out:
        return out.convert(img.mode)


PERTURBATIONS = {
    "blur": blur,
    "noise": noise,
    "crop": crop,
    "color_jitter": color_jitter,
    "jpeg": jpeg,
}


#: The perturbations of the default (cheap) suite; the full suite runs every one.
DEFAULT = ("noise", "jpeg")


class ImagePerturbation(Attack):
    perturbation = ""

    def apply(self, t: Target) -> Attacked:
        fn = PERTURBATIONS[self.perturbation]
        rows, questions, images = [], [], []
        for r, im in zip(t.rows, t.images):
            if im is None:
                continue
            rows.append(r)
            questions.append(r["question"])
            images.append(fn(im, row_rng(t.seed, self.perturbation, r)))
        return Attacked(rows, questions, images)


for _name in PERTURBATIONS:
    ATTACKS.add(
        f"image_{_name}",
        type(
            f"Image_{_name}",
            (ImagePerturbation,),
            {
                "perturbation": _name,
                "title": f"Image: {_name.replace('_', ' ')}",
                "default": _name in DEFAULT,
            },
        ),
    )
