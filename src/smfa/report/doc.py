"""A tiny document model (headings, text, tables, figures) and its Markdown renderer.

Sections are built once as blocks; ``markdown.render`` and ``html.render`` turn the same blocks
into ``report.md`` and ``report.html``. Block text is plain text: renderers escape it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass
class Heading:
    """A section title; level 2 headings get an anchor and a table-of-contents entry."""

    text: str
    level: int = 2

    @property
    def anchor(self) -> str:
        """``Main results (ROUGE-L)`` -> ``main-results-rouge-l``."""
        return re.sub(r"[^a-z0-9]+", "-", self.text.lower()).strip("-")


@dataclass
class Para:
    """A paragraph of plain text."""

    text: str


@dataclass
class Facts:
    """A list of ``(name, value)`` pairs (the run header)."""

    items: list[tuple[str, str]]


@dataclass
class Code:
    """Preformatted text (a command, a config file)."""

    text: str
    summary: str | None = None  # HTML shows it collapsed under this title when given


@dataclass
class Table:
    """A table of strings; ``bold`` cells are best-in-column, ``ref_rows`` are reference rows.

    ``numeric[c]`` right-aligns column ``c``.
    """

    title: str
    headers: list[str]
    rows: list[list[str]]
    numeric: list[bool]
    bold: set[tuple[int, int]] = field(default_factory=set)
    ref_rows: set[int] = field(default_factory=set)
    caption: str = ""


@dataclass
class Figure:
    """A PNG plot, written to ``plots/<name>`` and embedded in the HTML."""

    name: str
    png: bytes
    caption: str


Block = Heading | Para | Facts | Code | Table | Figure


def md_escape(text: str) -> str:
    """Escape text for a Markdown table cell or paragraph (no raw HTML, no cell breaks)."""
    text = re.sub(r"&(?=#?\w+;)", "&amp;", text)  # only where it would read as an entity
    text = text.replace("<", "&lt;").replace(">", "&gt;")
    return " ".join(text.replace("|", "\\|").split())


def _md_table(t: Table) -> list[str]:
    """A GitHub-flavoured Markdown table, bold cells as ``**x**``, reference rows in italics."""
    lines = [f"**{md_escape(t.title)}**", ""] if t.title else []
    lines.append("| " + " | ".join(md_escape(h) for h in t.headers) + " |")
    lines.append("|" + "|".join("---:" if n else "---" for n in t.numeric) + "|")
    for i, row in enumerate(t.rows):
        cells = []
        for j, cell in enumerate(row):
            text = md_escape(cell) or " "
            if (i, j) in t.bold:
                text = f"**{text}**"
            elif i in t.ref_rows and j == 0:
                text = f"*{text}*"
            cells.append(text)
        lines.append("| " + " | ".join(cells) + " |")
    if t.caption:
        lines += ["", md_escape(t.caption)]
    return lines


def _md_block(b: Block) -> list[str]:
    """The Markdown lines of one block."""
    if isinstance(b, Heading):
        return ["#" * b.level + " " + md_escape(b.text)]
    if isinstance(b, Para):
        return [md_escape(b.text)]
    if isinstance(b, Facts):
        return [f"- **{md_escape(k)}:** {md_escape(v)}" for k, v in b.items]
    if isinstance(b, Code):
        fence = "~~~~" if "```" in b.text else "```"
        head = [f"{md_escape(b.summary)}:", ""] if b.summary else []
        return head + [fence, b.text.rstrip("\n"), fence]
    if isinstance(b, Table):
        return _md_table(b)
    if isinstance(b, Figure):
        return [f"![{md_escape(b.caption)}](plots/{b.name})", "", md_escape(b.caption)]
    raise TypeError(f"unknown block {type(b).__name__}")


def render_markdown(blocks: list[Block]) -> str:
    """The whole document as Markdown (blocks separated by blank lines)."""
    return "\n\n".join("\n".join(_md_block(b)) for b in blocks) + "\n"
