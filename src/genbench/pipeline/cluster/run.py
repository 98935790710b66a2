"""Stage ``cluster``: how well each representation separates the classes without labels, and
NMF's parts beside PCA's components (Wu's *Unsupervised Learning*: clustering, NMF).

Rows of the clustering table: the raw pixels, PCA codes (scikit-learn's ``PCA`` fitted on the
train split, ``cluster.pca_dim`` components: the baseline), and the codes (``encode``) of every
selected model that has an encoder and needs no label (the AE family, VAEs, AAEs, PCA, NMF,
and the hidden means of RBM/DBN/DBM). Codes of the same ``cluster.points`` test images (a
seeded draw), in each model's own input space (binarised for the Boltzmann machines);
clustered as they are (no rescaling: the geometry is the model's).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import torch

from genbench import tracking
from genbench.analysis import cluster as CL
from genbench.core import data as D
from genbench.core import transforms as T
from genbench.core.config import ClusterView
from genbench.core.io import write_dir_atomically, write_json

log = logging.getLogger("genbench.cluster")


def _model_codes(path: Path, name: str, x8: torch.Tensor) -> np.ndarray | str:
    """The model's codes of the uint8 images ``x8`` (N, C, H, W), or why it has none."""
    from genbench.models.checkpoint import load_model

    model, _ = load_model(path, name)
    if not hasattr(model, "encode"):
        return "no encoder"
    if model.conditional:
        return "its codes need the label"
    x = T.eval_transform(model.input_transform).batch(x8)
    with torch.no_grad():
        z = torch.cat([model.encode(b) for b in x.split(500)])
    return z.flatten(1).double().numpy()


def _parts_figure(path: Path, pca, nmf, shape, show: int = 16) -> None:
    """PCA's top components (signed: red/blue) over NMF's parts (non-negative), one row each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [("PCA", pca[:show], "RdBu_r"), ("NMF", nmf[:show], "gray_r")]
    fig, axes = plt.subplots(2, show, figsize=(show * 0.8, 2.0))
    for r, (label, comps, cmap) in enumerate(rows):
        for i in range(show):
            ax = axes[r, i]
            img = comps[i].reshape(shape[1:]) if i < len(comps) else np.zeros(shape[1:])
            lim = np.abs(img).max() or 1.0
            ax.imshow(img, cmap=cmap, vmin=-lim if r == 0 else 0, vmax=lim)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(label)
    fig.suptitle("PCA components (signed, holistic) vs NMF parts (non-negative)", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _nmf_vs_pca(models_dir: Path, params: ClusterView, test: D.Split, figures: Path) -> dict:
    """NMF vs PCA at equal rank: test reconstruction MSE of both, their components picture."""
    from genbench.models.checkpoint import load_model

    kinds = {m: s["kind"] for m, s in params.models.items()}
    pca = next((m for m, k in kinds.items() if k == "pca"), None)
    nmf = next((m for m, k in kinds.items() if k == "nmf"), None)
    if pca is None or nmf is None:
        return {"skipped": "needs a pca and an nmf model in the selection"}
    p, _ = load_model(models_dir / pca / "model.pt", pca)
    n, _ = load_model(models_dir / nmf / "model.pt", nmf)
    x = T.to_unit(test.x)
    with torch.no_grad():
        err = {m: float((mod.reconstruct(x) - x).pow(2).mean())
               for m, mod in ((pca, p), (nmf, n))}
        nonneg = float((n.encode(x[:500]) >= 0).float().mean())
    _parts_figure(figures / "parts.png", p.components.T.numpy(), n.components.numpy(), p.shape)
    sparsity = float((n.components < 1e-3 * n.components.max()).float().mean())
    return {"pca": pca, "nmf": nmf, "rank_pca": p.cfg.latent_dim, "rank_nmf": n.cfg.latent_dim,
            "recon_mse_pca": err[pca], "recon_mse_nmf": err[nmf],
            "nmf_part_zero_share": sparsity, "nmf_codes_nonnegative": nonneg,
            "figure": "parts.png"}


def cluster(params: ClusterView, processed_dir, models_dir, out_json, figures_dir) -> dict:
    from sklearn.decomposition import PCA

    t0 = time.perf_counter()
    cfg = params.cluster
    meta = D.load_meta(processed_dir)
    train, test = D.load_split(processed_dir, "train"), D.load_split(processed_dir, "test")
    n = min(cfg.points, len(test))
    pick = torch.randperm(len(test), generator=torch.Generator().manual_seed(params.seed))[:n]
    x8, y = test.x[pick], test.y[pick].numpy()
    k = meta["num_classes"]
    pixels = T.to_unit(x8).flatten(1).double().numpy()
    dim = min(cfg.pca_dim, pixels.shape[1] - 1)
    pca = PCA(dim, random_state=params.seed).fit(T.to_unit(train.x).flatten(1).double().numpy())
    rows = {"pixels": pixels, f"PCA-{dim} (baseline)": pca.transform(pixels)}
    skipped = {}
    for name in params.models:
        codes = _model_codes(Path(models_dir) / name / "model.pt", name, x8)
        if isinstance(codes, str):
            skipped[name] = codes
        else:
            rows[name] = codes
    table = {}
    for name, z in rows.items():
        t = time.perf_counter()
        table[name] = {**CL.evaluate(z, y, k, params.seed, cfg.kmeans_init),
                       "code_dim": int(z.shape[1]), "seconds": time.perf_counter() - t}
        log.info("%s: k-means NMI %.3f, Ward NMI %.3f", name, table[name]["kmeans"]["nmi"],
                 table[name]["ward"]["nmi"])
    out = {"points": n, "clusters": k, "rows": table, "skipped": skipped,
           "chance_purity": float(np.bincount(y).max() / n)}

    def fill(folder: Path) -> None:  # swapped in whole; index.txt: DVC keeps no empty folder
        out["nmf_vs_pca"] = _nmf_vs_pca(Path(models_dir), params, test, folder)
        figs = sorted(f.name for f in folder.glob("*.png"))
        (folder / "index.txt").write_text(f"cluster: {len(figs)} figure(s): "
                                          f"{', '.join(figs) or 'none'}\n")

    figures = Path(figures_dir)
    write_dir_atomically(figures, fill)
    out["seconds"] = time.perf_counter() - t0
    write_json(out_json, out)
    tracking.log_stage_run(params.mlflow, name="cluster", params={"cluster": cfg.model_dump()},
                           result=out, artifacts=[out_json, figures])
    return out
