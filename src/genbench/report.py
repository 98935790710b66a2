"""The report: built only from DVC outputs (never from MLflow), for the models in params.yaml.

Writes report.md and report.html (one document: family sections, a contents list, tables split
to fit, figures grouped; the figures beside them, which are also the DVC plots) and
summary.json, the DVC metric (a few numbers per model). The stages beyond the model chains own
their sections (``genbench/pipeline/<stage>/report.py``); the report includes those dvc.yaml
passes it, in that order.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from genbench import metrics as M
from genbench.core.config import ReportView
from genbench.core.errors import ConfigError, DataError
from genbench.core.io import read_json, write_dir_atomically, write_json, write_text
from genbench.doc import Contents, Doc, Heading, Images, Para, Table, fmt, to_html, to_markdown

#: metric key -> column title of the summary tables, in table order (IS, the class KL and the
#: classes covered are in metrics/models/<m>.json: the tables stay within a page)
COLUMNS = {
    "kind": "kind", "sample_gate": "reads as digits", "fid": "FID ↓", "kid": "KID ↓",
    "precision": "precision ↑", "recall": "recall ↑", "min_class_share": "smallest class",
    "mean_confidence": "confidence ↑",
    "nll_nats": "NLL nats ↓", "recon_mse": "recon MSE ↓", "class_accuracy": "class acc ↑",
    "code_purity": "code purity ↑", "label_accuracy": "q(y|x) acc ↑",
    "probe_accuracy": "linear probe ↑", "anomaly_auroc": "anomaly AUROC ↑", "seconds": "time s"}
#: per model in the DVC metric reports/summary.json (key there -> metric key): the numbers the
#: README's results table is generated from (genbench.readme), plus the gate as 1/0
SUMMARY_KEYS = {"fid": "fid", "kid": "kid", "nll_nats": "nll_nats",
                "confidence": "mean_confidence", "recall": "recall"}
BARS = ("fid", "kid", "precision", "recall")
LIKELIHOOD = {"kind": "kind", "nll_nats": "NLL nats ↓", "bits_per_dim": "bits/dim ↓",
              "elbo_nats": "ELBO nats", "likelihood": "what the number is", "pixels": "pixels",
              "likelihood_images": "test images", "log_z_std": "AIS log Z spread (sd)"}
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
        a = analyses.get(name, {})
        if "probe" in a:
            m = {**m, "probe_accuracy": a["probe"]["accuracy_codes"]}
        if "anomaly" in a:
            m = {**m, "anomaly_auroc": a["anomaly"]["mean_auroc"]}
        rows.append({"model": name, "kind": t["kind"], **m, "sample_gate": gate_cell(m),
                     "seconds": seconds,
                     "train_seconds": t["train_seconds"], "sample_seconds": s["sample_seconds"],
                     "steps": t["steps"]})
        details[name] = {"metrics": m, "train": t, "sample": s}
    ev = _read(evaluator_metrics, "evaluator metrics")
    floor = ev["floor"]  # the real images meet the strictest bar of the gate
    rows.append({"model": "real (held-out)", "kind": "floor", **floor,
                 "sample_gate": gate_cell({**floor, **M.sample_gate(floor, "GANs")})})
    return pd.DataFrame(rows).set_index("model"), {"models": details, "evaluator": ev}


def gate_cell(m: dict) -> str:
    """The sample-quality gate (:func:`genbench.metrics.sample_gate`) in a table cell: a
    collapsed model first, whatever else it passes."""
    if "gate" not in m:
        return ""
    short = {"mean_confidence": "confidence", "min_class_share": "smallest class",
             "recall": "recall"}
    if m["collapsed"]:
        return "COLLAPSED"
    if m["reads_as_digits"] is None:
        return "not gated"
    return "yes" if m["reads_as_digits"] else \
        "no: " + ", ".join(short[k] for k in m["gate"]["failed"])


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
            for row_name, r in ((name, t["model"]), (f"identity baseline [{name}]", t["baseline"])):
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
    to_df = lambda rows: pd.DataFrame(rows).set_index("model") if rows else None
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


def _likelihood_tables(df: pd.DataFrame
                       ) -> tuple[dict[str, pd.DataFrame], pd.DataFrame | None]:
    """The likelihood tables, one per kind of number (:data:`NLL_KINDS`; best first within
    each: only NLLs of one kind and one pixel space compare), and the chain-mixing table of
    Markov-chain samplers."""
    lik, mix = {}, None
    if "nll_nats" in df.columns:
        rows = df[df["nll_nats"].notna()].sort_values("nll_nats")
        kinds = rows.apply(lambda r: nll_kind(r["likelihood"], r["pixels"]), axis=1)
        for k in NLL_KINDS:
            part = rows[kinds == k]
            if not part.empty:
                lik[k] = part[[c for c in LIKELIHOOD if c in part.columns
                               and part[c].notna().any()]].rename(columns=LIKELIHOOD)
    if "chain_class_changes_per_100_steps" in df.columns:
        rows = df[df["chain_class_changes_per_100_steps"].notna()]
        mix = rows[[c for c in MIXING if c in rows.columns]].rename(columns=MIXING)
    return lik, mix


LIKELIHOOD_TEXT = (
    "Test log-likelihoods, nats per image and bits per dimension, on the same test split with "
    "the same seeded static binarisation for every binary model, one table per kind of "
    "number: a bound or an estimate does not compare with an exact value as if it were one.")
#: a note per kind of NLL (:data:`NLL_KINDS`)
NLL_NOTES = {
    "exact": "The model's exact likelihood of the binarised test images.",
    "lower bound": "ELBO/IWAE: the true NLL is lower (better) than the number.",
    "bound with an AIS log Z": "A variational bound on the hidden units with the partition "
                               "function estimated by AIS: neither side is guaranteed.",
    "AIS estimate": "log Z estimated by annealed importance sampling: not a bound, and an "
                    "under-estimated log Z makes the NLL look better than it is.",
    "conditional bound": "A bound on log p(x|y), given the label: easier than log p(x), not "
                         "comparable with the unconditional rows.",
    "continuous density": "A density of continuous [0,1] pixels moved to the 8-bit scale: a "
                          "different quantity from the binarised NLLs (it can be negative).",
}


def published_table(df: pd.DataFrame, published: dict) -> pd.DataFrame | None:
    """Measured test NLL beside the published one (conf/published.yaml) for the selected models
    that have both; ``gap`` = measured − published (nats; > 0: genbench's is worse)."""
    rows = []
    for name, p in (published.get("nll_nats") or {}).items():
        if name in df.index and "nll_nats" in df.columns and pd.notna(df.at[name, "nll_nats"]):
            got = float(df.at[name, "nll_nats"])
            rows.append({"model": name, "test NLL (nats)": got, "published": p["value"],
                         "gap": got - p["value"], "published setting": p["source"]})
    return pd.DataFrame(rows).set_index("model") if rows else None


def published_text(params) -> str:
    scale = ("the full MNIST at the papers' schedules: comparable in metric, protocol and scale "
             "(the architectures are genbench's, except where conf/budget/paper.yaml sets the "
             "paper's)" if params.data.name == "mnist" and params.budget.name == "paper" else
             f"data = {params.data.name}, budget = {params.budget.name}: the same metric and "
             f"protocol as the papers', not the same scale (they trained on 60,000 images for "
             f"hours to days; for that: dvc exp run -S budget=paper -S data=mnist)")
    return ("Published test NLLs on binarised MNIST, in nats per image, beside this run's; "
            f"this run: {scale}. No published FID is comparable: genbench's features are its "
            f"own classifier's, not Inception-v3's.")


def _loss_figure(path: Path, name: str, models_dir: Path) -> bool:
    """Training dynamics, every series of losses.csv: one small panel per loss (their scales
    differ by orders of magnitude: a shared axis flattened the GAN losses next to a
    reconstruction term), then one panel of the rates and control variables (D's accuracy on
    real/fake, which a perfect generator leaves at 50%, the Wasserstein estimate, BEGAN's M and
    k, schedules)."""
    import math

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
    # cyclegan logs one series per domain: disc/acc_fake_a, disc/acc_fake_b
    right = [c for c in cols if re.sub(r"_[ab]$", "", c.split("/")[-1]) in DYNAMICS]
    panels = [[c] for c in cols if c not in right] + ([right] if right else [])
    ncols = min(len(panels), 5)
    nrows = math.ceil(len(panels) / ncols)
    with plt.rc_context({"axes.unicode_minus": False}):
        fig, axes = plt.subplots(nrows, ncols, figsize=(2.6 * ncols, 2.1 * nrows + 0.3),
                                 squeeze=False)
        for ax, series in zip(axes.flat, panels):
            for col in series:
                ax.plot(df["step"], df[col], label=col, lw=1)
            if series is right:
                if any("acc" in c for c in right):
                    ax.axhline(0.5, color="0.5", ls="--", lw=0.8)
                ax.legend(fontsize=6)
                ax.set_title("dynamics", fontsize=8)
            else:
                ax.set_title(series[0], fontsize=8)
            ax.tick_params(labelsize=7)
            ax.set_xlabel("step", fontsize=7)
        for ax in axes.flat[len(panels):]:
            ax.axis("off")
        fig.suptitle(f"{name}: training", fontsize=9)
        fig.tight_layout()
        fig.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(fig)
    return True


#: the family sections in report order (the lectures' five families, with the image-to-image
#: translators apart: they are judged on paired test images, not as samplers); each model class
#: declares its own (``GenerativeModel.family``)
FAMILY_ORDER = ("Linear models and mixtures", "Autoencoders",
                "Variational and adversarial autoencoders", "Boltzmann machines and Markov chains",
                "Autoregressive models", "GANs", "Translation models", "Other models")
FLOOR = "real (held-out)"


def family(kind: str) -> str:
    """The report section of a model kind: what its class declares."""
    from genbench.models.registry import registered

    cls = registered().get(kind)
    return cls.family if cls is not None else "Other models"


def _by_family(df: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The model rows (floor excluded) per family, in FAMILY_ORDER, models in params order."""
    models = df[df["kind"] != "floor"]
    fams = models["kind"].map(family)
    return {f: models[fams == f] for f in FAMILY_ORDER if (fams == f).any()}


#: what a model's samples are, for the summary: drawn from the model alone, drawn for a class
#: asked for, or translations of test images (judged against their targets)
ROLES = ("unconditional", "conditional", "translation")
ROLE_TITLES = {"unconditional": "Unconditional generators",
               "conditional": "Conditional generators (samples for a class asked for)",
               "translation": "Translation models (outputs for test inputs)"}


def roles(df: pd.DataFrame) -> pd.Series:
    """Each model row's role (:data:`ROLES`, :func:`genbench.models.registry.role_of`): judged
    for a class when its metrics have a class accuracy."""
    from genbench.models.registry import role_of

    rows = df[df["kind"] != "floor"]
    judged = rows.get("class_accuracy", pd.Series(dtype=float)).reindex(rows.index).notna()
    return pd.Series([role_of(k, j) for k, j in zip(rows["kind"], judged)], index=rows.index,
                     dtype=object)


#: the summary's order within a table: read as digits, then not, then not gated, then
#: collapsed; FID within each (a collapsed model cannot rank first by its FID)
_GATE_RANK = {"yes": 0, "no": 1, "not gated": 2, "COLLAPSED": 3}


def _ranked(rows: pd.DataFrame) -> pd.DataFrame:
    gate = rows["sample_gate"].map(lambda g: _GATE_RANK.get(str(g).split(":")[0], 1))
    return rows.assign(_g=gate).sort_values(["_g", "fid"], kind="stable").drop(columns="_g")


#: what a test NLL is, from the model's own description of it (metrics ``likelihood`` and
#: ``pixels``): the likelihood tables' groups, in order, and the summary's short label
NLL_KINDS = {"exact": "exact", "lower bound": "bound", "bound with an AIS log Z": "bound + AIS",
             "AIS estimate": "AIS estimate", "conditional bound": "p(x|y) bound",
             "continuous density": "density"}


def nll_kind(likelihood: str, pixels: str) -> str:
    """The group of a test NLL (:data:`NLL_KINDS`): only NLLs of one group compare."""
    if str(pixels).startswith("continuous"):
        return "continuous density"
    if "p(x|y)" in likelihood:
        return "conditional bound"
    if likelihood.startswith("exact"):
        return "exact"
    if likelihood.startswith("AIS estimate"):  # "... (not a bound)"
        return "AIS estimate"
    if "bound" in likelihood:
        return "bound with an AIS log Z" if "AIS" in likelihood else "lower bound"
    return "AIS estimate" if "AIS" in likelihood else "exact"


def _nll_cells(rows: pd.DataFrame) -> pd.Series:
    """The summary's NLL column: the number and what it is (exact, a bound, an estimate)."""
    def cell(r) -> str:
        if pd.isna(r.get("nll_nats")):
            return "–"
        return f"{fmt(r['nll_nats'])} ({NLL_KINDS[nll_kind(r['likelihood'], r['pixels'])]})"

    return rows.apply(cell, axis=1)


def _table(rows: pd.DataFrame, floor: pd.DataFrame, first: tuple[str, ...] = ()) -> pd.DataFrame:
    """A summary table: the columns these rows have, the floor row last (the reference)."""
    t = pd.concat([rows, floor])
    if "nll_nats" in t.columns:
        t = t.assign(nll_nats=_nll_cells(t).where(t["nll_nats"].notna(), None))
    cols = [*first, *(c for c in COLUMNS if c in t.columns and rows[c].notna().any())]
    return t[cols].rename(columns=COLUMNS)


SUMMARY_TEXT = (
    "Three kinds of output, in separate tables because their numbers do not compare: samples "
    "of the unconditional generators (one table per family), samples of the conditional "
    "generators for a class asked for ('class acc' = the evaluator reads that class), and the "
    "translation models' outputs for test inputs (scored against the targets' features). "
    "Rows are ranked by the gate: read as digits, then not, then not gated, then collapsed; "
    "by FID within each, so a collapsed model (a few prototypes: high precision, low recall) "
    "cannot rank first by its FID. 'smallest class' = the share of the rarest class among the "
    "samples (the gate asks ≥ 3 %; 0 = a class missing); IS, the class KL and the classes "
    "covered are in metrics/models/<m>.json. The "
    "NLL column says what each number is (exact, a bound, an AIS estimate, a conditional "
    "bound, a continuous density): only numbers of one kind and one pixel space compare "
    "(Likelihoods, below).")


def _summary_tables(df: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The unconditional generators per family, then the conditional generators, then the
    translation models: each table ranked (:func:`_ranked`), the floor row last."""
    floor = df[df["kind"] == "floor"]
    if "min_class_share" not in df.columns and "class_hist" in df.columns:
        df = df.assign(min_class_share=df["class_hist"].map(
            lambda h: min(h) if isinstance(h, list) and h else None))
    role = roles(df)
    out = {}
    for fam, rows in _by_family(df).items():
        rows = rows[role.reindex(rows.index) == "unconditional"]
        if not rows.empty:
            out[f"Unconditional: {fam}"] = _table(_ranked(rows), floor)
    for r in ("conditional", "translation"):
        title = ROLE_TITLES[r]
        rows = df.loc[role.index[role == r]]
        if not rows.empty:
            rows = rows.assign(family=rows["kind"].map(family))
            out[title] = _table(_ranked(rows), floor, ("family",) if r == "conditional" else ())
    return out


def _metric_figure(path: Path, df: pd.DataFrame) -> bool:
    """The headline metrics side by side, one per panel, sharing the model axis: a bar per
    model, grouped and coloured by family, the held-out real images as a dashed line. FID on a
    log axis (it spans three decades), KID on a symmetric log axis (unbiased: it can be < 0)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    groups = _by_family(df)
    keys = [k for k in BARS if k in df.columns and df[k].notna().any()]
    if not groups or not keys:
        return False
    rows = pd.concat(groups.values())
    colors = {f: f"C{FAMILY_ORDER.index(f)}" for f in groups}  # a family's colour in every chart
    floor = df[df["kind"] == "floor"]
    y = list(range(len(rows)))[::-1]  # first model on top
    with plt.rc_context({"axes.unicode_minus": False}):  # U+2212 came out garbled
        fig, axes = plt.subplots(1, len(keys), figsize=(1.4 + 2.6 * len(keys),
                                                        0.17 * len(rows) + 1.3), sharey=True)
        for ax, key in zip(axes, keys):
            vals = rows[key].astype(float)
            ax.barh(y, vals.values, color=[colors[family(k)] for k in rows["kind"]], height=0.75)
            if not floor.empty and pd.notna(floor[key].iloc[0]):
                ax.axvline(float(floor[key].iloc[0]), color="0.25", ls="--", lw=1)
            if key == "fid" and (vals.dropna() > 0).all():
                ax.set_xscale("log")
                # plain numbers; minor labels overprint when the range is under a decade
                ax.xaxis.set_major_formatter(ScalarFormatter())
                ax.xaxis.set_minor_formatter(NullFormatter())
            elif key == "kid":
                ax.set_xscale("symlog", linthresh=100)
            ax.grid(axis="x", alpha=0.3)
            ax.set_title(COLUMNS[key], fontsize=10)
            ax.tick_params(axis="x", labelsize=8)
        axes[0].set_yticks(y, rows.index, fontsize=7.5)
        axes[0].set_ylim(-0.7, len(rows) - 0.3)
        handles = [Patch(color=c, label=f) for f, c in colors.items()]
        handles.append(plt.Line2D([], [], color="0.25", ls="--", label=FLOOR))
        fig.legend(handles=handles, fontsize=8, loc="lower center", ncol=4, frameon=False,
                   bbox_to_anchor=(0.5, 1.0))
        fig.tight_layout()
        fig.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(fig)
    return True


#: learning-curve panels: column of metrics/curves/<model>.csv -> (title, log axis)
CURVE_PANELS = {"fid": ("FID (curve samples) ↓", True), "recall": ("recall ↑", False),
                "mean_confidence": ("confidence ↑", False), "nll_nats": ("test NLL nats ↓", False)}


def _read_curves(curves_dir: Path | None, names) -> dict[str, pd.DataFrame]:
    """metrics/curves/<model>.csv of the selected models that have points."""
    out = {}
    for name in names:
        f = Path(curves_dir) / f"{name}.csv" if curves_dir else None
        if f is not None and f.exists():
            df = pd.read_csv(f)
            if len(df):
                out[name] = df
    return out


def _curve_figure(path: Path, title: str, curves: dict[str, pd.DataFrame]) -> bool:
    """One family's learning curves: a panel per metric (FID on a log axis), one line per
    model against the training's CPU-seconds, a marker per measured snapshot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [k for k in CURVE_PANELS if any(k in c and c[k].notna().any() for c in curves.values())]
    if not curves or not keys:
        return False
    with plt.rc_context({"axes.unicode_minus": False}):
        fig, axes = plt.subplots(1, len(keys), figsize=(3.3 * len(keys), 2.9), squeeze=False)
        for ax, key in zip(axes[0], keys):
            for i, (name, c) in enumerate(curves.items()):
                if key in c and c[key].notna().any():
                    ax.plot(c["cpu_seconds"], c[key], marker="o", ms=3, lw=1.2,
                            color=f"C{i % 10}", ls="-" if i < 10 else "--", label=name)
            label, log = CURVE_PANELS[key]
            if log:
                ax.set_yscale("log")
            ax.set_title(label, fontsize=9)
            ax.set_xlabel("training CPU-seconds", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
        handles, labels = axes[0][0].get_legend_handles_labels()
        # the title heads the legend (a suptitle placed by hand overlapped a 3-row legend)
        fig.legend(handles, labels, fontsize=7, loc="lower center", frameon=False,
                   ncol=min(len(labels), 6), bbox_to_anchor=(0.5, 1.0), title=title,
                   title_fontsize=10)
        fig.tight_layout()
        fig.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(fig)
    return True


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


CURVES_TEXT = (
    "Each model measured at train.curve_points evenly spaced steps from the snapshots its "
    "train stage kept (numbers: metrics/curves/<model>.csv and the MLflow run's curve.* "
    "histories; these figures are DVC plots), against the CPU-seconds of training up to that "
    "step: "
    "budget.curve_samples samples per point judged like the final ones (a translation model: "
    "its translations of the test split), and the exact test NLL where the model has one. FID "
    "from fewer samples is biased upward against the summary tables: compare the points of a "
    "curve with each other. A curve still falling at its last point says the model stopped "
    "on a steep part (more steps would change its numbers); a flat or rising end says it had "
    "converged or began to over-fit.")


def _claims_summary(verdicts: dict | None) -> dict:
    """The claims in the DVC metric: the counts and one code per claim (1 holds, 0
    inconclusive, −1 fails), so `dvc metrics diff` shows a claim that flips in one line;
    reports/claims.json itself (statements, reasons, numbers) is a plain output."""
    if not verdicts:
        return {}
    counts = {k: v for k, v in verdicts["summary"].items() if isinstance(v, int)}
    return {"claims": {**counts, "verdict": {cid: c["verdict_code"]
                                             for cid, c in verdicts["claims"].items()}}}


def _dvc_summary(df: pd.DataFrame, ev: dict, stage_sums: dict[str, dict]) -> dict:
    """The DVC metric (reports/summary.json): what people compare between experiments and what
    the README's results are generated from. Per model: FID, KID, confidence, recall, test NLL
    where measured, and the gate as 1/0 (``reads_as_digits`` absent where a model is exempt);
    the gate's counts; then what each stage's report section puts there (``summary``: the 2-D
    toys' modes captured). Everything else is in metrics/ and the report (thousands of leaves
    made `dvc exp show` unreadable)."""
    models = {}
    for name, row in df.iterrows():
        models[name] = {k: float(row[m]) for k, m in SUMMARY_KEYS.items()
                        if m in row.index and pd.notna(row[m])}
        if name != FLOOR:
            if row.get("reads_as_digits") in (True, False):
                models[name]["reads_as_digits"] = int(row["reads_as_digits"])
            models[name]["collapsed"] = int(bool(row.get("collapsed")))
    return {"evaluator_test_accuracy": ev["test_accuracy"], "gate": _gate_counts(df),
            "models": models, **stage_sums}


def _gate_counts(df: pd.DataFrame) -> dict[str, int]:
    """How many models the gate judges, passes and finds collapsed; and among them the
    unconditional samplers (:func:`roles`)."""
    rows = df[df["kind"] != "floor"]
    gated = rows[rows["reads_as_digits"].isin([True, False])]
    unconditional = gated[roles(df).reindex(gated.index) == "unconditional"]
    return {"gated": len(gated), "read_as_digits": int(gated["reads_as_digits"].eq(True).sum()),
            "collapsed": int(gated["collapsed"].eq(True).sum()),
            "unconditional_gated": len(unconditional),
            "unconditional_read_as_digits":
                int(unconditional["reads_as_digits"].eq(True).sum())}


def _model_blocks(name: str, d: dict, has_loss: bool, rel: str, analyses: dict,
                  analysis_rel: str | None, analysis_figures: Path | None) -> list:
    from genbench.analysis import report as AR

    m, t, s = d["metrics"], d["train"], d["sample"]
    text = (f"{t['steps']:,} steps in {t['train_seconds']:.1f} s on {t['device']}; {s['n']:,} "
            f"samples in {s['sample_seconds']:.2f} s; classes covered {m['classes_covered']}/"
            f"{len(m['class_hist'])}; class histogram {m['class_hist']}."
            + (f" Likelihood: {m['likelihood']}, {m['pixels']} pixels." if "likelihood" in m
               else "")
            + (" Last logged training values: " + ", ".join(
                f"{k} {fmt(v)}" for k, v in t["final"].items()) + "." if t.get("final") else ""))
    wide = "translation" in m  # strips: rows of input | output | target
    images = [(f"{rel}/{name}_samples.png", f"{name} samples", 420 if wide else 300)]
    if has_loss:
        images.append((f"{rel}/{name}_losses.png", f"{name} losses", None))
    blocks = [Heading(3, f"{name} ({t['kind']})"), Para(text), Images(images)]
    if name in analyses and analysis_figures is not None:
        figs = AR.figure_list(Path(analysis_figures), name)
        if figs:
            blocks.append(Images([(f"{analysis_rel}/{name}/{f}", f"{name} {f[:-4]}", 440)
                                  for f in figs]))
        skipped = analyses[name]["skipped"]
        if skipped:
            blocks.append(Para("Analyses not run: " + "; ".join(
                f"{k} ({v})" for k, v in skipped.items()) + "."))
    return blocks


def _measured(c: dict) -> str:
    """The operands with their numbers (mean ± sd over seeds) and the relation that holds
    between their means, whatever the check asks: ``dcgan 518.9 ± 54.6 > gan 348.6 ± 73.9``
    for the check ``dcgan:fid < gan:fid`` (the verdict says whether the check held)."""
    from genbench.claims import parse_check

    terms = c.get("terms")
    if not terms:
        return "–"
    operands, _ = parse_check(c["check"])
    models = [o.model for o in operands if o.model is not None]
    parts, means = [], []
    for o in operands:
        if o.model is None:
            means.append(float(o.value))
            parts.append(fmt(int(o.value) if float(o.value).is_integer() else o.value))
            continue
        t = terms[str(o)]
        sd = f" ± {fmt(t['sd'])}" if len(t["values"]) > 1 else ""
        mean = int(t["mean"]) if float(t["mean"]).is_integer() else t["mean"]  # counts
        means.append(float(t["mean"]))
        # a model named twice (toys, cyclegan's model vs baseline): say which of its numbers
        label = o.model if models.count(o.model) == 1 else \
            f"{o.model}:{'.'.join(str(o).split(':', 1)[1].split('.')[-3:])}"
        parts.append(f"{label} {fmt(mean)}{sd}")
    rels = ["<" if a < b else ">" if a > b else "=" for a, b in zip(means, means[1:])]
    return " ".join(p for pair in zip(parts, [*rels, ""]) for p in pair).strip()


def _claims_blocks(claims: dict, kinds: dict[str, str] | None = None) -> list:
    """The claims (conf/claims.yaml judged by the claims stage), the report's first section: one
    table per seed lecture (the first its source names), failing claims first, each lecture's
    evidence linked (the sections of the models its claims compare: grids, curves, losses).
    ``kinds``: model name -> kind, for those links."""
    from genbench.claims import lectures_of

    s = claims["summary"]
    more = s.get("more_seeds") or {"seeds": [], "models": []}
    seeds = ", ".join(str(x) for x in s["seeds"] if x not in more["seeds"])
    if more["seeds"]:
        seeds += (f"; {', '.join(map(str, more['seeds']))} too for {', '.join(more['models'])} "
                  f"(a claim between those is judged on every seed)")
    lectures = claims.get("lectures") or {}
    order = {"fails": 0, "inconclusive": 1, "holds": 2, "not run": 3}  # what needs a look first
    groups: dict[str, list] = {}
    for cid, c in sorted(claims["claims"].items(), key=lambda kv: (order.get(kv[1]["verdict"], 4),
                                                                   kv[0])):
        verdict = c["verdict"]
        if verdict == "inconclusive" and len(c.get("seeds", [])) < s["min_seeds"]:
            n = len(c["seeds"])
            verdict += f" ({n} seed{'s' if n > 1 else ''}; true in {c['true_in']})"
        elif verdict != "holds":
            verdict += f" ({c.get('reason', '')})"
        if c.get("p_wilcoxon") is not None:
            verdict += f"; Wilcoxon p = {c['p_wilcoxon']:.3g} (n = {len(c['seeds'])})"
        if (c.get("effect") or {}).get("d_z") is not None:
            e = c["effect"]
            verdict += (f"; difference {e['mean_diff']:.3g} ± {e['sd_diff']:.3g} over seeds, "
                        f"d_z {e['d_z']:.2f}")
        if c.get("steep"):
            verdict += "; decided on a steep curve: " + ", ".join(
                f"{m} {v:+.0%} over its last fifth" for m, v in c["steep"].items())
        lecture = next(iter(lectures_of(c["source"])), "") if lectures else ""
        groups.setdefault(lecture, []).append(
            ({"claim": cid, "verdict": verdict, "statement": c["statement"],
              "check": c["check"], "measured": _measured(c), "source": c["source"]},
             [k.split(":", 1)[0] for k in c.get("terms", {})]))
    text = (f"{s['claims']} claims from the seed lectures (conf/claims.yaml): {s['holds']} hold, "
            f"{s['fails']} fail, {s['inconclusive']} inconclusive, {s['not run']} not run. "
            f"Seeds: {seeds}. A claim holds when its check is true in every seed (at least "
            f"{s['min_seeds']}), fails when the reverse is true in every seed; 'measured' gives "
            f"the check's numbers (mean ± sd over seeds) and the relation that holds between "
            f"their means, which for a failing check is the reverse of the check's. One table "
            f"per lecture (a claim citing two is under the first), failing claims first, then "
            f"the inconclusive ones; below each, the sections its evidence is in. Beside the "
            f"verdict of a two-operand claim: the one-sided paired Wilcoxon signed-rank p over "
            f"its seeds in the check's direction (it does not decide the verdict; with all seeds "
            f"agreeing it is 2⁻ⁿ: 0.125 at 3 seeds, 0.031 at 5); the paired difference of its "
            f"two sides over the seeds (mean ± sd) and Cohen's d_z = mean / sd, the difference "
            f"against its own seed spread (|d_z| < 0.5: smaller than the spread, which more "
            f"seeds rarely decide); and where a compared model's "
            f"learning curve (main seed) still moved by more than 10% over its last fifth, "
            f"that the claim was decided on a steep curve: a longer budget may change it. Rule "
            f"and metric sources: src/genbench/claims.py.")
    out = [Heading(2, "Claims"), Para(text)]
    for lecture in sorted(groups):
        rows = [r for r, _ in groups[lecture]]
        if lecture:
            out.append(Heading(3, f"{lecture}: {lectures.get(lecture, '')}", toc=False))
        out.append(Table(pd.DataFrame(rows).set_index("claim"), wrap=True))
        links = _evidence_links([m for _, ms in groups[lecture] for m in ms], kinds or {})
        if links:
            out.append(Para("Evidence: " + " · ".join(links) + "."))
    return out


def _evidence_links(models: list[str], kinds: dict[str, str]) -> list[str]:
    """Links to the report sections the named models' numbers come from."""
    from genbench.doc import slug

    out = []
    for m in dict.fromkeys(models):
        if m == "toys":
            out.append("[2-D GAN experiments](#2-d-gan-experiments)")
        elif m in kinds:
            out.append(f"[{m}](#{slug(f'{m} ({kinds[m]})')})")
    return out


def _document(params: ReportView, df: pd.DataFrame, details: dict, sections: list,
              analyses: dict, charts: list[tuple[str, str]], has_spectra: bool,
              base: Path, out_figures: Path, analysis_figures: Path | None,
              claims: dict | None = None,
              published: dict | None = None, stage_blocks: list | None = None,
              curve_figures: list[tuple[str, str]] | None = None) -> Doc:
    """The whole report as one document; image paths relative to ``base`` (the page's folder)."""
    rel = os.path.relpath(out_figures, base)
    a_rel = os.path.relpath(analysis_figures, base) if analysis_figures else None
    ev = details["evaluator"]
    doc = Doc(f"genbench report — {params.data.name}, budget {params.budget.name}")
    doc.add(Para(f"{len(params.models)} models. Evaluator ({ev['backbone']}): test accuracy "
                 f"{ev['test_accuracy']:.4f}, val accuracy {ev['val_accuracy']:.4f}. Sample "
                 f"metrics use the evaluator's features against the train split; the last row "
                 f"of each table, '{FLOOR}', scores held-out real images (val+test) like "
                 f"samples: the floor. NLL is per image on the test split; 'confidence' = the "
                 f"evaluator's mean top-class probability on the samples (samples that read as "
                 f"digits score near the real images'); 'time s' = train + sample + evaluate."),
            Contents())
    if claims:
        doc.add(*_claims_blocks(claims, dict(df.loc[df["kind"] != "floor", "kind"])))
    doc.add(Heading(2, "Summary"), Para(SUMMARY_TEXT))
    for title, table in _summary_tables(df).items():
        doc.add(Heading(3, title), Table(table))
    if charts:
        doc.add(Heading(2, "Metric charts"),
                Para("One chart per kind of output (unconditional samples, samples for a "
                     "class, translations of test inputs: their numbers do not compare across "
                     "charts), one metric per panel, models grouped and coloured by family; the "
                     "dashed line is the held-out real images. FID on a log axis, KID on a "
                     "symmetric log axis (linear within ±100: the unbiased estimate can be "
                     "below 0)."),
                *(block for role, fname in charts
                  for block in (Para(f"**{ROLE_TITLES[role]}**"),
                                Images([(f"{rel}/{fname}", f"{role}: FID, KID, precision, "
                                                           f"recall", None)]))))
    if curve_figures:
        doc.add(Heading(2, "Learning curves"), Para(CURVES_TEXT))
        for fam, fname in curve_figures:
            doc.add(Images([(f"{rel}/{fname}", f"learning curves: {fam}", None)]))
    lik, mix = _likelihood_tables(df)
    if lik:
        doc.add(Heading(2, "Likelihoods"), Para(LIKELIHOOD_TEXT))
        for kind, table in lik.items():
            doc.add(Heading(3, kind[0].upper() + kind[1:]), Para(NLL_NOTES[kind]), Table(table))
    pub = published_table(df, published or {})
    if pub is not None:
        doc.add(Heading(2, "Published numbers"), Para(published_text(params)),
                Table(pub, wrap=True))
    if mix is not None:
        doc.add(Heading(2, "Markov-chain mixing"),
                Para("Chains from noise, each state labelled by the evaluator's classifier: a "
                     "chain that mixes moves between digit classes."), Table(mix))
    paired, unpaired = _translation_tables(details)
    if paired is not None or unpaired is not None:
        doc.add(Heading(2, "Image-to-image translation"), Para(TRANSLATION_TEXT))
        doc.add(*(Table(t) for t in (paired, unpaired) if t is not None))
        for n, c in _strip_captions(details):
            doc.add(Para(f"**{n}** — {c}:"), Images([(f"{rel}/{n}_samples.png", f"{n} strips",
                                                     420)]))
    for title, text, table, index in _analysis_tables(analyses):
        doc.add(Heading(2, title), Para(text), Table(table, index))
    if has_spectra:
        doc.add(Images([(f"{rel}/tangent_spectra.png", "tangent spectra", None)]))
    doc.add(*(stage_blocks or []))  # the stages' own sections, in dvc.yaml's order
    by_name = {name: (d, has_loss) for name, d, has_loss in sections}
    for fam, rows in _by_family(df).items():
        doc.add(Heading(2, f"Models: {fam}"))
        for name in rows.index:
            d, has_loss = by_name[name]
            doc.add(*_model_blocks(name, d, has_loss, rel, analyses, a_rel, analysis_figures))
    return doc


@dataclass(frozen=True)
class StageInput:
    """A stage's outputs the report draws its section from (``--section NAME METRICS
    [FIGURES]`` in dvc.yaml): its metrics JSON and its figure folder."""

    stage: str
    metrics: Path
    figures: Path | None = None


#: the stages' report sections, imported by name: their files are part of the report's code
#: dependency (genbench.core.code reads this constant)
IMPORTS_BY_NAME = "genbench.pipeline.*.report"


def stage_section(stage: str):
    """The module of a stage's report section, ``genbench.pipeline.<stage>.report``: its
    ``section(metrics, figures)`` -> blocks and, where it has one, ``summary(metrics)`` -> its
    numbers in the DVC metric."""
    module = IMPORTS_BY_NAME.replace("*", stage)
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as err:
        if err.name not in (module, f"genbench.pipeline.{stage}"):
            raise
        raise ConfigError(f"report --section {stage}: no such stage section "
                          f"(src/genbench/pipeline/{stage}/report.py)") from None


def _stage_sections(inputs: list[StageInput], base: Path) -> list:
    """Every stage section whose metrics exist (a stage of an older run may not have them),
    in the given order; image paths relative to ``base`` (the page's folder)."""
    out = []
    for s in inputs:
        if s.metrics.exists():
            fig = os.path.relpath(s.figures, base) if s.figures else "."
            metrics, module = read_json(s.metrics), stage_section(s.stage)
            if metrics.get("selected") is False:  # a study `studies` did not list: its stub
                out += [Heading(2, getattr(module, "TITLE", s.stage)), Para(metrics["reason"])]
            else:
                out += module.section(metrics, fig)
    return out


def _stage_summaries(inputs: list[StageInput]) -> dict[str, dict]:
    """What the stages' sections put in the DVC metric, under each stage's name."""
    out = {}
    for s in inputs:
        summary = getattr(stage_section(s.stage), "summary", None)
        if summary is not None and s.metrics.exists():
            metrics = read_json(s.metrics)
            if metrics.get("selected") is not False:
                out[s.stage] = summary(metrics)
    return out


def build_report(params: ReportView, metrics_dir: Path, evaluator_metrics: Path, models_dir: Path,
                 samples_dir: Path, out_md: Path, out_html: Path, out_figures: Path,
                 out_summary: Path, analyses_dir: Path | None = None,
                 analysis_figures: Path | None = None, claims: Path | None = None,
                 published: Path | None = None, stages: list[StageInput] | None = None,
                 curves_dir: Path | None = None) -> dict:
    """report.md and report.html (one document, :mod:`genbench.doc`), their figures, and the
    DVC metric summary; returns the summary. ``stages``: the stage outputs whose own report
    sections (:func:`stage_section`) come after the analyses, in that order. ``curves_dir``:
    the models' learning curves (metrics/curves), drawn per family."""
    from genbench.analysis import report as AR

    metrics_dir, evaluator_metrics, models_dir, samples_dir = map(
        Path, (metrics_dir, evaluator_metrics, models_dir, samples_dir))
    out_md, out_html, out_figures, out_summary = map(
        Path, (out_md, out_html, out_figures, out_summary))
    stages = stages or []
    analyses = AR.load(Path(analyses_dir), params.models) if analyses_dir else {}
    df, details = collect(params, metrics_dir, evaluator_metrics, models_dir, samples_dir,
                          analyses)
    verdicts = read_json(claims) if claims and Path(claims).exists() else None
    reference = _read_published(published) if published else None
    sections, charts, has_spectra = [], [], False
    curves = _read_curves(curves_dir, params.models)
    curve_figures: list[tuple[str, str]] = []

    def fill(figs: Path) -> None:  # a temp folder swapped in at the end
        nonlocal has_spectra
        role = roles(df)
        for r in ROLES:  # one chart per kind of output: their numbers do not compare
            rows = df[(df["kind"] == "floor") | (role.reindex(df.index) == r)]
            if (rows["kind"] != "floor").any() and _metric_figure(figs / f"metrics_{r}.png",
                                                                  rows):
                charts.append((r, f"metrics_{r}.png"))
        for fam, rows in _by_family(df).items():
            fname = f"curves_{_slug(fam)}.png"
            if _curve_figure(figs / fname, f"Learning curves: {fam}",
                             {n: curves[n] for n in rows.index if n in curves}):
                curve_figures.append((fam, fname))
        has_spectra = AR.spectra_figure(figs / "tangent_spectra.png", analyses)
        for name in params.models:
            shutil.copyfile(samples_dir / name / "grid.png", figs / f"{name}_samples.png")
            has_loss = _loss_figure(figs / f"{name}_losses.png", name, models_dir)
            sections.append((name, details["models"][name], has_loss))

    write_dir_atomically(out_figures, fill)
    for out, render in ((out_md, to_markdown), (out_html, to_html)):
        doc = _document(params, df, details, sections, analyses, charts, has_spectra,
                        out.parent, out_figures, analysis_figures, verdicts, reference,
                        _stage_sections(stages, out.parent), curve_figures)
        write_text(out, render(doc))
    summary = {**_dvc_summary(df, details["evaluator"], _stage_summaries(stages)),
               **_claims_summary(verdicts)}
    write_json(out_summary, summary)
    return summary


def _read_published(path: Path | str) -> dict:
    """conf/published.yaml, checked: ``nll_nats.<model>`` has a number ``value`` and a
    ``source``; a bad entry is one line naming it."""
    import yaml

    from genbench.core.errors import ConfigError

    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"{path}: {err}") from None
    for name, p in (data.get("nll_nats") or {}).items():
        if not (isinstance(p, dict) and isinstance(p.get("value"), (int, float))
                and isinstance(p.get("source"), str)):
            raise ConfigError(f"{path}: nll_nats.{name} needs a number `value` and a `source`")
    return data


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
    t = AR.dependency_table(analyses)
    if not t.empty:
        out.append(("Dependency fields of the autoregressive models", "The input pixels on "
                    "which the centre pixel's distribution depends (non-zero gradient of its "
                    "logits on 16 test and 16 noise images). Blind spot: unseen pixels in the "
                    "rows above inside the bounding box of those it sees — the plain PixelCNN's "
                    "upper-right hole that the gated PixelCNN's two stacks remove (van den Oord "
                    "et al. 2016, Fig. 1); the Row LSTM's triangular field shows as one too.",
                    t, True))
    t = AR.anomaly_table(analyses)
    if not t.empty:
        out.append(("One-class anomaly detection", "AUROC of the reconstruction error when the "
                    "model (its config, retrained) sees only the normal class; the other classes "
                    "of the test split are the anomalies.", t, True))
    return out
