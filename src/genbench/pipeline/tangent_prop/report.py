"""Stage ``tangent_prop``'s report section: test accuracy with and without the tangent
penalty per label count."""

from __future__ import annotations

import pandas as pd

from genbench.doc import Heading, Para, Table, pm

#: its heading (also over "not run" when `studies` does not list it)
TITLE = "Tangent prop"


def section(t: dict, fig_rel: str | None = None) -> list:
    rows = {}
    for n, per in t["labels"].items():
        rows[f"{n} labels"] = {v: pm(per[v], 4) for v in t["variants"] if v in per}
    text = (f"Simard et al. (1992): a 2-hidden-layer MLP trained {t['steps']} Adam steps on n "
            f"labelled train images with cross-entropy + γ × the squared directional "
            f"derivatives of its logits along tangent vectors (unit norm) of each image: "
            f"'transforms' = shift x, shift y and rotation (Lie derivatives); 'encoder' = the "
            f"top right-singular vectors of the `{t['encoder']}` encoder's Jacobian. Baseline: "
            f"'none', the same network, label draw and initial weights without the penalty. "
            f"Test accuracy, mean ± sd over {t['repeats']} label draws.")
    if t.get("skipped"):
        text += " Not run: " + "; ".join(t["skipped"].values()) + "."
    return [Heading(2, TITLE), Para(text), Table(pd.DataFrame(rows).T)]
