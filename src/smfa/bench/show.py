"""`smfa bench show`: print one profile with its questions and save a contact sheet."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from smfa.bench.colors import png_bytes
from smfa.bench.load import Bench
from smfa.io import atomic_write_bytes, check_output


def show(
    path: str,
    profile: str | None = None,
    out: str | None = None,
    n: int = 16,
    questions: int = 3,
) -> str:
    """Show a profile (facts and a few questions per type); ``--out`` also writes a contact
    sheet PNG of it and the next profiles.

    The sheet is never written inside the benchmark folder (that would break its manifest).

    Args:
        path: Benchmark folder.
        profile: Profile id (p0007) or name; default: the first profile of forget05.
        out: Contact sheet PNG to write (none when omitted).
        n: Number of images on the contact sheet (the shown profile first).
        questions: Questions printed per question type.

    Returns:
        The text (the command line prints it).
    """
    bench = Bench(path)
    dest = Path(out) if out else None
    if dest is not None:
        check_output(dest, "bench show", inputs=[bench.root], is_file=True, owned=dest.is_file())
    p = (
        bench.profile(profile)
        if profile
        else bench.profile(bench.split("forget05")[0]["subject_id"])
    )
    lines = [
        f"{p['id']}  {p['name']}  ({p['domain']}; split {p['split']}; "
        f"tables {', '.join(p['splits'])})",
        f"  image: {p['image']}",
        "  visible: " + ", ".join(f"{k}={v}" for k, v in p["visible"].items()),
        "  private: " + ", ".join(f"{k}={v}" for k, v in p["private"].items()),
    ]
    table = p["splits"][0]
    rows = [r for r in bench.split(table) if r["subject_id"] == p["id"]]
    for qtype in ("image_memory", "text_memory", "understanding"):
        some = [r for r in rows if r["qtype"] == qtype][:questions]
        if some:
            lines.append(f"  {qtype}:")
            lines += [f"    Q: {r['question']}  A: {r['answer']}" for r in some]

    if dest is not None:
        others = [q for q in bench.profiles() if q["id"] != p["id"]]
        atomic_write_bytes(dest, png_bytes(contact_sheet(bench, [p, *others][: max(1, n)])))
        lines.append(f"contact sheet: {dest}")
    return "\n".join(lines)


def contact_sheet(bench: Bench, profiles: list[dict], cols: int = 8) -> Image.Image:
    """Profiles' images in a grid, in the given order."""
    images = [bench.open_image(q) for q in profiles]
    side = images[0].width
    cols = min(cols, len(images))
    rows = -(-len(images) // cols)
    sheet = Image.new("RGB", (cols * (side + 2), rows * (side + 2)), (255, 255, 255))
    for i, img in enumerate(images):
        sheet.paste(img, ((i % cols) * (side + 2) + 1, (i // cols) * (side + 2) + 1))
    return sheet
