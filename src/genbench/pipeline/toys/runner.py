"""Stage ``toys``: seed 000's line GAN and the mode-collapse mixtures; figures in one folder,
numbers in one metrics JSON."""

from __future__ import annotations

import time
from pathlib import Path

import torch

from genbench.core.config import ToysView
from genbench.core.io import save_figure, write_dir_atomically, write_json
from genbench.pipeline.toys import line2d, mixtures


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def line_figure(path: Path, model: line2d.LineGAN, res: dict) -> None:
    """The slide's picture after every update: the data line (w), the generator's line (v,
    light to dark over time) and the discriminator's weights; the angle between v and w."""
    plt = _plt()
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(9, 4))
    w = torch.tensor(line2d.W_DATA)
    ax.plot([-2 * w[0], 2 * w[0]], [-2 * w[1], 2 * w[1]], "k-", lw=3, label="data x = h·w")
    gens = [h for h in model.history if h["after"] in ("start", "gen")]
    cmap = plt.get_cmap("viridis")
    for i, h in enumerate(gens):
        v = h["v"]
        ax.plot([-2 * v[0], 2 * v[0]], [-2 * v[1], 2 * v[1]], color=cmap(i / max(1, len(gens) - 1)),
                lw=1, label="generator x = h·v (start → end)" if i in (0, len(gens) - 1) else None)
    ds = [h["d"] for h in model.history if h["after"] in ("start", "disc")]
    ax.quiver([0] * len(ds), [0] * len(ds), [d[0] for d in ds], [d[1] for d in ds],
              color=[cmap(i / max(1, len(ds) - 1)) for i in range(len(ds))], angles="xy",
              scale_units="xy", scale=1, width=0.006, alpha=0.6)
    ax.set_aspect("equal")
    ax.set_xlim(-2.2, 2.2)
    ax.set_ylim(-2.2, 2.2)
    ax.legend(fontsize=7, loc="lower left")
    ax.set_title("lines after each update; arrows: D's weights", fontsize=9)
    ax2.plot(res["angles_deg"], marker="o", ms=3)
    ax2.set_xlabel("generator update")
    ax2.set_ylabel("angle between v and w (degrees)")
    ax2.set_title("v rotates toward w", fontsize=9)
    save_figure(path, fig)
    plt.close(fig)


def mixture_figure(path: Path, name: str, data: torch.Tensor, samples: dict[str, torch.Tensor],
                   results: dict[str, dict]) -> None:
    plt = _plt()
    centres, _ = mixtures.MIXTURES[name]
    fig, axes = plt.subplots(1, len(samples), figsize=(3.1 * len(samples), 3.2), squeeze=False)
    lim = float(centres.abs().max()) + 1.2
    for ax, (variant, s) in zip(axes[0], samples.items()):
        ax.scatter(data[:2000, 0], data[:2000, 1], s=2, c="0.75")
        ax.scatter(s[:, 0], s[:, 1], s=2, c="C0", alpha=0.5)
        ax.scatter(centres[:, 0], centres[:, 1], s=12, c="red", marker="x")
        r = results[variant]
        ax.set_title(f"{variant}: {r['modes_captured']}/{r['modes']} modes, "
                     f"{100 * r['high_quality']:.0f}% HQ", fontsize=8)
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"{name}: real (grey) and 2,500 generated (blue) points", fontsize=9)
    save_figure(path, fig)
    plt.close(fig)


def run_mixture(params: ToysView, name: str, variant: str, data: torch.Tensor,
                seed: int) -> tuple[dict, torch.Tensor]:
    """Train one GAN variant on one mixture through the engine with ``seed``; score its
    samples."""
    from genbench.core import engine
    from genbench.core import transforms as T
    from genbench.core.data import Split
    from genbench.models.registry import model_class, model_config

    cfg = params.toys.mixtures
    mcfg = model_config(variant, cfg.models[variant],
                        prefix=f"toys.mixtures.models.{variant}")
    torch.manual_seed(seed)
    model = model_class(mcfg.kind)(mcfg, (1, 1, 2), 1)
    steps = min(cfg.steps, params.budget.max_steps or cfg.steps)
    quiet = _toy_engine(params)
    t0 = time.perf_counter()
    engine.fit(model, Split(data.view(-1, 1, 1, 2), torch.zeros(len(data), dtype=torch.long)),
               transform=T.get("raw"), steps=steps, batch_size=cfg.batch_size, seed=seed,
               engine=quiet, name=f"{name}/{variant}@{seed}")
    model.cpu().eval()
    with torch.no_grad():  # unclamped: the toy data are not images
        s = model._sample(cfg.samples, torch.Generator().manual_seed(seed)).view(-1, 2)
    out = mixtures.mode_metrics(s, name, cfg.min_samples)
    if mcfg.loss in ("non_saturating", "minimax"):  # D(x) is a probability: compare with D*
        real, _ = mixtures.sample_mixture(name, cfg.samples,
                                          torch.Generator().manual_seed(seed + 1_000_003))
        out.update(discriminator_value(model, real, s, cfg.batch_size))
    out.update(steps=steps, seconds=time.perf_counter() - t0)
    return out, s


@torch.no_grad()
def discriminator_value(model, real: torch.Tensor, fake: torch.Tensor, batch_size: int) -> dict:
    """The trained discriminator against Goodfellow et al. (2014), Proposition 1 and Theorem 1
    (seed 003 "optimal discriminator"): where p_g = p_data, D*(x) = 1/2 everywhere and the value
    V(D, G) = E log D(x) + E log(1 - D(G(z))) = -log 4. ``real``: fresh data points (N, 2),
    ``fake``: the generator's samples (N, 2); D is applied in training-sized batches (minibatch
    discrimination looks at the whole batch)."""
    import torch.nn.functional as F

    def logits(x):  # (N,)
        x = x.view(-1, 1, 1, 2)
        return torch.cat([model.disc(b, None)[0].float().view(-1) for b in x.split(batch_size)])

    lr, lf = logits(real), logits(fake)
    value = (-F.softplus(-lr)).mean() + (-F.softplus(lf)).mean()  # log σ(l), log(1 - σ(l))
    return {"d_real": float(torch.sigmoid(lr).mean()), "d_fake": float(torch.sigmoid(lf).mean()),
            "value": float(value)}


def _toy_engine(params: ToysView):
    """fp32 whatever ``train.precision`` says (the view has no precision): 2-D points through
    128-unit MLPs gain nothing from bf16 matmuls, and the 3σ = 0.06 mode test needs the fp32
    resolution."""
    return params.train.fp32().model_copy(update={"progress": False})


def mixtures_for_seed(params: ToysView, seed: int) -> tuple[dict, dict]:
    """Every variant on every mixture with one seed (data, init, batches and samples):
    ({mixture: {variant: metrics}}, {mixture: (data, {variant: samples})})."""
    cfg = params.toys.mixtures
    results, drawn = {}, {}
    for name in cfg.datasets:
        data, _ = mixtures.sample_mixture(name, cfg.train_points,
                                          torch.Generator().manual_seed(seed))
        res, samples = {}, {}
        for variant in cfg.models:
            res[variant], samples[variant] = run_mixture(params, name, variant, data, seed)
        results[name], drawn[name] = res, (data, samples)
    return results, drawn


def toys(params: ToysView, out_metrics, out_dir) -> dict:
    """The line GAN and the mixtures with ``params.seed`` (figures; ``mixtures`` in the JSON),
    then the mixtures again with each extra seed (``seeds: {seed: {mixtures: ...}}``: a
    mode-collapse claim is judged over all of them, as the image models' claims are)."""
    cfg = params.toys
    quiet = _toy_engine(params)
    result: dict = {"mixtures": {}}

    def fill(folder: Path) -> None:  # the figures go to a temp folder swapped in at the end
        lc = cfg.line2d
        model, line = line2d.run(min(lc.steps, params.budget.max_steps or lc.steps), lc.lr,
                                 lc.batch_size, params.seed, quiet, lc.loss)
        line_figure(folder / "line2d.png", model, line)
        result["line2d"] = line
        result["mixtures"], drawn = mixtures_for_seed(params, params.seed)
        for name, (data, samples) in drawn.items():
            mixture_figure(folder / f"{name}.png", name, data, samples, result["mixtures"][name])
        if params.seeds:
            result["seeds"] = {str(s): {"mixtures": mixtures_for_seed(params, s)[0]}
                               for s in params.seeds}

    write_dir_atomically(Path(out_dir), fill)
    write_json(out_metrics, result)
    return result
