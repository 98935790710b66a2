"""The analyses' part of the report: tables (pandas) and cross-model figures built from the
``metrics/analyses/<model>.json`` files; :mod:`genbench.report` places them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from genbench.core.errors import DataError
from genbench.core.io import read_json, save_figure

#: (analysis, key) -> column title of the analyses table, in order
ANALYSIS_COLUMNS = {
    ("probe", "code_dim"): "code dim",
    ("probe", "accuracy_codes"): "probe: codes ↑",
    ("probe", "accuracy_pca_same_size"): "probe: PCA same dim",
    ("probe", "accuracy_pixels"): "probe: pixels",
    ("interpolation", "confidence_pixel"): "interp conf: pixel",
    ("interpolation", "confidence_latent"): "interp conf: latent",
    ("interpolation", "confidence_pixel_mid"): "mid: pixel",
    ("interpolation", "confidence_latent_mid"): "mid: latent",
    ("inpainting", "mse_pseudo_inverse"): "inpaint MSE: pseudo-inv ↓",
    ("inpainting", "mse_encoder_guess"): "encoder guess",
    ("inpainting", "mse_nearest_neighbour"): "nearest nb",
    ("inpainting", "mse_mean_image"): "mean image",
    ("robustness", "clean"): "recon MSE: clean ↓",
    ("robustness", "gaussian"): "gaussian",
    ("robustness", "masking"): "masking",
    ("robustness", "salt_pepper"): "salt&pepper",
    ("tangents", "top1_share"): "‖J‖² in top-1",
    ("tangents", "top5_share"): "in top-5",
    ("tangents", "effective_rank"): "eff. rank",
    ("tangents", "jacobian_frobenius_sq"): "‖J‖²_F",
    ("anomaly", "mean_auroc"): "anomaly AUROC ↑",
    ("latent", "grid_confidence"): "2-D grid conf",
}


def load(analyses_dir: Path, models) -> dict[str, dict]:
    out = {}
    for name in models:
        f = analyses_dir / f"{name}.json"
        if not f.exists():
            raise DataError(f"{f}: missing analyses of {name}; run evaluate@{name} (dvc repro)")
        out[name] = read_json(f)
    return out


def main_table(results: dict[str, dict]) -> pd.DataFrame:
    rows = {}
    for name, r in results.items():
        rows[name] = {title: r[a][k] for (a, k), title in ANALYSIS_COLUMNS.items()
                      if isinstance(r.get(a), dict) and k in r[a]}
    return pd.DataFrame.from_dict(rows, orient="index").reindex(
        columns=[t for t in ANALYSIS_COLUMNS.values()]).dropna(how="all").dropna(axis=1, how="all")


def anomaly_table(results: dict[str, dict]) -> pd.DataFrame:
    rows = {name: {**{f"class {k}": v for k, v in r["anomaly"]["auroc"].items()},
                   "mean": r["anomaly"]["mean_auroc"]}
            for name, r in results.items() if "anomaly" in r}
    return pd.DataFrame.from_dict(rows, orient="index")


def finetune_table(results: dict[str, dict]) -> pd.DataFrame:
    rows = []
    for name, r in results.items():
        ft = r.get("finetune")
        if not ft:
            continue
        for n, res in ft.items():
            if not isinstance(res, dict):
                continue
            row = {"model": name, "labels": int(n)}
            for key, title in (("pretrained", "pretrained"), ("random_init", "random init")):
                accs = pd.Series(res[key])
                row[f"{title} acc"] = f"{accs.mean():.4f} ± {accs.std(ddof=0):.4f}"
            row["gain"] = res["pretrained_mean"] - res["random_init_mean"]
            row["repeats"] = len(res["pretrained"])
            rows.append(row)
    return pd.DataFrame(rows)


def dependency_table(results: dict[str, dict]) -> pd.DataFrame:
    """The autoregressive models' dependency fields (:mod:`genbench.analysis.dependency`)."""
    cols = {"seen_past": "past pixels seen", "past_pixels": "past pixels",
            "rows_above": "rows above", "cols_left": "cols left", "cols_right": "cols right",
            "seen_left_in_row": "left in row", "blind_spot_pixels": "blind spot px ↓",
            "seen_future": "future seen (must be 0)"}
    rows = {name: {t: r["dependency"][k] for k, t in cols.items()}
            for name, r in results.items() if isinstance(r.get("dependency"), dict)}
    return pd.DataFrame.from_dict(rows, orient="index")


def spectra_figure(path: Path, results: dict[str, dict]) -> bool:
    """The encoder-Jacobian spectra of every model, relative to σ₁, on one log plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    spectra = {n: r["tangents"]["spectrum_relative"] for n, r in results.items()
               if "tangents" in r}
    if not spectra:
        return False
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for name, s in spectra.items():
        ax.plot(range(1, len(s) + 1), s, marker="o", ms=3, label=name)
    ax.set_yscale("log")
    ax.set_xlabel("singular value index")
    ax.set_ylabel("σ_i / σ_1 (mean over test points)")
    ax.set_title("encoder Jacobian spectra", fontsize=9)
    ax.legend(fontsize=7, ncol=2)
    save_figure(path, fig)
    plt.close(fig)
    return True


def figure_list(figures_dir: Path, name: str) -> list[str]:
    """The analysis figures of a model, in reading order."""
    order = ["interpolation", "interpolation_confidence", "latent", "tangents", "inpainting",
             "anomaly_auroc", "dependency"]
    d = figures_dir / name
    return [f"{o}.png" for o in order if (d / f"{o}.png").exists()]
