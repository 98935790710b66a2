"""Stage ``coverage``'s report section: density and coverage beside precision and recall, one
table per kind of output, ranked by coverage."""

from __future__ import annotations

import pandas as pd

from genbench.doc import Heading, Para, Table


def section(c: dict, fig_rel: str | None = None) -> list:
    from genbench.report import FLOOR, ROLE_TITLES

    rows = pd.DataFrame(c["models"]).T
    if rows.empty:
        return []
    out = [Heading(2, "Density and coverage"),
           Para(f"Naeem et al. (2020): density = how many real neighbourhoods (each real "
                f"image's ball out to its k-th nearest real, k = {c['k']} as precision/recall "
                f"use) a sample falls in, over k (about 1 where samples sit where real images "
                f"are dense; it can exceed 1); coverage = the share of real images whose "
                f"neighbourhood some sample reaches. Unlike precision and recall, a few "
                f"prototypes or one sample on an outlier cannot fill them: a collapsed model "
                f"keeps a high precision but a low coverage. The same images and real "
                f"reference subset as the evaluate stage's precision and recall; one table per "
                f"kind of output, ranked by coverage; the last row scores the held-out real "
                f"images the same way.")]
    cols = ["kind", "coverage", "density", "precision", "recall", "collapsed"]
    floor = pd.DataFrame([c["floor"]], index=[FLOOR]).reindex(columns=cols)
    names = {"coverage": "coverage ↑", "density": "density", "precision": "precision ↑",
             "recall": "recall ↑"}
    for role, title in ROLE_TITLES.items():
        part = rows[rows["role"] == role]
        if part.empty:
            continue
        part = part.astype({k: float for k in ("coverage", "density", "precision", "recall")})
        part = part.assign(collapsed=part["collapsed"].map({True: "yes", False: "no"}))
        part = part.sort_values("coverage", ascending=False, kind="stable")
        out += [Heading(3, f"{title}: density and coverage", toc=False),
                Table(pd.concat([part[cols], floor]).rename(columns=names))]
    return out
