"""The report's sections for the lectures' unsupervised toolbox beyond the generative models:
clustering of representations and NMF vs PCA (stage ``cluster``), code-space arithmetic
(``arithmetic``), tangent prop (``tangent_prop``) and predictive learning on text (``text``).
Each section says what its numbers are and names its baseline; a missing input (a stage of an
older run) drops its section."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from genbench.core.io import read_json
from genbench.doc import Heading, Images, Para, Table


def _pm(d: dict, digits: int = 3) -> str:
    """mean ± sd over the repeats."""
    return f"{d['mean']:.{digits}f} ± {d['std']:.{digits}f}"


def _read(path) -> dict | None:
    return read_json(path) if path and Path(path).exists() else None


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


def cluster_blocks(c: dict, fig_rel: str) -> list:
    rows = {name: {"code dim": r["code_dim"],
                   **{f"{alg} {m}": r[alg][m] for alg in ("kmeans", "ward")
                      for m in ("purity", "nmi", "ari")}} for name, r in c["rows"].items()}
    out = [Heading(2, "Clustering of representations"),
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


def arithmetic_blocks(a: dict, fig_rel: str) -> list:
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
    out = [Heading(2, "Code-space arithmetic"),
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


def tangent_prop_blocks(t: dict) -> list:
    rows = {}
    for n, per in t["labels"].items():
        rows[f"{n} labels"] = {v: _pm(per[v], 4) for v in t["variants"] if v in per}
    text = (f"Simard et al. (1992): a 2-hidden-layer MLP trained {t['steps']} Adam steps on n "
            f"labelled train images with cross-entropy + γ × the squared directional "
            f"derivatives of its logits along tangent vectors (unit norm) of each image: "
            f"'transforms' = shift x, shift y and rotation (Lie derivatives); 'encoder' = the "
            f"top right-singular vectors of the `{t['encoder']}` encoder's Jacobian. Baseline: "
            f"'none', the same network, label draw and initial weights without the penalty. "
            f"Test accuracy, mean ± sd over {t['repeats']} label draws.")
    if t.get("skipped"):
        text += " Not run: " + "; ".join(t["skipped"].values()) + "."
    return [Heading(2, "Tangent prop"), Para(text), Table(pd.DataFrame(rows).T)]


def text_blocks(x: dict) -> list:
    docs = {k: {"Pearson r": _pm(v["pearson"]), "Spearman ρ": _pm(v["spearman"])}
            for k, v in x["document_similarity"].items()}
    words = {k: {"WordSim-353 Spearman ρ": _pm(v["spearman"]),
                 "pairs out of vocabulary": f"{v['oov_share']['mean']:.0%}"}
             for k, v in x["wordsim353"].items()}
    d = x["documents"]
    return [Heading(2, "Predictive learning on text"),
            Para(f"word2vec (CBOW, skip-gram) and doc2vec (PV-DM, PV-DBOW), gensim, trained "
                 f"{x['epochs']} passes over the Lee background corpus gensim ships ({d['train']}"
                 f" news articles, {d['train_tokens']:,} tokens). Judged on the {d['test']} Lee "
                 f"test articles by the Lee et al. (2005) protocol: correlation between the "
                 f"cosine similarity of two documents' vectors and the mean human similarity "
                 f"judgement, over all {d['pairs']:,} pairs (exact correlations of estimated "
                 f"vectors; mean ± sd over {x['repeats']} seeds). Baselines: TF-IDF cosine and "
                 f"the mean of the word2vec vectors of a document's words."),
            Table(pd.DataFrame(docs).T),
            Para("Word vectors on WordSim-353 (human word-pair similarities), pairs with both "
                 "words in the vocabulary only: the small corpus misses many."),
            Table(pd.DataFrame(words).T)]


def blocks(base: Path, cluster=None, cluster_figures=None, arithmetic=None,
           arithmetic_figures=None, tangent_prop=None, text=None, gan_studies=None,
           gan_studies_figures=None) -> list:
    """Every section whose input exists; image paths relative to ``base``."""
    def rel(p):
        return os.path.relpath(p, base) if p else "."

    out = []
    if (c := _read(cluster)) is not None:
        out += cluster_blocks(c, rel(cluster_figures))
    if (a := _read(arithmetic)) is not None:
        out += arithmetic_blocks(a, rel(arithmetic_figures))
    if (t := _read(tangent_prop)) is not None:
        out += tangent_prop_blocks(t)
    if (x := _read(text)) is not None:
        out += text_blocks(x)
    if (g := _read(gan_studies)) is not None:
        from genbench.report_gans import gan_studies_blocks

        out += gan_studies_blocks(g, rel(gan_studies_figures))
    return out
