"""The report: built only from DVC outputs (never from MLflow), for the models in params.yaml.

Writes report.md and report.html (figures beside them), summary.json (DVC metrics) and a long
CSV of the headline metrics (DVC plots).
"""

from __future__ import annotations

import html
import os
import shutil
from pathlib import Path

import pandas as pd

from genbench.core.config import ReportView
from genbench.core.data import _write_dir_atomically
from genbench.core.errors import DataError
from genbench.core.io import read_json, write_json, write_text

COLUMNS = {  # metric key -> column title, in table order
    "fid": "FID ↓", "kid": "KID ↓", "is": "IS ↑", "precision": "precision ↑",
    "recall": "recall ↑", "classes_covered": "classes", "class_kl": "class KL ↓",
    "nll_nats": "NLL nats ↓", "bits_per_dim": "bits/dim ↓", "nll_note": "NLL is",
    "elbo_nats": "ELBO nats",
    "recon_mse": "recon MSE ↓", "class_accuracy": "class acc ↑",
    "code_purity": "code purity ↑", "label_accuracy": "q(y|x) acc ↑",
    "probe_accuracy": "linear probe ↑", "anomaly_auroc": "anomaly AUROC ↑", "n": "n samples",
    "seconds": "time s"}
BARS = ("fid", "kid", "precision", "recall")
LIKELIHOOD = {"kind": "kind", "nll_nats": "NLL nats ↓", "bits_per_dim": "bits/dim ↓",
              "elbo_nats": "ELBO nats", "likelihood": "what the number is", "pixels": "pixels",
              "likelihood_images": "test images", "log_z_std": "AIS log Z spread (sd)",
              "train_seconds": "train s", "sample_seconds": "sample s", "n": "samples"}
MIXING = {"kind": "kind", "chain_class_changes_per_100_steps": "class changes / 100 steps",
          "chain_distinct_classes": "classes visited per chain",
          "chain_share_leaving_first_class": "chains leaving their first class",
          "chains": "chains", "chain_steps": "steps"}


def _read(path: Path, what: str) -> dict:
    if not path.exists():
        raise DataError(f"{path}: missing {what}; run the pipeline up to it first (dvc repro)")
    return read_json(path)


def collect(params: ReportView, metrics_dir: Path, evaluator_metrics: Path, models_dir: Path,
            samples_dir: Path, analyses: dict[str, dict] | None = None
            ) -> tuple[pd.DataFrame, dict]:
    """One row per model present in params.yaml (stale outputs of dropped models are ignored),
    plus the held-out real-data floor."""
    rows, details = [], {}
    analyses = analyses or {}
    for name in params.models:
        m = _read(metrics_dir / f"{name}.json", f"metrics of {name}")
        t = _read(models_dir / name / "train.json", f"train info of {name}")
        s = _read(samples_dir / name / "sample.json", f"sample info of {name}")
        seconds = t["train_seconds"] + s["sample_seconds"] + m["eval_seconds"]
        if "likelihood" in m:  # exact or a bound, on which pixels: NLLs compare only within a kind
            m = {**m, "nll_note": f"{m['likelihood']}; {m['pixels']}"}
        a = analyses.get(name, {})
        if "probe" in a:
            m = {**m, "probe_accuracy": a["probe"]["accuracy_codes"]}
        if "anomaly" in a:
            m = {**m, "anomaly_auroc": a["anomaly"]["mean_auroc"]}
        rows.append({"model": name, "kind": t["kind"], **m, "seconds": seconds,
                     "train_seconds": t["train_seconds"], "sample_seconds": s["sample_seconds"],
                     "steps": t["steps"]})
        details[name] = {"metrics": m, "train": t, "sample": s}
    ev = _read(evaluator_metrics, "evaluator metrics")
    rows.append({"model": "real (held-out)", "kind": "floor", **ev["floor"]})
    return pd.DataFrame(rows).set_index("model"), {"models": details, "evaluator": ev}


def _fmt(v):
    if pd.isna(v):
        return "–"
    if isinstance(v, float):
        return f"{v:.4f}" if abs(v) < 1 else f"{v:.4g}" if abs(v) < 1e4 else f"{v:.3e}"
    return str(v)


def _md(df: pd.DataFrame, index: bool = True) -> str:
    """A markdown table; '|' inside cells escaped (a 'log p(x|y)' would split a row)."""
    return df.apply(lambda col: col.map(_fmt).str.replace("|", "\\|")).to_markdown(index=index)


def _fmt_table(df: pd.DataFrame) -> pd.DataFrame:
    cols = [c for c in COLUMNS if c in df.columns]
    return df[cols].rename(columns=COLUMNS).apply(lambda col: col.map(_fmt))


#: training-curve columns drawn on the right panel (rates and control variables, not losses)
DYNAMICS = ("acc_real", "acc_fake", "acc", "q_acc", "w_estimate", "convergence", "k", "alpha",
            "level", "phase")


BASELINE_NAMES = {"edges": "input itself (edge map)", "sr": "bicubic upsampling",
                  "inpaint": "input itself (block hidden)"}
PAIRED = {"l1": "L1 ↓", "psnr": "PSNR dB ↑", "ssim": "SSIM ↑", "fid": "FID ↓", "kid": "KID ↓",
          "precision": "precision ↑", "recall": "recall ↑", "class_accuracy": "class acc ↑",
          "n": "test images"}


def _translation_tables(details: dict) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """Paired tasks (each model, then the baseline of each task once) and unpaired translation
    (each model, then the identity baseline); from the models' ``translation`` metrics."""
    paired, unpaired, baselines = [], [], {}
    for name, d in details["models"].items():
        t = d["metrics"].get("translation")
        if not t:
            continue
        if "a_to_b" in t["model"]:
            for row_name, r in ((name, t["model"]), (f"identity (G = F = I; cycle: an "
                                                      f"unrelated image) [{name}]", t["baseline"])):
                unpaired.append({
                    "model": row_name, "B": t.get("unpaired"),
                    "class kept A→B ↑": r["a_to_b"]["class_preservation"],
                    "class kept B→A ↑": r["b_to_a"]["class_preservation"],
                    "cycle L1 A ↓": r["a_to_b"]["cycle_l1"],
                    "cycle L1 B ↓": r["b_to_a"]["cycle_l1"],
                    "FID A→B (in B) ↓": r["a_to_b"]["fid"],
                    "FID B→A (in A) ↓": r["b_to_a"]["fid"],
                    "test images A / B": f"{r['a_to_b']['n']} / {r['b_to_a']['n']}"})
            continue
        paired.append({"model": name, "task": t["task"],
                       **{v: t["model"].get(k) for k, v in PAIRED.items()}})
        baselines.setdefault(t["task"], t["baseline"])
    for task, r in baselines.items():
        paired.append({"model": f"baseline: {BASELINE_NAMES[task]}", "task": task,
                       **{v: r.get(k) for k, v in PAIRED.items()}})
    to_df = lambda rows: pd.DataFrame(rows).set_index("model") if rows else None  # noqa: E731
    return to_df(paired), to_df(unpaired)


TRANSLATION_TEXT = (
    "Paired tasks, on the whole test split: the input is built from each test image "
    "(data.translation: Sobel edge map, average-pooled low resolution, a hidden square); L1, "
    "PSNR and SSIM of the output against that image; FID/KID/precision/recall of the outputs "
    "against the train images (evaluator features, so comparable within this table: fewer "
    "images than the samples above); class acc = the evaluator sees the input's digit. "
    "Unpaired: A is this dataset, B the other one (data.translation.unpaired); class kept = "
    "the target domain's classifier (trained on its train split by the evaluator stage) gives "
    "G(x) the class of x; cycle L1 = mean |F(G(a)) − a| per pixel in [0, 1]; FID in the target "
    "domain with its classifier's features. The identity row judges the untranslated inputs; "
    "its cycle column is the L1 between a test image and an unrelated one of the same domain.")


def _strip_captions(details: dict) -> list[tuple[str, str]]:
    out = []
    for name, d in details["models"].items():
        t = d["metrics"].get("translation")
        if t and "a_to_b" in t["model"]:
            out.append((name, "rows: a | G(a) | F(G(a)), then b | F(b) | G(F(b)); one test "
                              "image per class"))
        elif t:
            out.append((name, f"rows: input | output | target ({t['task']}); one test image "
                              f"per class"))
    return out


def _likelihood_tables(df: pd.DataFrame) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """The likelihood table (models with a test NLL, best first; NLLs compare only between rows
    with the same pixels) and the chain-mixing table of Markov-chain samplers."""
    lik = mix = None
    if "nll_nats" in df.columns:
        rows = df[df["nll_nats"].notna()].sort_values(["pixels", "nll_nats"])
        lik = rows[[c for c in LIKELIHOOD if c in rows.columns]].rename(columns=LIKELIHOOD)
    if "chain_class_changes_per_100_steps" in df.columns:
        rows = df[df["chain_class_changes_per_100_steps"].notna()]
        mix = rows[[c for c in MIXING if c in rows.columns]].rename(columns=MIXING)
    return lik, mix


LIKELIHOOD_TEXT = (
    "Test log-likelihoods, nats per image and bits per dimension, on the same test split with "
    "the same seeded static binarisation for every binary model; rows on other pixels "
    "(continuous [0,1] densities moved to the 8-bit scale) are not comparable with them. "
    "'exact' = the model's exact likelihood; 'lower bound' = ELBO/IWAE (true NLL is lower); "
    "'AIS estimate' = log Z estimated by annealed importance sampling (not a bound: an "
    "under-estimated log Z makes the NLL look better than it is). Not in the table: a DBM "
    "(two hidden layers, mean-field inference + persistent chains) is not implemented yet; "
    "rather than a half-trained one, the DBN stands for the deep Boltzmann family.")


def _loss_figure(path: Path, name: str, models_dir: Path) -> bool:
    """Training dynamics: losses on the left; D's accuracy on real/fake (a perfect generator
    leaves it at 50%), the Wasserstein estimate, BEGAN's M and k, schedules on the right."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    f = models_dir / name / "losses.csv"
    if not f.exists():
        return False
    df = pd.read_csv(f)
    if len(df) < 2:
        return False
    cols = [c for c in df.columns if c != "step" and df[c].notna().any()]
    right = [c for c in cols if c.split("/")[-1] in DYNAMICS]
    left = [c for c in cols if c not in right]
    fig, axes = plt.subplots(1, 2 if right else 1, figsize=(9 if right else 5, 3), squeeze=False)
    for col in left:
        axes[0, 0].plot(df["step"], df[col], label=col)
    axes[0, 0].set_xlabel("step")
    axes[0, 0].set_title(f"{name}: losses", fontsize=9)
    axes[0, 0].legend(fontsize=7)
    if right:
        ax = axes[0, 1]
        for col in right:
            ax.plot(df["step"], df[col], label=col)
        if any("acc" in c for c in right):
            ax.axhline(0.5, color="0.5", ls="--", lw=0.8)
        ax.set_xlabel("step")
        ax.set_title(f"{name}: dynamics", fontsize=9)
        ax.legend(fontsize=7)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return True


def _bar_figure(path: Path, df: pd.DataFrame) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(BARS), figsize=(3.2 * len(BARS), 3))
    for ax, key in zip(axes, BARS):
        vals = df[key].astype(float)
        colors = ["0.6" if k == "floor" else "C0" for k in df["kind"]]
        ax.barh(range(len(vals)), vals.values, color=colors)
        ax.set_yticks(range(len(vals)), vals.index, fontsize=7)
        ax.set_title(key)
    fig.tight_layout()
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def build_report(params: ReportView, metrics_dir: Path, evaluator_metrics: Path, models_dir: Path,
                 samples_dir: Path, out_md: Path, out_html: Path, out_figures: Path,
                 out_summary: Path, out_plot: Path, analyses_dir: Path | None = None,
                 analysis_figures: Path | None = None, toys_metrics: Path | None = None,
                 toy_figures: Path | None = None) -> dict:
    from genbench.analysis import report as AR

    metrics_dir, evaluator_metrics, models_dir, samples_dir = map(
        Path, (metrics_dir, evaluator_metrics, models_dir, samples_dir))
    out_md, out_html, out_figures, out_summary, out_plot = map(
        Path, (out_md, out_html, out_figures, out_summary, out_plot))
    analyses = AR.load(Path(analyses_dir), params.models) if analyses_dir else {}
    df, details = collect(params, metrics_dir, evaluator_metrics, models_dir, samples_dir,
                          analyses)
    ev = details["evaluator"]
    table = _fmt_table(df)
    sections = []
    has_spectra = False

    def fill(figs: Path) -> None:  # a temp folder swapped in at the end
        nonlocal has_spectra
        _bar_figure(figs / "metrics.png", df)
        has_spectra = AR.spectra_figure(figs / "tangent_spectra.png", analyses)
        for name in params.models:
            shutil.copyfile(samples_dir / name / "grid.png", figs / f"{name}_samples.png")
            has_loss = _loss_figure(figs / f"{name}_losses.png", name, models_dir)
            sections.append((name, details["models"][name], has_loss))

    _write_dir_atomically(out_figures, fill)
    rel = out_figures.name

    # ---- markdown
    md = [f"# genbench report — {params.data.name}, budget {params.budget.name}", "",
          f"Evaluator ({ev['backbone']}): test accuracy {ev['test_accuracy']:.4f}, "
          f"val accuracy {ev['val_accuracy']:.4f}. Sample metrics use the evaluator's features "
          f"against the train split; the last row is the floor: held-out real images "
          f"(val+test) scored like samples. NLL is per image on the test split.", "",
          table.apply(lambda col: col.str.replace("|", "\\|")).to_markdown(), "",
          f"![metrics]({rel}/metrics.png)", ""]
    lik, mix = _likelihood_tables(df)
    if lik is not None:
        md += ["## Likelihoods", "", LIKELIHOOD_TEXT, "",
               _md(lik), ""]
    if mix is not None:
        md += ["## Markov-chain mixing", "",
               ("Chains from noise, each state labelled by the evaluator's classifier: a chain "
                "that mixes moves between digit classes."), "", _md(mix), ""]
    paired, unpaired = _translation_tables(details)
    strips = _strip_captions(details)
    if paired is not None or unpaired is not None:
        md += ["## Image-to-image translation", "", TRANSLATION_TEXT, ""]
        md += [_md(t) + "\n" for t in (paired, unpaired) if t is not None]
        md += [f"**{n}** — {c}:\n\n![{n} strips]({rel}/{n}_samples.png)\n" for n, c in strips]
    md += _analysis_md(analyses, analysis_figures, out_md.parent, rel, has_spectra)
    toys = read_json(toys_metrics) if toys_metrics and Path(toys_metrics).exists() else None
    toy_rel = os.path.relpath(Path(toy_figures), out_md.parent) if toy_figures else None
    if toys:
        md += _toys_md(toys, toy_rel)
    for name, d, has_loss in sections:
        m, t = d["metrics"], d["train"]
        md += [f"## {name} ({t['kind']})", "",
               f"{t['steps']} steps in {t['train_seconds']:.1f} s on {t['device']}; "
               f"{d['sample']['n']} samples in {d['sample']['sample_seconds']:.2f} s; "
               f"classes covered {m['classes_covered']}/{len(m['class_hist'])}; "
               f"class histogram {m['class_hist']}."
               + (f" Likelihood: {m['likelihood']}, {m['pixels']} pixels." if "likelihood" in m
                  else "")
               + (" Last logged training values: " + ", ".join(
                   f"{k} {v:.4g}" for k, v in t["final"].items()) + "." if t.get("final") else ""),
               "",
               f"![{name} samples]({rel}/{name}_samples.png)"
               + (f" ![{name} losses]({rel}/{name}_losses.png)" if has_loss else ""), ""]
        if name in analyses and analysis_figures:
            a_rel = os.path.relpath(Path(analysis_figures) / name, out_md.parent)
            skipped = analyses[name]["skipped"]
            md += [" ".join(f"![{name} {f[:-4]}]({a_rel}/{f})"
                            for f in AR.figure_list(Path(analysis_figures), name)), ""]
            if skipped:
                md += ["Analyses not run: " + "; ".join(f"{k} ({v})" for k, v in skipped.items())
                       + ".", ""]
    write_text(out_md, "\n".join(md))

    # ---- html
    body = [f"<h1>genbench report — {html.escape(params.data.name)}, budget "
            f"{html.escape(params.budget.name)}</h1>",
            f"<p>Evaluator test accuracy {ev['test_accuracy']:.4f}. Last row: held-out real "
            f"images (the floor).</p>", table.to_html(border=0),
            f'<p><img src="{rel}/metrics.png"></p>']
    if lik is not None:
        body += ["<h2>Likelihoods</h2>", f"<p>{html.escape(LIKELIHOOD_TEXT)}</p>",
                 lik.apply(lambda col: col.map(_fmt)).to_html(border=0)]
    if mix is not None:
        body += ["<h2>Markov-chain mixing</h2>",
                 mix.apply(lambda col: col.map(_fmt)).to_html(border=0)]
    if paired is not None or unpaired is not None:
        body += ["<h2>Image-to-image translation</h2>", f"<p>{html.escape(TRANSLATION_TEXT)}</p>"]
        body += [t.apply(lambda col: col.map(_fmt)).to_html(border=0)
                 for t in (paired, unpaired) if t is not None]
        body += [f'<p><b>{html.escape(n)}</b> — {html.escape(c)}<br>'
                 f'<img src="{rel}/{n}_samples.png" width="420"></p>' for n, c in strips]
    body += _analysis_html(analyses, rel, has_spectra)
    if toys:
        body += [f"<h2>2-D GAN experiments</h2><p>{html.escape(_line_text(toys['line2d']))}</p>",
                 _mixture_table(toys).apply(lambda col: col.map(_fmt)).to_html(border=0),
                 *[f'<p><img src="{toy_rel}/{f}.png" style="max-width:100%">'
                   for f in ("line2d", *toys["mixtures"])]]
    for name, d, has_loss in sections:
        body += [f"<h2>{html.escape(name)} ({html.escape(d['train']['kind'])})</h2>",
                 f'<img src="{rel}/{name}_samples.png" width="300">'
                 + (f' <img src="{rel}/{name}_losses.png">' if has_loss else "")]
        if name in analyses and analysis_figures:
            a_rel = os.path.relpath(Path(analysis_figures) / name, out_html.parent)
            body += [f'<p><img src="{a_rel}/{f}" style="max-width:100%">'
                     for f in AR.figure_list(Path(analysis_figures), name)]
    write_text(out_html, "<!doctype html><meta charset='utf-8'><title>genbench report</title>"
               "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}"
               "td,th{padding:2px 8px;text-align:right}</style>\n" + "\n".join(body) + "\n")

    # ---- DVC metrics and plots
    numeric = df.drop(columns=["kind"]).apply(pd.to_numeric, errors="coerce")
    summary = {"evaluator_test_accuracy": ev["test_accuracy"],
               "models": {k: {c: float(v) for c, v in row.items() if pd.notna(v)}
                          for k, row in numeric.drop(columns=["class_hist"], errors="ignore")
                          .iterrows()}}
    if toys:
        summary["toys"] = {f"{ds}/{v}": {"modes_captured": r["modes_captured"],
                                         "high_quality": r["high_quality"]}
                           for ds, res in toys["mixtures"].items() for v, r in res.items()}
    if paired is not None or unpaired is not None:
        summary["translation"] = {
            f"{m}": {c: float(v) for c, v in row.items() if isinstance(v, (int, float))
                     and pd.notna(v)}
            for t in (paired, unpaired) if t is not None for m, row in t.iterrows()}
    if analyses:
        summary["analyses"] = {m: {k: float(v) for k, v in row.items() if pd.notna(v)}
                               for m, row in AR.main_table(analyses).iterrows()}
    write_json(out_summary, summary)
    long = df[[c for c in BARS if c in df.columns]].reset_index().melt(
        id_vars="model", var_name="metric", value_name="value")
    write_text(out_plot, long.to_csv(index=False))
    return summary


def _analysis_tables(analyses: dict[str, dict]) -> list[tuple[str, str, pd.DataFrame, bool]]:
    """(title, explanation, table, show index) of the analysis sections that have data."""
    from genbench.analysis import report as AR

    out = []
    t = AR.main_table(analyses)
    if not t.empty:
        out.append(("Analyses", "Every analysis feeds the models [0, 1] grey test images. "
                    "Linear probe: logistic regression test accuracy on the frozen codes, on PCA "
                    "codes of the same size and on raw pixels. Interpolation: the evaluator's mean "
                    "max probability inside pixel-space and latent-space paths between test "
                    "images of different classes (mean over interior points, and at the "
                    "midpoint). Inpainting: MSE on the hidden pixels. Robustness: reconstruction "
                    "MSE to the clean image of corrupted test images. Tangents: share of "
                    "‖∂h/∂x‖²_F in the top singular directions. 2-D grid conf: the evaluator's "
                    "mean confidence on images decoded over a 15×15 grid of a 2-D latent.", t,
                    True))
    t = AR.finetune_table(analyses)
    if not t.empty:
        out.append(("Few-label fine-tuning", "The encoder plus a softmax layer trained as a "
                    "classifier on n labelled train images, from the model's (pretrained) "
                    "weights or from a random initialisation; test accuracy, mean ± sd over "
                    "label draws.", t, False))
    t = AR.anomaly_table(analyses)
    if not t.empty:
        out.append(("One-class anomaly detection", "AUROC of the reconstruction error when the "
                    "model (its config, retrained) sees only the normal class; the other classes "
                    "of the test split are the anomalies.", t, True))
    return out


def _analysis_md(analyses, figures_dir, md_dir: Path, rel: str, has_spectra: bool) -> list[str]:
    md = []
    for title, text, table, index in _analysis_tables(analyses):
        md += [f"## {title}", "", text, "", _md(table, index), ""]
    if has_spectra:
        md += [f"![tangent spectra]({rel}/tangent_spectra.png)", ""]
    return md


def _analysis_html(analyses, rel: str, has_spectra: bool) -> list[str]:
    body = []
    for title, text, table, index in _analysis_tables(analyses):
        body += [f"<h2>{html.escape(title)}</h2>", f"<p>{html.escape(text)}</p>",
                 table.apply(lambda col: col.map(_fmt)).to_html(border=0, index=index)]
    if has_spectra:
        body.append(f'<p><img src="{rel}/tangent_spectra.png"></p>')
    return body


def _line_text(line: dict) -> str:
    v1 = line["v_after_first_gen_update"]
    return (f"Seed 000's illustration: generator direction v from ({line['v_start'][0]:.2f}, "
            f"{line['v_start'][1]:.2f}) to ({v1[0]:.2f}, {v1[1]:.2f}) after the first generator "
            f"update (the slide: about (0.39, 0.92)), ({line['v_final'][0]:.2f}, "
            f"{line['v_final'][1]:.2f}) after {line['updates'] // 2} alternating updates; the "
            f"angle to the data direction w = (0.98, 0.2) went from {line['angle_start_deg']:.1f}° "
            f"to {line['angle_min_deg']:.1f}° at best and {line['angle_final_deg']:.1f}° at the "
            f"end (the discriminator sees |x|, so the mirror line (0.98, −0.2) looks like the "
            f"data to it, and constant-step SGD keeps oscillating around the equilibrium).")


def _mixture_table(toys: dict) -> pd.DataFrame:
    rows = []
    for ds, res in toys["mixtures"].items():
        for variant, r in res.items():
            rows.append({"mixture": ds, "GAN": variant,
                         "modes captured": f"{r['modes_captured']}/{r['modes']}",
                         "high-quality samples": r["high_quality"], "steps": r["steps"],
                         "seconds": r["seconds"]})
    return pd.DataFrame(rows).set_index(["mixture", "GAN"])


def _toys_md(toys: dict, rel: str) -> list[str]:
    return ["## 2-D GAN experiments", "", _line_text(toys["line2d"]), "",
            f"![line GAN]({rel}/line2d.png)", "",
            "Mode collapse (VEEGAN/PacGAN protocol): 2,500 generated points; high quality = "
            "within 3σ of a mode; a mode counts as captured with at least "
            "`toys.mixtures.min_samples` high-quality points.", "",
            _md(_mixture_table(toys)), "",
            " ".join(f"![{ds}]({rel}/{ds}.png)" for ds in toys["mixtures"]), ""]
