"""The report's document model: number formatting, wide tables split, a contents list whose
links all reach a heading, the same content in Markdown and HTML."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from genbench.doc import (
    MAX_COLUMNS,
    Contents,
    Doc,
    Heading,
    Images,
    Para,
    Table,
    fmt,
    slug,
    to_html,
    to_markdown,
)


@pytest.mark.parametrize("value,text", [
    (17420.3, "17,420"), (-1092.6, "-1,093"), (410.2, "410.2"), (13.476, "13.48"),
    (1.0, "1.00"), (0.8320001, "0.832"), (0.00032, "0.00032"), (3.2e-6, "3.20e-06"), (0.0, "0"),
    (10, "10"), (np.int64(1437), "1,437"), (np.float32(0.5), "0.5"), (float("nan"), "–"),
    (None, "–"), (pd.NA, "–"), ("exact", "exact")])
def test_numbers_are_formatted_for_reading(value, text):
    assert fmt(value) == text


def _doc() -> Doc:
    wide = pd.DataFrame(np.arange(3 * 20, dtype=float).reshape(3, 20) + 0.5,
                        index=pd.Index(["a", "b|c", "d"], name="model"),
                        columns=[f"m{i}" for i in range(20)])
    counts = pd.DataFrame({"n": [500.0, np.nan], "x": [0.25, 1.5]}, index=["p", "q"])
    return Doc("T").add(Para("intro with `code` and **bold**"), Contents(),
                        Heading(2, "Summary"), Heading(3, "GANs"), Table(wide),
                        Heading(2, "Models: GANs"), Heading(3, "gan (gan)"), Table(counts),
                        Images([("figures/a.png", "a", 300), ("figures/b.png", "b", None)]))


def test_markdown_and_html_have_the_same_sections_and_working_contents_links():
    md, page = to_markdown(_doc()), to_html(_doc())
    for h in ("Summary", "GANs", "Models: GANs", "gan (gan)"):
        assert f"## {h}" in md and f'id="{slug(h)}"' in page
    ids = set(re.findall(r'id="([^"]+)"', page))
    links = re.findall(r'href="#([^"]+)"', page)
    assert links and set(links) <= ids
    assert set(re.findall(r"\]\(#([^)]+)\)", md)) == set(links)
    assert "<code>code</code>" in page and "<b>bold</b>" in page


def test_wide_tables_are_split_repeating_the_index_and_counts_show_as_integers():
    md, page = to_markdown(_doc()), to_html(_doc())
    assert page.count('<div class="tbl">') == 1 + -(-20 // MAX_COLUMNS) + 0  # 2 parts + counts
    parts = -(-20 // MAX_COLUMNS)
    rows = re.findall(r"^[|] b\\[|]c +[|]", md, re.MULTILINE)
    assert len(rows) == parts  # '|' escaped, the index in every part
    assert "| 500 |" in md and "500.0" not in md and "| 1.50 |" in md
    assert '<img src="figures/a.png" alt="a" width="300">' in page
