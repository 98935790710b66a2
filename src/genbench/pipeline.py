"""One library function per DVC stage. Stage scripts in ``stages/`` only parse paths and call
these; every path comes from dvc.yaml, every setting from the validated :class:`Params`."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import time
from pathlib import Path

import torch

from genbench import data as D
from genbench import transforms as T
from genbench.config import Params
from genbench.errors import ConfigError
from genbench.io import torch_load, torch_save, write_json, write_text

log = logging.getLogger("genbench")


def fingerprint(*parts) -> str:
    """Stable hash of JSON-able parts: a checkpoint resumes only under the same fingerprint."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def code_fingerprint() -> str:
    """Hash of the genbench sources: a checkpoint written by other code is never resumed."""
    h = hashlib.sha256()
    for f in sorted(Path(__file__).parent.rglob("*.py")):
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def _split_fingerprint(processed_dir: Path) -> str:
    return hashlib.sha256((Path(processed_dir) / "train.pt").read_bytes()).hexdigest()[:16]


# ----------------------------------------------------------------------------- data stages
def download(params: Params, out_dir) -> dict:
    return D.download(params.data, out_dir)


def preprocess(params: Params, raw_dir, out_dir) -> dict:
    return D.preprocess(params.data, raw_dir, out_dir, params.seed)


# ----------------------------------------------------------------------------- evaluator stage
def _train_unpaired_classifier(params: Params, processed_dir, meta: dict, out_path) -> dict:
    """The classifier of the unpaired translation domain (judges class preservation into it),
    trained like the main one; a file saying it is absent when data has no such domain."""
    from genbench import engine
    from genbench import evaluator as E

    cfg = params.evaluator
    if "unpaired" not in meta:
        torch_save(out_path, {"format": 1, "kind": "evaluator",
                              "absent": "data.translation.unpaired is null"})
        return {}
    train, test = (D.load_unpaired(processed_dir, s) for s in ("train", "test"))
    torch.manual_seed(params.seed)
    net = E.build_classifier(cfg, meta["shape"], meta["num_classes"])
    trainer = E.ClassifierTrainer(net, cfg.lr, E.max_shift_for(meta["shape"]))
    batch = min(cfg.batch_size, len(train))
    steps = E.evaluator_steps(params.budget.evaluator_epochs, len(train), batch)
    result = engine.fit(trainer, train, transform=T.get("unit"), steps=steps, batch_size=batch,
                        seed=params.seed, engine=params.train, name="evaluator-unpaired")
    net.cpu().eval()
    E.save_classifier(out_path, net, cfg, meta["shape"], meta["num_classes"])
    return {"dataset": meta["unpaired"]["dataset"], "test_accuracy": E.accuracy(net, test.x, test.y),
            "train_seconds": result.seconds, "steps": steps}


def train_evaluator(params: Params, processed_dir, out_model, out_metrics, ckpt_path,
                    out_unpaired) -> dict:
    """Stage ``evaluator``: train the domain classifier, report its accuracy and the real-data floor
    (the sample metrics of held-out real images); and the unpaired domain's classifier."""
    from genbench import engine
    from genbench import evaluator as E

    cfg = params.evaluator
    meta = D.load_meta(processed_dir)
    train, val, test = (D.load_split(processed_dir, s) for s in D.SPLITS)
    if cfg.batch_size > len(train):
        raise ConfigError(f"evaluator.batch_size = {cfg.batch_size}: must be ≤ the train split "
                          f"size ({len(train)})")
    torch.manual_seed(params.seed)  # the initial weights are part of the seeded run
    net = E.build_classifier(cfg, meta["shape"], meta["num_classes"])
    trainer = E.ClassifierTrainer(net, cfg.lr, E.max_shift_for(meta["shape"]))
    steps = E.evaluator_steps(params.budget.evaluator_epochs, len(train), cfg.batch_size)
    fp = fingerprint(cfg.model_dump(), steps, params.seed, _split_fingerprint(processed_dir),
                     code_fingerprint())
    result = engine.fit(trainer, train, transform=T.get("unit"), steps=steps,
                        batch_size=cfg.batch_size, seed=params.seed, engine=params.train,
                        name="evaluator", ckpt_path=ckpt_path, meta={"fingerprint": fp})
    net.cpu().eval()
    E.save_classifier(out_model, net, cfg, meta["shape"], meta["num_classes"])

    t0 = time.perf_counter()
    extract = E.FeatureExtractor(net, cfg)
    heldout = torch.cat([val.x, test.x])
    n = min(params.budget.n_samples, len(heldout))
    pick = torch.randperm(len(heldout), generator=torch.Generator().manual_seed(params.seed))[:n]
    floor = E.sample_metrics(extract, train.x, heldout[pick], cfg, meta["num_classes"], params.seed)
    out = {"test_accuracy": E.accuracy(net, test.x, test.y),
           "val_accuracy": E.accuracy(net, val.x, val.y),
           "train_seconds": result.seconds, "steps": steps, "backbone": cfg.backbone,
           "floor": floor, "floor_seconds": time.perf_counter() - t0}
    unpaired = _train_unpaired_classifier(params, processed_dir, meta, out_unpaired)
    if unpaired:
        out["unpaired"] = unpaired
    write_json(out_metrics, out)
    return out


# ----------------------------------------------------------------------------- model stages
def build_model(params: Params, name: str, meta: dict):
    from genbench.registry import model_class

    cfg = params.model_config_of(name)
    cls = model_class(cfg.kind)
    if getattr(cls, "translates", False):  # the domains it translates come with the data
        from genbench.config import TranslationConfig

        cfg = cfg.model_copy(update={"domain": TranslationConfig(**meta["translation"])})
    try:
        return cls(cfg, tuple(meta["shape"]), meta["num_classes"])
    except ConfigError as err:  # a model's own checks name the field; add the section
        raise ConfigError(f"models.{name}.{err}") from None


def _write_history_csv(path, history: list[dict]) -> None:
    keys = ["step"] + sorted({k for row in history for k in row if k != "step"})
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=keys)
    w.writeheader()
    for row in history:
        w.writerow({k: row.get(k, "") for k in keys})
    write_text(path, buf.getvalue())


def _attach_training_inputs(model, processed_dir, evaluator_path) -> None:
    """What a model needs besides its train split: the other domain (unpaired translation),
    the evaluator's features (a feature content loss)."""
    if getattr(model, "unpaired", False):
        model.attach_unpaired(D.load_unpaired(processed_dir, "train").x)
    if getattr(model, "needs_features", False):
        from genbench import evaluator as E

        if evaluator_path is None:
            raise ConfigError(f"{model.kind}: content: features needs --evaluator")
        model.attach_features(E.load_classifier(evaluator_path))


def train(params: Params, name: str, processed_dir, out_model, out_losses, out_info,
          ckpt_path, evaluator_path=None) -> dict:
    """Stage ``train@<name>``: fit the model through the engine, track it in MLflow, save it."""
    from genbench import engine, tracking
    from genbench.checkpoint import save_model

    cfg = params.model_config_of(name)
    meta = D.load_meta(processed_dir)
    torch.manual_seed(params.seed)  # the initial weights are part of the seeded run
    model = build_model(params, name, meta)  # validates model-specific ranges before any work
    train_split = D.load_split(processed_dir, "train")
    _attach_training_inputs(model, processed_dir, evaluator_path)
    steps = getattr(cfg, "steps", 0)
    if params.budget.max_steps and steps:
        steps = min(steps, params.budget.max_steps)
    batch_size = getattr(cfg, "batch_size", len(train_split))
    if batch_size > len(train_split):
        raise ConfigError(f"models.{name}.batch_size = {batch_size}: must be ≤ the train split "
                          f"size ({len(train_split)})")
    fp = fingerprint(model.cfg.model_dump(), steps, params.seed, _split_fingerprint(processed_dir),
                     code_fingerprint())
    with tracking.run(params.mlflow, model=name, kind=cfg.kind) as run:
        run.log_params({"model": model.cfg.model_dump(), "seed": params.seed,
                        "data": params.data.model_dump(exclude={"sha256"}),
                        "budget": params.budget.model_dump(), "train": params.train.model_dump(),
                        "effective_steps": steps})
        result = engine.fit(model, train_split, transform=T.get(model.input_transform),
                            steps=steps, batch_size=batch_size, seed=params.seed,
                            engine=params.train, name=name, ckpt_path=ckpt_path,
                            meta={"fingerprint": fp, "name": name},
                            on_log=lambda step, row: run.log_metrics(row, step))
        save_model(out_model, model.cpu(), name=name, step=result.steps,
                   extra={"mlflow_run_id": run.run_id, "fingerprint": fp})
        _write_history_csv(out_losses, result.history)
        info = {"model": name, "kind": cfg.kind, "steps": result.steps, "batch_size": batch_size,
                "train_seconds": result.seconds, "device": result.device,
                "resumed_from_step": result.resumed_from,
                "images_per_second": (result.steps * batch_size / result.seconds
                                      if result.steps else None),
                "final": {k: v for k, v in (result.history[-1] if result.history else {}).items()
                          if k != "step"}}
        run.log_metrics({"train_seconds": result.seconds})
        run.log_artifact(out_model, "checkpoint")
        write_json(out_info, info)
    return info


def _save_grid(x: torch.Tensor, path, nrow: int) -> None:
    from torchvision.utils import save_image

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(path).with_suffix(".tmp.png")
    save_image(x, tmp, nrow=nrow, padding=2, pad_value=0.5)
    tmp.replace(path)


def _to_uint8(x: torch.Tensor) -> torch.Tensor:
    return (x.cpu() * 255).round().to(torch.uint8)


def _one_per_class(y: torch.Tensor, k: int = 10) -> torch.Tensor:
    """The first test image of each class, in class order (``k`` at most): the strips' columns."""
    return torch.stack([(y == c).nonzero()[0, 0] for c in y.unique()[:k]])


def _translate_test(model, processed_dir, g: torch.Generator) -> tuple[dict, torch.Tensor]:
    """A translation model's 'samples': its translations of the whole test split, stored with
    their inputs (and targets, baseline, cycle reconstructions), and the strips of the grid:
    rows of input | output | target (paired) or a | G(a) | F(G(a)) and b | F(b) | G(F(b))."""
    from genbench.transforms import to_unit

    test = D.load_split(processed_dir, "test")
    shown = _one_per_class(test.y)
    full = tuple(model.shape[1:])

    def show(x):  # (k, C, h, w) -> full size (nearest) for the strips
        return torch.nn.functional.interpolate(x, size=full, mode="nearest") \
            if tuple(x.shape[2:]) != full else x

    if model.unpaired:
        other = D.load_unpaired(processed_dir, "test")
        a, b = to_unit(test.x), to_unit(other.x)
        fake_b = model.translate(a, g)
        fake_a = model.translate(b, g, reverse=True)
        cyc_a, cyc_b = model.translate(fake_b, g, reverse=True), model.translate(fake_a, g)
        stored = {"x": _to_uint8(fake_b), "input": test.x, "cycle": _to_uint8(cyc_a),
                  "source_y": test.y, "b_x": _to_uint8(fake_a), "b_input": other.x,
                  "b_cycle": _to_uint8(cyc_b), "b_source_y": other.y}
        shown_b = _one_per_class(other.y)
        rows = [a[shown], fake_b[shown], cyc_a[shown], b[shown_b], fake_a[shown_b], cyc_b[shown_b]]
        return stored, torch.cat(rows)
    target = to_unit(test.x)
    src = model.source(target, g)
    out = model.translate(src, g)
    stored = {"x": _to_uint8(out), "input": _to_uint8(src), "target": test.x,
              "baseline": _to_uint8(model.baseline(src)), "source_y": test.y}
    return stored, torch.cat([show(src[shown]), out[shown], target[shown]])


def sample(params: Params, name: str, model_path, out_samples, out_grid, out_info,
           processed_dir=None) -> dict:
    """Stage ``sample@<name>``: ``budget.n_samples`` seeded samples as uint8 + a PNG grid; for a
    translation model, its translations of the test split (from ``processed_dir``) and strips."""
    from genbench import tracking
    from genbench.checkpoint import load_model
    from genbench.engine import resolve_device

    model, rec = load_model(model_path)
    model.to(resolve_device(params.train.device))
    t0 = time.perf_counter()
    g = torch.Generator().manual_seed(params.seed)  # same seed -> same samples
    if getattr(model, "translates", False):
        if processed_dir is None:
            raise ConfigError(f"{name} translates the test split: the sample stage needs --data")
        stored, strips = _translate_test(model, processed_dir, g)
        seconds = time.perf_counter() - t0
        torch_save(out_samples, stored)
        _save_grid(strips, out_grid, nrow=10)
        n = len(stored["x"])
    else:
        n = min(params.budget.n_samples, getattr(model.cfg, "n_samples", None) or 10**12)
        labels = model.sample_labels(n)  # None unless conditional
        x = model.sample(n, g, labels).cpu()  # (N, C, H, W) in [0, 1]
        seconds = time.perf_counter() - t0
        x8 = _to_uint8(x)  # stored like the real data, judged like it
        torch_save(out_samples, {"x": x8} if labels is None else {"x": x8, "y": labels})
        grid_n = min(100, len(x))
        _save_grid(x[:grid_n], out_grid, nrow=int(grid_n ** 0.5))
    info = {"n": n, "sample_seconds": seconds}
    write_json(out_info, info)
    with tracking.run(params.mlflow, model=name, kind=rec["kind"],
                      run_id=rec.get("mlflow_run_id")) as run:
        run.log_metrics({"sample_seconds": seconds})
        run.log_artifact(out_grid, "samples")
    return info


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


def _evaluate_translation(params: Params, model, meta: dict, processed_dir, train_split,
                          extract, unpaired_path, stored: dict) -> dict:
    """A translation model's metrics: the main table's sample metrics of its outputs in the
    data's domain, and the translation table (model and baseline rows)."""
    from genbench import evaluator as E

    cfg, k, seed = params.evaluator, meta["num_classes"], params.seed
    if model.unpaired:
        if unpaired_path is None:
            raise ConfigError(f"{model.kind} needs the unpaired domain's classifier "
                              f"(--unpaired-evaluator)")
        extract_b = E.FeatureExtractor(E.load_classifier(unpaired_path), cfg)
        train_b = D.load_unpaired(processed_dir, "train").x
        t = E.unpaired_translation_metrics(extract, extract_b, train_split.x, train_b, stored,
                                           cfg, k, seed)
        main = stored["b_x"]  # F(b): the translations into this dataset's domain
        y = stored["b_source_y"]
    else:
        t = E.paired_translation_metrics(extract, train_split.x, stored, cfg, k, seed)
        main, y = stored["x"], stored["source_y"]
    out = E.sample_metrics(extract, train_split.x, main, cfg, k, seed)
    out["class_accuracy"] = E.accuracy(extract.clf, main, y)
    out["translation"] = {"task": model.task, **t,
                          **({"unpaired": meta["unpaired"]["dataset"]} if model.unpaired else {})}
    return out


def evaluate(params: Params, name: str, processed_dir, evaluator_path, model_path, samples_path,
             out_metrics, unpaired_path=None) -> dict:
    """Stage ``evaluate@<name>``: sample metrics against the train split, plus test NLL/MSE; the
    translation metrics of a translation model (``unpaired_path``: the other domain's
    classifier)."""
    from genbench import evaluator as E
    from genbench import metrics as M
    from genbench import tracking
    from genbench.checkpoint import load_model

    t0 = time.perf_counter()
    meta = D.load_meta(processed_dir)
    train_split, val, test = (D.load_split(processed_dir, s) for s in D.SPLITS)
    model, rec = load_model(model_path)
    stored = torch_load(samples_path)
    samples = stored["x"]
    n = min(params.budget.n_samples, len(val) + len(test), len(samples))  # = the floor's n
    extract = E.FeatureExtractor(E.load_classifier(evaluator_path), params.evaluator)
    if getattr(model, "translates", False):
        out = _evaluate_translation(params, model, meta, processed_dir, train_split, extract,
                                    unpaired_path, stored)
    else:
        out = E.sample_metrics(extract, train_split.x, samples[:n], params.evaluator,
                               meta["num_classes"], params.seed)
    if "y" in stored:  # conditional samples: does the evaluator see the asked-for class?
        if getattr(model, "labels_are_codes", False):  # InfoGAN: codes, matched to classes
            pred = E.predict(extract.clf, samples)
            out.update(M.code_class_matching(pred, stored["y"], meta["num_classes"]))
        else:
            out["class_accuracy"] = E.accuracy(extract.clf, samples, stored["y"])
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
    out["eval_seconds"] = time.perf_counter() - t0
    write_json(out_metrics, out)
    with tracking.run(params.mlflow, model=name, kind=rec["kind"],
                      run_id=rec.get("mlflow_run_id")) as run:
        run.log_metrics(_flatten(out))
    return out


def _flatten(d: dict, prefix: str = "") -> dict:
    """Nested metrics as one level, keys joined by '.' (translation.model.a_to_b.fid)."""
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out
