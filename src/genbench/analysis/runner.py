"""The analyses of one trained model (autoencoders; the autoregressive models' dependency
field), run by its ``evaluate@<model>`` stage after the metrics: its figures in one folder
(swapped in atomically) and its numbers in one metrics JSON.

An analysis applies when the model has what it needs: encoder + decoder for interpolation,
inpainting, the latent pictures and robustness; an encoder for tangents and the probes. The costly
ones retrain or fine-tune copies of the model and run only for the models their config lists
(``analysis.anomaly.models``, ``analysis.finetune.models``). Conditional models (cvae) are skipped
by the encoder analyses: their codes need the label.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Callable

import torch

from genbench.analysis import anomaly as A
from genbench.analysis import codes as CD
from genbench.analysis import dependency as DP
from genbench.analysis import figures as F
from genbench.analysis import finetune as FT
from genbench.analysis import inpainting as IP
from genbench.analysis import interpolation as IN
from genbench.analysis import latent as LT
from genbench.analysis import probe as PR
from genbench.analysis import robustness as RB
from genbench.analysis import tangents as TG
from genbench.core import data as D
from genbench.core.config import EvaluateView
from genbench.core.corruptions import CORRUPTIONS
from genbench.core.errors import ConfigError
from genbench.core.io import write_dir_atomically, write_json
from genbench.core.transforms import to_unit
from genbench.models.autoregressive import AutoregressiveModel

log = logging.getLogger("genbench.analysis")
SHOW = 8  # examples drawn in the image figures


class Context:
    """What every analysis of one model reads: the model, [0, 1] splits, the evaluator."""

    def __init__(self, params: EvaluateView, name: str, model, classifier, train: D.Split,
                 test: D.Split, num_classes: int, out: Path):
        self.params, self.name, self.model, self.clf = params, name, model, classifier
        self.cfg = params.analysis
        self.train, self.test = train, test
        self.xtr, self.xte = to_unit(train.x), to_unit(test.x)  # (N, C, H, W) in [0, 1]
        self.num_classes, self.out, self.seed = num_classes, out, params.seed
        # a seeded shuffle of the test split (stored sorted by class): subsets mix the classes
        self.order = torch.randperm(len(test), generator=self.generator(0))

    @torch.no_grad()
    def probs(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) [0, 1] -> (B, K)
        return torch.cat([self.clf(b).softmax(1) for b in x.split(500)])

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.encode(x)

    def decode(self, h: torch.Tensor) -> torch.Tensor:
        return self.model.decode(h).view(-1, *self.model.shape)

    @torch.no_grad()
    def codes(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.encode(b) for b in x.split(500)])

    def generator(self, salt: int) -> torch.Generator:
        return torch.Generator().manual_seed(self.seed * 1000 + salt)


# --------------------------------------------------------------------------- the analyses
def interpolation(c: Context) -> dict:
    cfg = c.cfg.interpolation
    a, b = IN.pick_pairs(c.test.y, cfg.pairs, c.generator(1))
    pixel, latent = IN.paths(c.encode, c.decode, c.xte[a], c.xte[b], cfg.points)
    conf_p, conf_l = IN.path_confidence(c.probs, pixel), IN.path_confidence(c.probs, latent)
    t = torch.linspace(0, 1, cfg.points).tolist()
    inner = slice(1, -1)  # the endpoints are the images themselves (or their reconstructions)
    mid = cfg.points // 2
    rows, labels = [], []
    for i in range(min(4, len(a))):
        rows += [pixel[:, i], latent[:, i]]
        labels += [f"pixel {int(c.test.y[a[i]])}→{int(c.test.y[b[i]])}", "latent"]
    F.image_rows(c.out / "interpolation.png", rows, labels,
                 f"{c.name}: pixel-space vs latent-space interpolation")
    F.curves(c.out / "interpolation_confidence.png", t,
             {"pixel path": conf_p.tolist(), "latent path": conf_l.tolist()}, "t",
             "evaluator's mean max probability", f"{c.name}: confidence along the paths")
    return {"pairs": len(a), "confidence_pixel": float(conf_p[inner].mean()),
            "confidence_latent": float(conf_l[inner].mean()),
            "confidence_pixel_mid": float(conf_p[mid]), "confidence_latent_mid": float(conf_l[mid]),
            "curve_pixel": conf_p.tolist(), "curve_latent": conf_l.tolist()}


def tangents(c: Context) -> dict:
    cfg = c.cfg.tangents
    x = c.xte[c.order[:cfg.points]]
    s, v = TG.tangent_spectrum(c.encode, x)
    out = TG.spectrum_summary(s)
    k = min(20, s.shape[1])
    norm = (s[:, :k] / s[:, :1].clamp_min(1e-30)).mean(0)  # spectrum relative to σ₁
    out["spectrum_relative"] = norm.tolist()
    out["points"] = len(x)
    show = min(cfg.show, s.shape[1])
    F.tangent_figure(c.out / "tangents.png", x[:4], v[:4, :show], s[:4, :show],
                     f"{c.name}: top right-singular vectors of ∂h/∂x (tangent directions)")
    return out


def inpainting(c: Context) -> dict:
    cfg = c.cfg.inpainting
    x = c.xte[c.order[:cfg.images]]
    hidden = IP.region_mask(tuple(x.shape[1:]), cfg.region)
    mean_img = c.xtr.mean(0)
    guess, filled = IP.inpaint(c.encode, c.decode, x, hidden, mean_img, cfg.steps, cfg.lr)
    nn_fill = IP.nearest_neighbour_fill(x, hidden, c.xtr)
    mean_fill = torch.where(hidden, mean_img, x)
    mse = {k: float(IP.masked_mse(v.clamp(0, 1), x, hidden).mean()) for k, v in
           {"pseudo_inverse": filled, "encoder_guess": guess, "mean_image": mean_fill,
            "nearest_neighbour": nn_fill}.items()}
    masked = torch.where(hidden, torch.full_like(x, 0.5), x)
    F.image_rows(c.out / "inpainting.png",
                 [masked[:SHOW], guess[:SHOW].clamp(0, 1), filled[:SHOW].clamp(0, 1),
                  nn_fill[:SHOW], x[:SHOW]],
                 ["hidden", "encoder guess", "pseudo-inverse", "nearest neighbour", "truth"],
                 f"{c.name}: inpainting the {cfg.region} (grey = hidden)")
    return {"region": cfg.region, "images": len(x), "steps": cfg.steps,
            **{f"mse_{k}": v for k, v in mse.items()}}


def probe(c: Context) -> dict:
    it = c.cfg.probe_max_iter
    ztr, zte = c.codes(c.xtr), c.codes(c.xte)
    j = ztr.shape[1]
    ptr, pte = PR.pca_codes(c.xtr, c.xte, j)
    return {"code_dim": j,
            "accuracy_codes": PR.linear_probe(ztr, c.train.y, zte, c.test.y, it),
            "accuracy_pca_same_size": PR.linear_probe(ptr, c.train.y, pte, c.test.y, it),
            "accuracy_pixels": PR.linear_probe(c.xtr.flatten(1), c.train.y, c.xte.flatten(1),
                                               c.test.y, it)}


def latent(c: Context) -> dict:
    z = c.codes(c.xte)
    z2, label = LT.project_2d(z)
    out = {"code_dim": z.shape[1], "projection": label}
    grid = None
    if z.shape[1] == 2:  # a decoded grid needs the latent itself to be the plane
        _, grid = LT.decoded_grid(c.decode, z, 15)
        conf = c.probs(grid).max(1).values
        out.update(grid_confidence=float(conf.mean()),
                   grid_confident_fraction=float((conf > 0.9).float().mean()))
    F.latent_figure(c.out / "latent.png", z2, c.test.y, label, grid, f"{c.name}: test codes")
    return out


def robustness(c: Context) -> dict:
    levels = c.cfg.robustness.levels
    bad = sorted(set(levels) - set(CORRUPTIONS))
    if bad:
        raise ConfigError(f"analysis.robustness.levels: unknown corruption {bad[0]!r}; allowed: "
                          f"{', '.join(k for k in CORRUPTIONS if k != 'none')}")
    rec = c.model.reconstruct
    out = {"clean": RB.corrupted_recon_mse(rec, c.xte, "none", 0.0, c.seed)}
    for name, level in levels.items():
        out[name] = RB.corrupted_recon_mse(rec, c.xte, name, level, c.seed)
    out["levels"] = dict(levels)
    return out


def anomaly(c: Context) -> dict:
    """Retrain the model's config on each normal class; AUROC of reconstruction error."""
    from genbench.core import engine
    from genbench.core import transforms as T

    cfg, p = c.cfg.anomaly, c.params
    steps = min(cfg.steps, p.budget.max_steps or cfg.steps)
    classes = [cfg.normal_class] if cfg.normal_class is not None else range(c.num_classes)
    if cfg.normal_class is not None and cfg.normal_class >= c.num_classes:
        raise ConfigError(f"analysis.anomaly.normal_class = {cfg.normal_class}: must be < the "
                          f"number of classes ({c.num_classes})")
    quiet = p.train.model_copy(update={"progress": False})
    aurocs, scores_all = {}, {}
    for k in classes:
        torch.manual_seed(p.seed + k)
        m = type(c.model)(c.model.cfg, c.model.shape, c.num_classes)  # the model file's config
        keep = c.train.y == k
        split = D.Split(c.train.x[keep], c.train.y[keep])
        bs = min(getattr(m.cfg, "batch_size", len(split)), len(split))
        engine.fit(m, split, transform=T.get(m.input_transform), steps=steps, batch_size=bs,
                   seed=p.seed + k, engine=quiet, name=f"{c.name} one-class {k}")
        m.cpu().eval()
        scores = A.recon_error(m.reconstruct, c.xte)
        aurocs[str(k)] = A.auroc(scores, c.test.y != k)
        scores_all[k] = scores
    F.curves(c.out / "anomaly_auroc.png", [int(k) for k in aurocs], {c.name: list(aurocs.values())},
             "normal class", "AUROC", f"{c.name}: one-class anomaly detection")
    return {"steps": steps, "auroc": aurocs,
            "mean_auroc": sum(aurocs.values()) / len(aurocs)}


def finetune(c: Context) -> dict:
    cfg, p = c.cfg.finetune, c.params
    steps = min(cfg.steps, p.budget.max_steps or cfg.steps)
    quiet = p.train.model_copy(update={"progress": False})
    j = c.codes(c.xte[:2]).shape[1]
    out = {"steps": steps, "repeats": cfg.repeats}
    for n in cfg.labels:
        if n > len(c.train.y):
            raise ConfigError(f"analysis.finetune.labels: {n} > the train split size "
                              f"({len(c.train.y)})")
        res = {}
        for pretrained in (True, False):
            accs = [FT.few_label_accuracy(c.model, j, c.train, c.xte, c.test.y, n, pretrained,
                                          p.seed + r, num_classes=c.num_classes, steps=steps,
                                          batch_size=cfg.batch_size, lr=cfg.lr, engine=quiet)
                    for r in range(cfg.repeats)]
            key = "pretrained" if pretrained else "random_init"
            res[key] = accs
            res[f"{key}_mean"] = sum(accs) / len(accs)
        out[str(n)] = res
    return out


def dependency(c: Context) -> dict:
    """The trained autoregressive network's dependency field at the centre pixel: 16 test
    images and 16 uniform-noise images (a union: a unit dead at one input does not hide a
    connection)."""
    m = c.model
    i, j = m.shape[1] // 2, m.shape[2] // 2
    noise = torch.rand(16, *m.shape, generator=c.generator(9))
    x = torch.cat([c.xte[c.order[:16]], noise])  # (32, C, H, W) in [0, 1]
    seen = DP.dependency_field(m.logits, x, i, j)
    out = DP.field_summary(seen, i, j)
    F.dependency_figure(c.out / "dependency.png", DP.field_map(seen, i, j), c.name, out)
    return out


def prior_match(c: Context) -> dict:
    """The test images' codes against the prior the model imposes on them (N(0, I))."""
    with torch.no_grad():
        z = torch.cat([c.model.prior_codes(b) for b in c.xte.split(500)])
    return CD.prior_match(z, c.generator(11))


def label_swap(c: Context) -> dict:
    """Same code, another label: does the conditional decoder follow the label?"""
    x, y = c.xte[c.order], c.test.y[c.order]
    out = CD.label_swap(c.model.encode, c.model.decode, c.probs, x, y, c.num_classes,
                        c.generator(12))
    # a style grid: a test image, then its code decoded with each label
    k = c.num_classes
    with torch.no_grad():
        rows = [torch.cat([x[i:i + 1], c.model.decode(
            c.model.encode(x[i:i + 1], y[i:i + 1]).expand(k, -1), torch.arange(k)
        ).view(-1, *c.model.shape)]) for i in range(SHOW // 2)]
    F.image_rows(c.out / "label_swap.png", rows, [f"a {int(y[i])}" for i in range(len(rows))],
                 f"{c.name}: a test image's code decoded with each label",
                 ["input", *map(str, range(k))])
    return out


# --------------------------------------------------------------------------- the stage
def _has_codec(m) -> bool:
    return hasattr(m, "encode") and hasattr(m, "decode")


def _codec(c: Context) -> str | None:
    """Why the codec analyses do not apply to the model, or None: they need an encoder and a
    decoder, and codes that do not need the label."""
    if c.model.conditional:
        return "conditional model: its codes need the label"
    return None if _has_codec(c.model) else "no encoder/decoder"


def _listed(key: str):
    """The rule of an analysis run only for the models listed in ``analysis.<key>.models``
    (costly ones), among those the codec analyses apply to."""
    def rule(c: Context) -> str | None:
        if c.name not in getattr(c.cfg, key).models:
            return f"not in analysis.{key}.models"
        return _codec(c)
    return rule


#: every analysis in run order (the keys of an analyses JSON): name -> (function, rule: why
#: it does not apply to the context's model, or None)
ANALYSES: dict[str, tuple[Callable, Callable[[Context], str | None]]] = {
    "interpolation": (interpolation, _codec),
    "inpainting": (inpainting, _codec),
    "latent": (latent, _codec),
    "tangents": (tangents, _codec),
    "probe": (probe, _codec),
    "robustness": (robustness, lambda c: _codec(c) or (
        None if hasattr(c.model, "reconstruct") else "no reconstruction")),
    "dependency": (dependency, lambda c: (
        None if isinstance(c.model, AutoregressiveModel) else "not autoregressive")),
    "prior_match": (prior_match, lambda c: (
        None if hasattr(c.model, "prior_codes") else "imposes no prior on its codes")),
    "label_swap": (label_swap, lambda c: (
        None if c.model.conditional and _has_codec(c.model) else "not a conditional autoencoder")),
    "anomaly": (anomaly, _listed("anomaly")),
    "finetune": (finetune, _listed("finetune")),
}
NAMES = tuple(ANALYSES)


def _plan(c: Context) -> dict[str, object]:
    """analysis name -> function, or the reason it does not apply."""
    return {name: rule(c) or fn for name, (fn, rule) in ANALYSES.items()}


def analyze(params: EvaluateView, name: str, model, kind: str, classifier, train: D.Split,
            test: D.Split, num_classes: int, out_metrics, out_dir,
            only: list[str] | None = None) -> dict:
    """Every analysis that applies to ``model`` (already loaded by the evaluate stage, which
    calls this): figures into ``out_dir`` (swapped in whole), numbers into ``out_metrics``.
    ``only``: run just these (an extra seed runs what the claims read)."""
    model.eval()
    for p in model.parameters():  # the analyses differentiate w.r.t. inputs/codes only
        p.requires_grad_(False)
    result: dict = {"model": name, "kind": kind, "skipped": {}, "seconds": {}}

    def fill(folder: Path) -> None:  # the figures go to a temp folder swapped in at the end
        c = Context(params, name, model, classifier, train, test, num_classes, folder)
        for analysis, fn in _plan(c).items():
            if only is not None and analysis not in only and not isinstance(fn, str):
                fn = "an extra seed: not read by the claims (analysis.for_seeds)"
            if isinstance(fn, str):
                result["skipped"][analysis] = fn
                continue
            t0 = time.perf_counter()
            torch.manual_seed(params.seed)
            result[analysis] = fn(c)
            result["seconds"][analysis] = time.perf_counter() - t0
            log.info("%s: %s done in %.1f s", name, analysis, result["seconds"][analysis])
        # what ran and what not, beside the figures; also: never an empty folder (`dvc pull`
        # restores no empty directory, and a missing output would rerun the stage)
        figures = sorted(f.name for f in folder.iterdir())
        lines = [f"{name}: {len(figures)} figure(s): {', '.join(figures) or 'none'}"]
        lines += [f"{a}: ran" for a in result["seconds"]]
        lines += [f"{a}: skipped ({why})" for a, why in result["skipped"].items()]
        (folder / "index.txt").write_text("\n".join(lines) + "\n")

    write_dir_atomically(Path(out_dir), fill)
    write_json(out_metrics, result)
    return result
