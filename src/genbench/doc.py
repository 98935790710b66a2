"""A small document model for the report: headings, paragraphs, tables and image rows, written
once and rendered to Markdown and to HTML (so the two reports cannot drift apart), with a
contents list made from the headings and numbers formatted for reading."""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

#: the most columns one table shows; wider tables are split into parts that repeat the index
MAX_COLUMNS = 16


def fmt(v) -> str:
    """A number as a reader wants it: integers with thousands separators; floats without an
    exponent and with thousands separators from 1,000 up, one decimal from 100, two from 1,
    three significant digits below (0.00032), an exponent only under 1e-4; '–' if missing."""
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.number)):
        return str(v)
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}"
    v, a = float(v), abs(float(v))
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    if a >= 1e-4 or v == 0:
        return f"{v:.3g}"
    return f"{v:.2e}"


def pm(d: dict, digits: int = 3) -> str:
    """A ``{"mean", "std"}`` summary over repeats as ``mean ± sd``."""
    return f"{d['mean']:.{digits}f} ± {d['std']:.{digits}f}"


def slug(text: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", text.lower()).strip().replace(" ", "-")


@dataclass
class Heading:
    level: int
    text: str
    toc: bool = True  # listed in the contents


@dataclass
class Para:
    """Markdown-flavoured text: `code` and **bold** are carried into the HTML."""

    text: str


@dataclass
class Table:
    df: pd.DataFrame
    index: bool = True
    wrap: bool = False  # text cells wrap and align left (a table of sentences, not numbers)


@dataclass
class Images:
    """(src, alt, html width or None) in one row."""

    items: list[tuple[str, str, int | None]]


@dataclass
class Contents:
    """Replaced by the list of the level-2 headings, each with its level-3 ones on one line."""


@dataclass
class Doc:
    title: str
    blocks: list = field(default_factory=list)

    def add(self, *blocks) -> Doc:
        self.blocks.extend(b for b in blocks if b is not None)
        return self


def _parts(df: pd.DataFrame) -> list[pd.DataFrame]:
    if df.shape[1] <= MAX_COLUMNS:
        return [df]
    return [df.iloc[:, i:i + MAX_COLUMNS] for i in range(0, df.shape[1], MAX_COLUMNS)]


def _cells(df: pd.DataFrame) -> pd.DataFrame:
    """Every cell formatted; a float column holding only whole numbers (counts stored as float,
    or next to a missing value) is shown as integers."""
    def column(col: pd.Series) -> pd.Series:
        num = col.dropna()
        if col.dtype.kind == "f" and len(num) and (num == num.round()).all():
            col = col.astype("Int64")
        return col.astype(object).map(fmt)
    return df.apply(column)


def _markdown_table(df: pd.DataFrame, index: bool) -> str:
    """'|' escaped everywhere (a 'q(y|x)' would split a row), a multi-level index as columns,
    text left and numbers right."""
    esc = lambda x: str(x).replace("|", "\\|")
    cells = _cells(df)
    n_index = df.index.nlevels if index else 0
    if index:
        names = [n or "" for n in df.index.names]
        cells = cells.reset_index()
        cells.columns = [*names, *df.columns]
    cells = cells.map(esc)
    cells.columns = [esc(c) for c in cells.columns]
    align = ["left"] * n_index + ["right" if pd.api.types.is_numeric_dtype(df[c]) else "left"
                                  for c in df.columns]
    # disable_numparse: tabulate would re-parse "0.832" and print it its own way
    return cells.to_markdown(index=False, disable_numparse=True, colalign=align)


def _outline(doc: Doc) -> list[tuple[Heading, list[Heading]]]:
    out: list[tuple[Heading, list[Heading]]] = []
    for b in doc.blocks:
        if isinstance(b, Heading) and b.toc and b.level == 2:
            out.append((b, []))
        elif isinstance(b, Heading) and b.toc and b.level == 3 and out:
            out[-1][1].append(b)
    return out


def to_markdown(doc: Doc) -> str:
    md = [f"# {doc.title}", ""]
    for b in doc.blocks:
        if isinstance(b, Heading):
            md += [f"{'#' * b.level} {b.text}", ""]
        elif isinstance(b, Para):
            md += [b.text, ""]
        elif isinstance(b, Table):
            for part in _parts(b.df):
                md += [_markdown_table(part, b.index), ""]
        elif isinstance(b, Images):
            md += [" ".join(f"![{alt}]({src})" for src, alt, _ in b.items), ""]
        elif isinstance(b, Contents):
            md += ["**Contents**", ""]
            for h, subs in _outline(doc):
                line = f"- [{h.text}](#{slug(h.text)})"
                if subs:
                    line += ": " + " · ".join(f"[{s.text}](#{slug(s.text)})" for s in subs)
                md.append(line)
            md.append("")
    return "\n".join(md)


CSS = """
body{font-family:system-ui,sans-serif;max-width:1360px;margin:auto;padding:0 16px;
     line-height:1.4;color:#222}
h2{border-bottom:1px solid #ccc;margin-top:2em}
.tbl{overflow-x:auto;margin:0.5em 0 1em}
table{border-collapse:collapse;font-size:13px}
td,th{padding:3px 9px;text-align:right;white-space:nowrap}
th{vertical-align:bottom;border-bottom:1px solid #999}
thead th{white-space:normal}
tbody tr:nth-child(even){background:#f5f5f5}
tbody th{text-align:left}
.wrap table{width:100%}
.wrap td,.wrap th{white-space:normal;text-align:left;vertical-align:top;max-width:330px;
     overflow-wrap:anywhere}
.row{display:flex;flex-wrap:wrap;gap:14px;align-items:flex-start;margin:0.5em 0}
.row img{max-width:100%}
nav li{margin:2px 0}
"""


def to_html(doc: Doc) -> str:
    e = html.escape
    body = [f"<h1>{e(doc.title)}</h1>"]
    for b in doc.blocks:
        if isinstance(b, Heading):
            body.append(f'<h{b.level} id="{slug(b.text)}">{e(b.text)}</h{b.level}>')
        elif isinstance(b, Para):
            text = re.sub(r"`([^`]+)`", r"<code>\1</code>", e(b.text))  # the md's code spans
            text = re.sub(r"[*][*]([^*]+)[*][*]", r"<b>\1</b>", text)  # and bold
            text = re.sub(r"\[([^\]]+)\]\((#[^)\s]+)\)", r'<a href="\2">\1</a>', text)  # links
            body.append(f"<p>{text}</p>")
        elif isinstance(b, Table):
            cls = "tbl wrap" if b.wrap else "tbl"
            for part in _parts(b.df):
                table = _cells(part).to_html(border=0, index=b.index, index_names=False)
                body.append(f'<div class="{cls}">{table}</div>')
        elif isinstance(b, Images):
            body.append('<div class="row">' + "".join(
                f'<img src="{e(src)}" alt="{e(alt)}"' + (f' width="{w}"' if w else "") + ">"
                for src, alt, w in b.items) + "</div>")
        elif isinstance(b, Contents):
            items = []
            for h, subs in _outline(doc):
                sub = (": " + " · ".join(f'<a href="#{slug(s.text)}">{e(s.text)}</a>'
                                         for s in subs)) if subs else ""
                items.append(f'<li><a href="#{slug(h.text)}">{e(h.text)}</a>{sub}</li>')
            body.append("<nav><b>Contents</b><ul>" + "".join(items) + "</ul></nav>")
    return ("<!doctype html><html lang='en'><meta charset='utf-8'>"
            f"<title>{e(doc.title)}</title><style>{CSS}</style>\n" + "\n".join(body) + "\n")
