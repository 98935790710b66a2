"""Stage ``evaluate@<model>``: the sample metrics, test likelihoods/reconstructions, translation
metrics, then the autoencoder analyses that apply; then the model's MLflow run."""

from __future__ import annotations

import time

import torch

from genbench.core import data as D
from genbench.core import transforms as T
from genbench.core.config import EvaluateView
from genbench.core.errors import ConfigError
from genbench.core.io import read_json, torch_load, write_json
from genbench.nn import classifier as NC


@torch.no_grad()
def _test_quantities(model, test: D.Split, batch_size: int = 250) -> dict[str, float]:
    """Means over the test split of the model's per-image test metrics, and its mean test
    log-likelihood over the first ``model.likelihood_images`` test images (all by default)."""
    tf = T.eval_transform(model.input_transform)
    x_all = tf.prepare(test.x)
    sums: dict[str, float] = {}
    torch.manual_seed(0)  # stochastic bounds (ELBO/IWAE) are reproducible
    for i in range(0, len(x_all), batch_size):
        batch = tf.batch(x_all[i:i + batch_size])
        for k, v in model.test_metrics(batch, test.y[i:i + batch_size]).items():
            sums[k] = sums.get(k, 0.0) + float(v.double().sum())
    out = {k: v / len(x_all) for k, v in sums.items()}
    if model.likelihood is not None:
        n = min(len(x_all), model.likelihood_images or len(x_all))
        total = sum(float(model.test_log_likelihood(tf.batch(x_all[i:i + batch_size][:n - i]),
                                                    test.y[i:i + batch_size][:n - i])
                          .double().sum()) for i in range(0, n, batch_size))
        out.update(log_likelihood=total / n, likelihood_images=n)
    return out


@torch.no_grad()
def _chain_mixing(model, clf, cfg, seed: int) -> dict:
    """Class changes along the model's own Markov chains, labelled by the evaluator."""
    from genbench import evaluator as E
    from genbench import metrics as M

    states = model.chain(cfg.chains, cfg.steps, torch.Generator().manual_seed(seed))
    t, n = states.shape[:2]
    x8 = (states.flatten(0, 1).cpu() * 255).round().to(torch.uint8)  # (T·N, C, H, W)
    return M.chain_mixing(E.predict(clf, x8).view(t, n))


def _evaluate_translation(params: EvaluateView, model, meta: dict, processed_dir, ref: dict,
                          extract, unpaired_path, stored: dict) -> dict:
    """A translation model's metrics: the main table's sample metrics of its outputs in the
    data's domain, and the translation table (model and baseline rows)."""
    from genbench import evaluator as E

    cfg, k, seed = params.evaluator, meta["num_classes"], params.seed
    if model.unpaired:
        if unpaired_path is None:
            raise ConfigError(f"{model.kind} needs the unpaired domain's classifier "
                              f"(--unpaired-evaluator)")
        extract_b = E.FeatureExtractor(NC.load_classifier(unpaired_path), cfg)
        t = E.unpaired_translation_metrics(extract, extract_b, ref, NC.load_reference(unpaired_path),
                                           stored, cfg, k, seed)
        main = stored["b_x"]  # F(b): the translations into this dataset's domain
        y = stored["b_source_y"]
    else:
        t = E.paired_translation_metrics(extract, ref, stored, cfg, k, seed)
        main, y = stored["x"], stored["source_y"]
    feats = extract(main)
    out = E.metrics_of_features(feats, ref, cfg, k, seed)
    out["class_accuracy"] = float((feats["pred"] == y).float().mean())
    out["translation"] = {"task": model.task, **t,
                          **({"unpaired": meta["unpaired"]["dataset"]} if model.unpaired else {})}
    return out


def _sample_quality(params: EvaluateView, model, meta: dict, processed_dir, ref: dict, extract,
                    unpaired_path, stored: dict, n_floor: int) -> dict:
    """The sample metrics of the stored samples (each image through the extractor once); class
    accuracy of conditional samples (or InfoGAN's code↔class matching)."""
    from genbench import evaluator as E
    from genbench import metrics as M

    cfg, k, seed = params.evaluator, meta["num_classes"], params.seed
    if model.translates:
        return _evaluate_translation(params, model, meta, processed_dir, ref, extract,
                                     unpaired_path, stored)
    samples = stored["x"]
    n = min(n_floor, len(samples))  # scored on as many samples as the floor's real images
    feats = extract(samples)
    out = E.metrics_of_features({key: v[:n] for key, v in feats.items()}, ref, cfg, k, seed)
    if "y" in stored:  # conditional samples: does the evaluator see the asked-for class?
        if model.labels_are_codes:  # InfoGAN: codes, matched to classes
            out.update(M.code_class_matching(feats["pred"], stored["y"], k))
        else:
            out["class_accuracy"] = float((feats["pred"] == stored["y"]).float().mean())
    return out


def _curve(params: EvaluateView, model, meta, processed_dir, ref, extract, unpaired_path,
           curve_path, splits) -> list[dict]:
    """The learning curve's rows (:mod:`genbench.pipeline.curve`): each snapshot sampled and
    judged by :func:`_sample_quality`, as the final samples are."""
    from genbench.pipeline import curve as C
    from genbench.pipeline.sample import draw

    def judge(m, n, g):
        return _sample_quality(params, m, meta, processed_dir, ref, extract, unpaired_path,
                               draw(m, n, g, processed_dir)[0], n)

    n = min(params.budget.curve_samples, getattr(model.cfg, "n_samples", None) or 10**12)
    return C.measure(model, C.load_points(curve_path), judge, splits[0], splits[2], n,
                     params.seed)


def evaluate(params: EvaluateView, name: str, processed_dir, evaluator_path, model_path, samples_path,
             out_metrics, unpaired_path=None, grid_path=None, out_analyses=None,
             figures_dir=None, train_info_path=None, losses_path=None, curve_path=None,
             out_curve=None, analyses_only: list[str] | None = None) -> dict:
    """Stage ``evaluate@<name>``: sample metrics against the train split (its features stored
    by the evaluator stage), test NLL/MSE, the translation metrics of a translation model
    (``unpaired_path``: the other domain's classifier); then the autoencoder analyses that
    apply to the model (``out_analyses`` + ``figures_dir``, :mod:`genbench.analysis.runner`).
    With ``curve_path`` (the train stage's snapshots): the learning curve to ``out_curve`` (CSV)
    and the metrics' ``curve`` entry. Then the model's MLflow run
    (:func:`genbench.tracking.log_model_run`): its training (``train_info_path``,
    ``losses_path``: the train stage's train.json and losses.csv), the metrics, analyses,
    learning curve (metric histories), model file and figures."""
    from genbench import evaluator as E
    from genbench import metrics as M
    from genbench import tracking
    from genbench.models.checkpoint import load_model

    t0 = time.perf_counter()
    meta = D.load_meta(processed_dir)
    train_split, val, test = (D.load_split(processed_dir, s) for s in D.SPLITS)
    model, rec = load_model(model_path, name)
    stored = torch_load(samples_path, fix=f"resample: dvc repro -f sample@{name}")
    classifier = NC.load_classifier(evaluator_path)
    extract = E.FeatureExtractor(classifier, params.evaluator)
    ref = NC.load_reference(evaluator_path)
    n_floor = min(params.budget.n_samples, len(val) + len(test))  # = the floor's n
    out = _sample_quality(params, model, meta, processed_dir, ref, extract, unpaired_path,
                          stored, n_floor)
    if hasattr(model, "chain"):
        out.update(_chain_mixing(model, extract.clf, params.evaluator.mixing, params.seed))
    q = _test_quantities(model, test)
    if "log_likelihood" in q:
        pixels = model.likelihood_pixels
        nll = -q.pop("log_likelihood")
        out.update(nll_nats=nll,
                   bits_per_dim=M.bits_per_dim(nll, model.dim, pixels != "continuous"),
                   likelihood=model.likelihood, likelihood_images=q.pop("likelihood_images"),
                   pixels={"binary": "binarised (static, seeded)", "8-bit": "8-bit (256 levels)",
                           "continuous": "continuous [0,1]"}[pixels])
    if "elbo" in q:
        out["elbo_nats"] = q.pop("elbo")
    out.update(q)
    out.update(model.summary_metrics())
    out.update(M.sample_gate(out, type(model).family, model.cfg.gate))
    out["eval_seconds"] = time.perf_counter() - t0
    curve = None
    if curve_path is not None:
        from genbench.pipeline import curve as C

        t1 = time.perf_counter()
        curve = _curve(params, model, meta, processed_dir, ref, extract, unpaired_path,
                       curve_path, (train_split, val, test))
        if out_curve is not None:
            C.write_csv(out_curve, curve)
        out["curve"] = {"points": len(curve), "samples": curve[0]["n"] if curve else 0,
                        "seconds": time.perf_counter() - t1}
    write_json(out_metrics, out)
    analyses = None
    if out_analyses is not None:
        from genbench.analysis.runner import analyze

        analyses = analyze(params, name, model, rec["kind"], classifier, train_split, test,
                           meta["num_classes"], out_analyses, figures_dir, analyses_only)
    tracking.log_model_run(params.mlflow, model=name, record=rec,
                           train_info=read_json(train_info_path) if train_info_path else {},
                           losses_csv=losses_path, model_path=model_path, metrics=out,
                           curve=curve,
                           analyses=analyses, figures_dir=figures_dir, grid_path=grid_path,
                           data_dir=processed_dir, budget=params.budget.name,
                           train_info_path=train_info_path)
    return out

