"""The measurements that define the modern GANs (issue 18), as pure functions of a generator
and the evaluator; :mod:`genbench.pipeline.gan_studies` runs them per model.

- :func:`perceptual_path_length`: Karras et al. 2019 §3.2 / Appendix: PPL = E[d(G(i(t)),
  G(i(t + ε))) / ε²], t ~ U(0, 1), ``full`` paths between two latents; slerp in Z (the prior is a
  sphere), lerp in W; the same noise for the two images of a pair; the mean over the pairs
  between the 1st and 99th percentiles (the authors' filter). The distance is the squared
  Euclidean distance of the evaluator's features (our perceptual space: no VGG/LPIPS weights).
- :func:`mixing_sources`: which source a style-mixed image's class follows.
- :func:`attribute_agreement`: does a caption's attribute word show in the generated image.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

Images = Callable[..., torch.Tensor]


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation of the directions of a and b (Shoemake 1985, as the StyleGAN
    PPL code: inputs normalised). (B, D), (B, D), (B,) -> (B, D) unit vectors"""
    a = a / a.norm(dim=1, keepdim=True)
    b = b / b.norm(dim=1, keepdim=True)
    d = (a * b).sum(1, keepdim=True).clamp(-1, 1)
    p = t[:, None] * torch.acos(d)
    c = b - d * a
    c = c / c.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return a * torch.cos(p) + c * torch.sin(p)


def lerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return a + t[:, None] * (b - a)


def filtered_mean(d: torch.Tensor, lo: float = 0.01, hi: float = 0.99) -> float:
    """Mean of the values between the ``lo`` and ``hi`` quantiles (inclusive)."""
    d = d.double()
    a, b = torch.quantile(d, torch.tensor([lo, hi], dtype=torch.float64))
    keep = (d >= a) & (d <= b)
    return float(d[keep].mean())


@torch.no_grad()
def perceptual_path_length(interpolate: Callable, endpoints: tuple[torch.Tensor, torch.Tensor],
                           render: Callable[[torch.Tensor, int], torch.Tensor],
                           features: Callable[[torch.Tensor], torch.Tensor], eps: float,
                           t: torch.Tensor, batch: int = 250) -> dict:
    """PPL of one space: ``interpolate(a, b, t)`` (slerp in Z, lerp in W) between the rows of
    ``endpoints``; ``render(points, pair_offset)`` -> images in [0, 1] (it must use the same
    noise for the images at t and t + ε of one pair); ``features`` -> (B, F).
    -> {"ppl": filtered mean, "ppl_unfiltered", "ppl_median", "pairs"}"""
    a, b = endpoints
    out = []
    for i in range(0, len(a), batch):
        sl = slice(i, i + batch)
        p0 = interpolate(a[sl], b[sl], t[sl])
        p1 = interpolate(a[sl], b[sl], t[sl] + eps)
        f0 = features(render(p0, i)).double()
        f1 = features(render(p1, i)).double()
        out.append((f0 - f1).pow(2).sum(1) / eps ** 2)
    d = torch.cat(out)
    return {"ppl": filtered_mean(d), "ppl_unfiltered": float(d.mean()),
            "ppl_median": float(d.median()), "pairs": len(d)}


def mixing_sources(pred_coarse: torch.Tensor, pred_fine: torch.Tensor, pred_mixed: torch.Tensor
                   ) -> dict:
    """Over pairs whose sources the evaluator reads as different digits: the share of mixed
    images read as the coarse source's digit, as the fine source's, and as neither."""
    diff = pred_coarse != pred_fine
    n = int(diff.sum())
    if n == 0:
        return {"pairs_different": 0}
    pc, pf, pm = pred_coarse[diff], pred_fine[diff], pred_mixed[diff]
    return {"pairs_different": n, "class_from_coarse": float((pm == pc).float().mean()),
            "class_from_fine": float((pm == pf).float().mean()),
            "class_from_neither": float(((pm != pc) & (pm != pf)).float().mean())}


def correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    """Pearson correlation of two (N,) tensors."""
    a, b = a.double() - a.double().mean(), b.double() - b.double().mean()
    return float((a * b).sum() / (a.norm() * b.norm()).clamp_min(1e-300))


def attribute_agreement(measured_levels: torch.Tensor, asked: int) -> float:
    """Share of images whose measured level of an attribute is the one the caption asked."""
    return float((measured_levels == asked).float().mean())
