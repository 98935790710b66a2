"""Stage ``arithmetic``: attribute vectors in the code space of the selected models among
``arithmetic.models`` (:mod:`genbench.analysis.arithmetic`).

Code space: an encoder model's codes (``encode``; class = the true label, ink = the image's),
decoded by ``decode``, the means from ``arithmetic.codes`` train images, the vectors applied to
test images; a GAN's prior draws (``latent``) mapped by
``generate``, class = the evaluator's prediction of the generated image, ink = its ink. The
means use ``arithmetic.codes`` codes; the vectors are applied to others (a second draw). A
conditional model (cGAN) keeps its label: only the thickness vector applies to it.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import torch

from genbench import tracking
from genbench.analysis import arithmetic as AR
from genbench.core import data as D
from genbench.core import transforms as T
from genbench.core.config import ArithmeticView
from genbench.core.io import write_dir_atomically, write_json
from genbench.nn import classifier as NC

log = logging.getLogger("genbench.arithmetic")


def _figure(path: Path, rows: list[tuple[str, torch.Tensor]], title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = max(len(r) for _, r in rows)
    fig, axes = plt.subplots(len(rows), n, figsize=(n * 0.7, len(rows) * 0.75 + 0.4),
                             squeeze=False)
    for i, (label, imgs) in enumerate(rows):
        for j in range(n):
            ax = axes[i, j]
            if j < len(imgs):
                ax.imshow(imgs[j, 0].numpy(), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[i, 0].set_ylabel(label, fontsize=6, rotation=0, ha="right", va="center")
    fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


class _Space:
    """A model's code space: two draws of codes with their classes and ink, and decode."""

    def __init__(self, model, train: D.Split, test: D.Split, predict, n: int, apply: int,
                 k: int, seed: int):
        g = torch.Generator().manual_seed(seed)
        # a conditional model whose generator takes the label (cGAN) keeps it fixed
        self.conditional = bool(model.conditional) and getattr(model, "generate_uses_labels",
                                                                 True)
        if hasattr(model, "generate"):  # a GAN: prior draws
            self.kind = "prior draws (classes by the evaluator)"
            labels = model.sample_labels(n + apply * k) if self.conditional else None
            self.labels = labels
            z = model.latent(n + apply * k, g)
            self.decode_fn = lambda h, lab: model.generate(h, lab)  # noqa: E731
            with torch.no_grad():
                x = torch.cat([self.decode_fn(z[i:i + 500], None if labels is None else
                                              labels[i:i + 500]) for i in range(0, len(z), 500)])
            y = predict(x)
        else:  # an autoencoder: the means from train images, the vectors applied to test ones
            self.kind = "codes of images (true classes)"
            self.labels = None
            tr = torch.randperm(len(train), generator=g)[:n]
            te = torch.randperm(len(test), generator=g)[:apply * k]
            x8 = torch.cat([train.x[tr], test.x[te]])
            y = torch.cat([train.y[tr], test.y[te]])
            tf = T.eval_transform(model.input_transform)
            with torch.no_grad():
                z = torch.cat([model.encode(b) for b in tf.batch(x8).split(500)])
            x = T.to_unit(x8)
            n = len(tr)
            self.decode_fn = lambda h, lab: model.decode(h).view(-1, *model.shape)  # noqa: E731
        self.z, self.y, self.ink = z[:n], y[:n], AR.ink(x[:n])
        self.z_new, self.y_new = z[n:], y[n:]
        self.lab_new = None if self.labels is None else self.labels[n:]

    def decode(self, h: torch.Tensor, labels=None) -> torch.Tensor:
        with torch.no_grad():
            return self.decode_fn(h, labels).clamp(0, 1)


def _one(name: str, model, train, test, predict, cfg, k: int, seed: int, figures: Path) -> dict:
    sp = _Space(model, train, test, predict, cfg.codes, cfg.apply, k, seed)
    g = torch.Generator().manual_seed(seed + 1)
    out: dict = {"code_space": sp.kind, "code_dim": int(sp.z.shape[1])}
    rows = []
    if sp.conditional:
        out["class"] = {"skipped": "conditional: the label sets the class"}
        dec = lambda h: sp.decode(h, sp.lab_new[:len(h)])  # noqa: E731
    else:
        means = AR.class_means(sp.z, sp.y, k)
        out["class"] = AR.class_transfer(sp.decode, predict, sp.z_new, sp.y_new, means,
                                         cfg.apply, g)
        dec = sp.decode
        a, b = 1 % k, 7 % k  # the figure's pair: 1 → 7 (a class pair every digit set has)
        za = sp.z_new[sp.y_new == a][:8]
        if len(za) and not means[[a, b]].isnan().any():
            v = means[b] - means[a]
            rows += [(f"class {a}", dec(za)), (f"+ v({a}→{b})", dec(za + v)),
                     ("+ random", dec(za + AR.random_like(v, g)))]
    thick, v = AR.thickness(dec, predict, sp.z, sp.ink, sp.z_new, cfg.thick_quantile, g)
    out["thickness"] = thick
    z8 = sp.z_new[:8]
    rows += [("codes", dec(z8)), ("+ v(thick)", dec(z8 + v)), ("− v(thick)", dec(z8 - v))]
    _figure(figures / f"{name}.png", rows, f"{name}: code-space arithmetic ({sp.kind})")
    out["figure"] = f"{name}.png"
    return out


def arithmetic(params: ArithmeticView, processed_dir, models_dir, evaluator_path, out_json,
               figures_dir) -> dict:
    from genbench import evaluator as E
    from genbench.models.checkpoint import load_model

    t0 = time.perf_counter()
    meta = D.load_meta(processed_dir)
    train, test = D.load_split(processed_dir, "train"), D.load_split(processed_dir, "test")
    clf = NC.load_classifier(evaluator_path)

    def predict(x: torch.Tensor) -> torch.Tensor:  # [0, 1] images -> classes
        if len(x) == 0:
            return torch.zeros(0, dtype=torch.long)
        return E.predict(clf, (x.clamp(0, 1) * 255).round().to(torch.uint8))

    out: dict = {"models": {}, "not_selected": [m for m in params.arithmetic.models
                                                if m not in params.models]}

    def fill(folder: Path) -> None:  # swapped in whole; index.txt: DVC keeps no empty folder
        for name in (m for m in params.arithmetic.models if m in params.models):
            t = time.perf_counter()
            model, _ = load_model(Path(models_dir) / name / "model.pt", name)
            if not (hasattr(model, "generate") or (hasattr(model, "encode")
                                                    and hasattr(model, "decode"))):
                out["models"][name] = {"skipped": "no code space (neither encoder+decoder "
                                                  "nor generator)"}
                continue
            r = _one(name, model, train, test, predict, params.arithmetic,
                     meta["num_classes"], params.seed, folder)
            r["seconds"] = time.perf_counter() - t
            out["models"][name] = r
            log.info("%s: class success %s (random %s), ink +v %+.4f (random %+.4f)", name,
                     r["class"].get("success"), r["class"].get("random"),
                     r["thickness"]["ink_change_plus"], r["thickness"]["ink_change_random"])
        lines = [f"{m}: {r.get('figure', 'skipped: ' + r.get('skipped', ''))}"
                 for m, r in out["models"].items()]
        lines += [f"{m}: not selected" for m in out["not_selected"]]
        (folder / "index.txt").write_text("\n".join(lines or ["no model"]) + "\n")

    write_dir_atomically(Path(figures_dir), fill)
    out["seconds"] = time.perf_counter() - t0
    write_json(out_json, out)
    tracking.log_stage_run(params.mlflow, name="arithmetic",
                           params={"arithmetic": params.arithmetic.model_dump()}, result=out,
                           artifacts=[out_json, figures_dir])
    return out
