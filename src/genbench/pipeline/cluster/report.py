"""Stage ``cluster``'s report section: the clustering scores per representation, NMF's parts
beside PCA's components."""

from __future__ import annotations

import pandas as pd

from genbench.doc import Heading, Images, Para, Table

#: its heading (also over "not run" when `studies` does not list it)
TITLE = "Clustering of representations"


def _ward_note(rows: dict) -> str:
    """How far Ward moves under rounding alone: the pca model's float32 codes and the float64
    scikit-learn baseline span the same subspace (when both rows exist)."""
    base = next((k for k in rows if k.startswith("PCA-")), None)
    if base is None or "pca" not in rows or rows["pca"]["code_dim"] != rows[base]["code_dim"]:
        return ""
    a, b = rows["pca"], rows[base]
    return (f" How stable that is: the `pca` model (float32) and the baseline (float64) are the "
            f"same {a['code_dim']}-d subspace; k-means NMI {a['kmeans']['nmi']:.3f} vs "
            f"{b['kmeans']['nmi']:.3f}, Ward NMI {a['ward']['nmi']:.3f} vs "
            f"{b['ward']['nmi']:.3f}: Ward's merge order moves with rounding, so Ward "
            f"differences of that size between rows are not evidence.")


def section(c: dict, fig_rel: str) -> list:
    rows = {name: {"code dim": r["code_dim"],
                   **{f"{alg} {m}": r[alg][m] for alg in ("kmeans", "ward")
                      for m in ("purity", "nmi", "ari")}} for name, r in c["rows"].items()}
    out = [Heading(2, TITLE),
           Para(f"k-means (k-means++, best of `cluster.kmeans_init` starts) and agglomerative "
                f"clustering with Ward's linkage, k = {c['clusters']} clusters, on the same "
                f"{c['points']} test images: raw pixels, PCA codes (scikit-learn, the "
                f"baseline) and each model's codes (`encode`; hidden means for the Boltzmann "
                f"machines). Exact scores against the labels: purity (share of the majority "
                f"label per cluster; {c['chance_purity']:.2f} puts everything in one cluster), "
                f"NMI (arithmetic-mean normalisation; 0 = independent) and ARI (0 = chance). "
                f"One clustering per row, no seeds." + _ward_note(c["rows"])),
           Table(pd.DataFrame(rows).T)]
    if c.get("skipped"):
        out.append(Para("No codes: " + "; ".join(f"{m} ({why})" for m, why in
                                                c["skipped"].items()) + "."))
    nv = c.get("nmf_vs_pca", {})
    if "recon_mse_nmf" in nv:
        out += [Heading(3, "NMF parts vs PCA components"),
                Para(f"At equal rank ({nv['rank_nmf']} vs {nv['rank_pca']}), test-split "
                     f"reconstruction MSE per pixel: PCA {nv['recon_mse_pca']:.5f} (the best a "
                     f"rank-{nv['rank_pca']} linear code can do in squared error), NMF "
                     f"{nv['recon_mse_nmf']:.5f}. NMF's parts are non-negative and local: "
                     f"{nv['nmf_part_zero_share']:.0%} of their pixels are below 0.1% of the "
                     f"largest part weight; PCA's components are signed, holistic patterns."),
                Images([(f"{fig_rel}/{nv['figure']}", "PCA components vs NMF parts", None)])]
    return out
