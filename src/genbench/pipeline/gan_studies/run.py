"""Stage ``gan_studies``: the measurements that define the modern GANs, for every
selected model that has the mechanism (:mod:`genbench.analysis.gan_studies`):

- **truncation** (BigGAN: a ``truncations`` list): sample metrics per threshold ψ on |z| and
  untruncated — precision (fidelity) and recall (variety), FID, class accuracy;
- **style** (StyleGAN: ``mixed`` styles): the mixing grid (coarse styles from one latent, fine
  from another), which source the mixed image's digit follows, and PPL in Z vs in W;
- **text** (GAN-CLS, StackGAN: captions): per attribute word, the share of images whose
  measured attribute is the one asked (the caption rule of :mod:`genbench.core.captions`,
  chance = 1 / levels), class accuracy by the caption's digit, embedding interpolations; for
  StackGAN, Stage I (upsampled) vs Stage II metrics.

Settings: each model's own config (``truncations``, ``ppl_pairs``/``ppl_epsilon``,
``attribute_samples``); the seed, evaluator settings and sample count of the model's evaluate
view, so the numbers compare with its metrics/models row (the same n and evaluator). Which
models: those selected (``params/report.json``) whose class has the mechanism.
"""

from __future__ import annotations

import copy
import logging
import time
from pathlib import Path

import torch
import torch.nn.functional as Fn

from genbench import tracking
from genbench.analysis import figures as F
from genbench.analysis import gan_studies as S
from genbench.core import captions as C
from genbench.core import data as D
from genbench.core.config import EvaluateView, GanStudiesView
from genbench.core.io import write_dir_atomically, write_json
from genbench.models.registry import model_class
from genbench.nn import classifier as NC
from genbench.params import load_view

log = logging.getLogger("genbench.gan_studies")
BATCH = 500


def study_of(kind: str) -> str | None:
    """The study a model kind gets: what its class declares (``GenerativeModel.study``)."""
    return model_class(kind).study


class Judge:
    """The evaluator as the studies use it: metrics of [0, 1] images comparable with the
    model's evaluate stage (same n, settings, seed), predictions, float features."""

    def __init__(self, ev: EvaluateView, evaluator_path, num_classes: int, n: int):
        from genbench import evaluator as E

        self.E, self.cfg, self.k, self.seed, self.n = E, ev.evaluator, num_classes, ev.seed, n
        self.extract = E.FeatureExtractor(NC.load_classifier(evaluator_path), ev.evaluator)
        self.ref = NC.load_reference(evaluator_path)

    @staticmethod
    def u8(x: torch.Tensor) -> torch.Tensor:
        return (x.clamp(0, 1).cpu() * 255).round().to(torch.uint8)

    def metrics(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> dict:
        f = self.extract(self.u8(x))
        out = self.E.metrics_of_features(f, self.ref, self.cfg, self.k, self.seed)
        if labels is not None:
            out["class_accuracy"] = float((f["pred"] == labels.cpu()).float().mean())
        return out

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self.extract(self.u8(x))["pred"]


def _batched(fn, *tensors) -> torch.Tensor:
    """fn over row batches of the tensors (None passes through), concatenated."""
    n = len(next(t for t in tensors if t is not None))
    with torch.no_grad():
        return torch.cat([fn(*(None if t is None else t[i:i + BATCH] for t in tensors))
                          for i in range(0, n, BATCH)])


# --------------------------------------------------------------------------- truncation
def truncation(name: str, model, judge: Judge, out_dir: Path) -> dict:
    """Sample metrics per truncation threshold ψ (and without truncation)."""
    levels = [*model.cfg.truncations, None]
    labels = model.sample_labels(judge.n)
    rows, shown, result = [], [], {}
    for psi in levels:
        g = torch.Generator().manual_seed(judge.seed)
        z = model.latent(judge.n, g, psi)
        x = _batched(model.generate, z, labels)
        key = "none" if psi is None else f"{psi:g}"
        result[key] = {k: v for k, v in judge.metrics(x, labels).items()
                       if k in ("fid", "kid", "precision", "recall", "classes", "class_accuracy",
                                "mean_confidence", "n")}
        rows.append(x[:10])
        shown.append(f"ψ = {key}")
        log.info("%s: truncation %s: %s", name, key, result[key])
    F.image_rows(out_dir / f"{name}_truncation.png", rows, shown,
                 f"{name}: samples per truncation threshold (digits 0-9 in each row)")
    xs = [float(p) for p in model.cfg.truncations]
    F.curves(out_dir / f"{name}_truncation_curve.png", xs,
             {m: [result[f"{p:g}"][m] for p in model.cfg.truncations]
              for m in ("precision", "recall", "class_accuracy")},
             "truncation threshold ψ (|z| ≤ ψ)", "evaluator's measure",
             f"{name}: fidelity (precision, class) vs variety (recall)")
    return {"thresholds": result, "samples": judge.n}


# --------------------------------------------------------------------------- style
def _ink(x: torch.Tensor) -> torch.Tensor:
    return C.measure(x)["thickness"]


def style(name: str, model, judge: Judge, out_dir: Path) -> dict:
    """Mixing grid and numbers, and PPL in Z and W (float64 copies: ε = 1e-4 steps)."""
    cfg, seed = model.cfg, judge.seed
    n, split = cfg.ppl_pairs, cfg.coarse_layers
    g = torch.Generator().manual_seed(seed)
    za, zb = model.latent(n, g), model.latent(n, g)
    with torch.no_grad():
        wa, wb = model.map(za), model.map(zb)

    def render(ws: torch.Tensor, salt: int) -> torch.Tensor:  # the same noise per salt
        return model.synthesize(ws, torch.Generator().manual_seed(seed + 1 + salt))

    xa = torch.cat([render(model.broadcast(wa[i:i + BATCH]), i) for i in range(0, n, BATCH)])
    xb = torch.cat([render(model.broadcast(wb[i:i + BATCH]), i) for i in range(0, n, BATCH)])
    xm = torch.cat([render(model.mixed(wa[i:i + BATCH], wb[i:i + BATCH], split), i)
                    for i in range(0, n, BATCH)])
    out = {"coarse_layers": split, "styles": model.num_ws, "pairs": n}
    out.update(S.mixing_sources(judge.predict(xa), judge.predict(xb), judge.predict(xm)))
    ia, ib, im = _ink(xa), _ink(xb), _ink(xm)
    out.update(ink_corr_coarse=S.correlation(im, ia), ink_corr_fine=S.correlation(im, ib))
    # the grid: coarse sources down the left, fine sources along the top
    k = 6
    cells = [torch.cat([torch.ones_like(xa[:1]), xb[:k]])]
    for i in range(k):
        wi = wa[i:i + 1].expand(k, -1)
        with torch.no_grad():
            mix = model.synthesize(model.mixed(wi, wb[:k], split),
                                   torch.Generator().manual_seed(seed + 1))
        cells.append(torch.cat([xa[i:i + 1], mix]))
    F.image_rows(out_dir / f"{name}_mixing.png", cells,
                 ["fine →"] + [f"coarse {i + 1}" for i in range(k)],
                 f"{name}: styles of layers < {split} from the left column, the rest from the "
                 f"top row")
    # PPL in float64: the ε-steps are far below float32's resolution of the features
    m64 = copy.deepcopy(model).double()
    clf64 = copy.deepcopy(judge.extract.clf).double()
    t = torch.rand(n, generator=g, dtype=torch.float64)
    feats = lambda x: clf64.features_and_logits(x)[0]
    eps = cfg.ppl_epsilon
    ppl_z = S.perceptual_path_length(
        S.slerp, (za.double(), zb.double()),
        lambda p, i: m64.synthesize(m64.broadcast(m64.map(p)),
                                    torch.Generator().manual_seed(seed + 7 + i)).double(),
        feats, eps, t)
    ppl_w = S.perceptual_path_length(
        S.lerp, (wa.double(), wb.double()),
        lambda p, i: m64.synthesize(m64.broadcast(p),
                                    torch.Generator().manual_seed(seed + 7 + i)).double(),
        feats, eps, t)
    out.update(ppl_z=ppl_z, ppl_w=ppl_w, ppl_epsilon=eps,
               ppl_distance="squared L2 of the evaluator's features")
    log.info("%s: mixing %s; PPL z %.1f, w %.1f", name,
             {k: out.get(k) for k in ("class_from_coarse", "class_from_fine")},
             ppl_z["ppl"], ppl_w["ppl"])
    return out


# --------------------------------------------------------------------------- text
def _interpolation(name: str, model, judge: Judge, out_dir: Path, k: int) -> dict:
    """Images along straight lines between two captions' embeddings, z and conditioning noise
    fixed: thin → thick (per digit) and "one" → "seven" (same attribute words)."""
    seed, pts = judge.seed, torch.linspace(0, 1, 7)
    digits = torch.arange(min(5, k))
    g = torch.Generator().manual_seed(seed + 3)
    z = model.latent(len(digits), g)
    mid = {"slant": 1, "size": 1}

    def path(tok_a, tok_b, zz):
        ha, hb = model.embed(tok_a), model.embed(tok_b)
        with torch.no_grad():
            return torch.stack([model.from_embedding(zz, ha + float(t) * (hb - ha),
                                                     torch.Generator().manual_seed(seed + 4))
                                for t in pts])  # (T, B, C, H, W)

    lv = torch.tensor([[0, mid["slant"], mid["size"]]]).expand(len(digits), -1)
    thin = C.tokens(digits, lv)
    thick = C.tokens(digits, lv.clone().index_fill_(1, torch.tensor([0]), 2))
    ink_path = path(thin, thick, z)  # (T, B, ...)
    ink = torch.stack([_ink(x) for x in ink_path])  # (T, B)
    a, b = 1 % k, 7 % k
    z17 = model.latent(20, g)
    lv17 = torch.tensor([[1, 1, 1]]).expand(20, -1)
    cls_path = path(C.tokens(torch.full((20,), a), lv17), C.tokens(torch.full((20,), b), lv17),
                    z17)
    frac_b = [float((judge.predict(x) == b).float().mean()) for x in cls_path]
    rows = [ink_path[:, i] for i in range(len(digits))] + [cls_path[:, i] for i in range(3)]
    labels = [f"thin→thick {int(d)}" for d in digits] + [f"{a}→{b}"] * 3
    F.image_rows(out_dir / f"{name}_interpolation.png", rows, labels,
                 f"{name}: text-embedding interpolation (z fixed per row)",
                 [f"t={float(t):.2f}" for t in pts])
    return {"points": pts.tolist(), "thin_to_thick_ink": ink.mean(1).tolist(),
            "class_path": {"from": a, "to": b, "share_read_as_to": frac_b}}


def text(name: str, model, judge: Judge, out_dir: Path, test: D.Split) -> dict:
    """Attribute agreement per attribute word, class accuracy by the caption's digit,
    interpolations; StackGAN: Stage I vs Stage II."""
    from genbench.core.transforms import to_unit

    k, seed, n = model.num_classes, judge.seed, model.cfg.attribute_samples
    th = model.captions.thresholds
    out: dict = {"caption_rule": "label + per-class quantile levels of ink, slant and size "
                                 "(src/genbench/core/captions.py); generated, not written by "
                                 "people", "attributes": {}}
    real = C.measure(to_unit(test.x))
    real_lv = C.levels(real, test.y, th)  # (N, A): the test images' own caption levels
    correct = total = 0
    rows, row_labels = [], []
    for i, (attr, names) in enumerate(C.ATTRIBUTES.items()):
        res: dict = {"chance": 1 / len(names), "levels": {}}
        for lvl, word in enumerate(names):
            g = torch.Generator().manual_seed(seed + 10 * i + lvl)
            labels = torch.arange(n) % k
            z = model.latent(n, g)
            fixed = {attr: lvl}
            x = _batched(lambda zz, yy, g=g, fixed=fixed: model.generate(zz, yy, g, fixed), z,
                         labels)
            raw = C.measure(x)
            measured = C.levels(raw, labels, th)[:, i]
            pred = judge.predict(x)
            correct += int((pred == labels).sum())
            total += n
            res["levels"][word] = {
                "agreement": S.attribute_agreement(measured, lvl),
                "mean_value": float(raw[attr].mean()),
                "real_mean_value": float(real[attr][real_lv[:, i] == lvl].mean()),
                "class_accuracy": float((pred == labels).float().mean())}
            rows.append(x[:10])
            row_labels.append(f'"{word}"')
        res["agreement"] = sum(v["agreement"] for v in res["levels"].values()) / len(names)
        lo, hi = names[0], names[-1]
        res[f"{hi}_minus_{lo}"] = (res["levels"][hi]["mean_value"]
                                   - res["levels"][lo]["mean_value"])
        res[f"real_{hi}_minus_{lo}"] = (res["levels"][hi]["real_mean_value"]
                                        - res["levels"][lo]["real_mean_value"])
        out["attributes"][attr] = res
        log.info("%s: %s agreement %.3f (chance %.3f)", name, attr, res["agreement"],
                 res["chance"])
    out["class_accuracy_by_caption"] = correct / total
    out["samples_per_level"] = n
    F.image_rows(out_dir / f"{name}_attributes.png", rows, row_labels,
                 f"{name}: one attribute word fixed per row, digits 0-9, other words drawn")
    out["interpolation"] = _interpolation(name, model, judge, out_dir, k)
    if hasattr(model, "stage_one"):  # StackGAN: what Stage II adds to Stage I
        g = torch.Generator().manual_seed(seed)
        labels = model.sample_labels(judge.n)
        _, tok = model.captions.draw(labels, g)
        z = model.latent(judge.n, g)
        with torch.no_grad():
            s1, s2 = model.from_embedding(z, model.embed(tok), g, both=True)
        up = Fn.interpolate(s1, size=s2.shape[-2:], mode="bilinear", align_corners=False)
        keep = ("fid", "kid", "precision", "recall", "classes", "class_accuracy")
        out["stages"] = {"stage1_upsampled": {k2: v for k2, v in judge.metrics(up, labels).items()
                                              if k2 in keep},
                         "stage2": {k2: v for k2, v in judge.metrics(s2, labels).items()
                                    if k2 in keep}}
        F.image_rows(out_dir / f"{name}_stages.png", [up[:10], s2[:10]],
                     ["Stage I (14×14, upsampled)", "Stage II (28×28)"],
                     f"{name}: the same captions, z and conditioning draws")
    return out


# --------------------------------------------------------------------------- the stage
def gan_studies(params: GanStudiesView, evaluate_views, processed_dir, models_dir, evaluator_path,
                out_json, figures_dir) -> dict:
    """Every study that applies to a selected model -> ``out_json`` and ``figures_dir``
    (swapped in whole); one MLflow run (kind analysis) when a model was studied."""
    from genbench.models.checkpoint import load_model

    t0 = time.perf_counter()
    meta = D.load_meta(processed_dir)
    val, test = D.load_split(processed_dir, "val"), D.load_split(processed_dir, "test")
    plan = {m: study_of(sec["kind"]) for m, sec in params.models.items()}
    plan = {m: s for m, s in plan.items() if s is not None}
    out: dict = {"models": {}}
    mlflow_cfg = None

    def fill(folder: Path) -> None:
        nonlocal mlflow_cfg
        for name, study in plan.items():
            t = time.perf_counter()
            ev = load_view(Path(evaluate_views) / f"{name}.json", EvaluateView)
            mlflow_cfg = mlflow_cfg or ev.mlflow
            model, _ = load_model(Path(models_dir) / name / "model.pt", name)
            model.eval()
            torch.manual_seed(ev.seed)
            n = min(ev.budget.n_samples, len(val) + len(test))  # the evaluate stage's n
            judge = Judge(ev, evaluator_path, meta["num_classes"], n)
            with torch.no_grad():  # no study differentiates
                if study == "truncation":
                    r = truncation(name, model, judge, folder)
                elif study == "style":
                    r = style(name, model, judge, folder)
                else:
                    r = text(name, model, judge, folder, test)
            out["models"][name] = {"study": study, **r, "seconds": time.perf_counter() - t}
        lines = [f"{m}: {r['study']}" for m, r in out["models"].items()]
        (folder / "index.txt").write_text("\n".join(lines or ["no model with a study"]) + "\n")

    write_dir_atomically(Path(figures_dir), fill)
    out["seconds"] = time.perf_counter() - t0
    write_json(out_json, out)
    if mlflow_cfg is not None and mlflow_cfg.enabled:
        tracking.log_stage_run(mlflow_cfg, name="gan_studies", params={"models": list(plan)},
                               result=out, artifacts=[out_json, figures_dir])
    return out
