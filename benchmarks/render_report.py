"""Screenshot a report.html in headless Chromium, to check that its tables and plots render.

Usage: python benchmarks/render_report.py RUN_DIR_OR_REPORT_HTML [--out report.png]
       [--width 1400] [--height 4000] [--chromium /usr/bin/chromium]

Network use is switched off (QUIC, background networking, component updates, sync), so the
screenshot also shows that the page needs nothing outside itself. Exits with code 2 and an
install hint when Chromium is missing (Debian/Ubuntu: ``apt-get install chromium``).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def find_chromium(explicit: str | None) -> str | None:
    """The Chromium binary: ``explicit`` if given, else the first candidate on this machine."""
    for name in [explicit] if explicit else CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def screenshot(chromium: str, html: Path, out: Path, width: int, height: int) -> None:
    """Render ``html`` at ``width`` × ``height`` pixels and write the PNG to ``out``."""
    with tempfile.TemporaryDirectory(prefix="smfa-chromium-") as profile:
        cmd = [
            chromium,
            *FLAGS,
            f"--user-data-dir={profile}",
            f"--screenshot={out.resolve()}",
            f"--window-size={width},{height}",
            html.resolve().as_uri(),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0 or not out.is_file():
        tail = "\n".join((proc.stderr or proc.stdout).splitlines()[-10:])
        sys.exit(f"error: chromium failed (exit {proc.returncode}):\n{tail}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("target", type=Path, help="run folder (its report.html) or an HTML file")
    ap.add_argument("--out", type=Path, default=None, help="PNG path (default: next to the page)")
    ap.add_argument("--width", type=int, default=1400)
    ap.add_argument("--height", type=int, default=4000)
    ap.add_argument("--chromium", default=None, help="Chromium binary (default: search PATH)")
    args = ap.parse_args()
    html = args.target / "report.html" if args.target.is_dir() else args.target
    if not html.is_file():
        print(f"error: {html}: file not found (run `smfa report RUN_DIR` first)", file=sys.stderr)
        sys.exit(2)
    chromium = find_chromium(args.chromium)
    if chromium is None:
        print(
            "error: Chromium is not installed; install it with `apt-get install -y chromium` "
            "(Debian/Ubuntu) or pass --chromium PATH",
            file=sys.stderr,
        )
        sys.exit(2)
    out = args.out or html.with_name(html.stem + "_screenshot.png")
    screenshot(chromium, html, out, args.width, args.height)
    print(f"wrote {out} ({args.width}x{args.height}) from {html}")


if __name__ == "__main__":
    main()
