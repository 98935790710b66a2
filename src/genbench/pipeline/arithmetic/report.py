"""Stage ``arithmetic``'s report section: class and thickness vectors in code space."""

from __future__ import annotations

import pandas as pd

from genbench.doc import Heading, Images, Para, Table

#: its heading (also over "not run" when `studies` does not list it)
TITLE = "Code-space arithmetic"


def section(a: dict, fig_rel: str) -> list:
    rows, figs = {}, []
    for name, r in a["models"].items():
        if "skipped" in r:
            continue
        cl, th = r["class"], r["thickness"]
        rows[name] = {"code space": r["code_space"],
                      "a→b success": cl.get("success", "—"),
                      "random vector": cl.get("random", "—"), "pairs": cl.get("pairs", "—"),
                      "ink +v(thick)": th["ink_change_plus"],
                      "ink −v(thick)": th["ink_change_minus"],
                      "ink random": th["ink_change_random"],
                      "class kept +v": th["class_kept_plus"],
                      "class kept random": th["class_kept_random"]}
        figs.append((f"{fig_rel}/{r['figure']}", f"{name} arithmetic", 420))
    if not rows:
        return []
    out = [Heading(2, TITLE),
           Para("Attribute vectors as differences of mean codes: v(a→b) = mean code of class b "
                "− of class a; v(thick) = mean code of the thickest quarter − of the thinnest, "
                "by ink (mean pixel value). Added to new codes and decoded (autoencoders: means "
                "from train images, applied to test images' codes; GANs: prior draws, classes "
                "by the evaluator). 'a→b success' = share of class-a codes the evaluator reads "
                "as b after + v(a→b), averaged over the ordered class pairs; baseline: a random "
                "vector of the same norm. Ink columns: mean change of the mean pixel value "
                "(baseline: random vector of v(thick)'s norm); 'class kept' = share keeping the "
                "evaluator's class. A conditional GAN keeps its label: only v(thick) applies."),
           Table(pd.DataFrame(rows).T)]
    for i in range(0, len(figs), 2):
        out.append(Images(figs[i:i + 2]))
    return out
