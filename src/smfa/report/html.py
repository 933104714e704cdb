"""Render the report blocks as one self-contained HTML page.

CSS is inline and every plot is a ``data:image/png;base64`` URI: the page references no other
file and no network resource, so it can be mailed or archived alone.
"""

from __future__ import annotations

import base64
from html import escape

from smfa.report.doc import Block, Code, Facts, Figure, Heading, Para, Table

CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1300px; padding: 0 1em; color: #1f2328; line-height: 1.45; }
h1 { border-bottom: 2px solid #d0d7de; padding-bottom: .3em; }
h2 { border-bottom: 1px solid #d0d7de; padding-bottom: .2em; margin-top: 2em; }
nav ul { columns: 2; font-size: .95em; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: .2em 1em; }
dl.facts dt { font-weight: 600; }  dl.facts dd { margin: 0; }
.scroll { overflow-x: auto; margin: .6em 0 1.4em; }
table { border-collapse: collapse; font-size: .9em; }
caption { caption-side: top; text-align: left; font-weight: 600; padding: .3em 0; }
th, td { border: 1px solid #d0d7de; padding: .3em .6em; vertical-align: top; }
th { background: #f6f8fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.ref td { background: #f3f4f6; color: #57606a; font-style: italic; }
td strong { color: #0a3069; }
p.note { color: #57606a; font-size: .9em; margin-top: -.8em; }
pre { background: #f6f8fa; padding: .8em; overflow-x: auto; font-size: .85em; }
figure { margin: 1em 0; }  figure img { max-width: 100%; border: 1px solid #d0d7de; }
figcaption { color: #57606a; font-size: .9em; }
"""


def _table(t: Table) -> str:
    """One ``<table>``; best cells bold, reference rows greyed."""
    head = "".join(f"<th>{escape(h)}</th>" for h in t.headers)
    rows = []
    for i, row in enumerate(t.rows):
        cells = []
        for j, cell in enumerate(row):
            text = escape(cell) or "&nbsp;"
            if (i, j) in t.bold:
                text = f"<strong>{text}</strong>"
            cls = ' class="num"' if t.numeric[j] else ""
            cells.append(f"<td{cls}>{text}</td>")
        cls = ' class="ref"' if i in t.ref_rows else ""
        rows.append(f"<tr{cls}>{''.join(cells)}</tr>")
    caption = f"<caption>{escape(t.title)}</caption>" if t.title else ""
    note = f'<p class="note">{escape(t.caption)}</p>' if t.caption else ""
    body = "\n".join(rows)
    return (
        f'<div class="scroll"><table>{caption}<thead><tr>{head}</tr></thead>'
        f"<tbody>\n{body}\n</tbody></table></div>{note}"
    )


def _figure(f: Figure) -> str:
    """An ``<img>`` with the PNG inlined as a data URI."""
    data = base64.b64encode(f.png).decode("ascii")
    return (
        f'<figure><img alt="{escape(f.caption)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{escape(f.caption)}</figcaption></figure>"
    )


def _block(b: Block) -> str:
    """The HTML of one block."""
    if isinstance(b, Heading):
        return f'<h{b.level} id="{b.anchor}">{escape(b.text)}</h{b.level}>'
    if isinstance(b, Para):
        return f"<p>{escape(b.text)}</p>"
    if isinstance(b, Facts):
        items = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in b.items)
        return f'<dl class="facts">{items}</dl>'
    if isinstance(b, Code):
        pre = f"<pre>{escape(b.text.rstrip())}</pre>"
        return (
            f"<details><summary>{escape(b.summary)}</summary>{pre}</details>" if b.summary else pre
        )
    if isinstance(b, Table):
        return _table(b)
    if isinstance(b, Figure):
        return _figure(b)
    raise TypeError(f"unknown block {type(b).__name__}")


def _toc(blocks: list[Block]) -> str:
    """Links to the level-2 sections (in-page anchors only)."""
    items = "".join(
        f'<li><a href="#{b.anchor}">{escape(b.text)}</a></li>'
        for b in blocks
        if isinstance(b, Heading) and b.level == 2
    )
    return f"<nav><ul>{items}</ul></nav>" if items else ""


def render_html(blocks: list[Block], title: str) -> str:
    """The whole report as a standalone HTML5 page."""
    parts = [_block(b) for b in blocks]
    parts.insert(1, _toc(blocks))  # after the title
    body = "\n".join(p for p in parts if p)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f"{body}\n</body>\n</html>\n"
    )
