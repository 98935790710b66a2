"""Code-space arithmetic (Wu's *Unsupervised Learning*; *Lecture 16*: vector arithmetic in a
GAN's latent space, after Radford et al. 2016 and Larsen et al. 2016): an attribute vector is
the difference of the mean codes of two groups of images,

    v(a → b) = mean code of class b − mean code of class a,
    v(thin → thick) = mean code of the thickest quarter − of the thinnest (by ink),

added to *new* codes (not used for the means) and decoded. Judged by the evaluator: the share
of class-a codes that land in class b after + v(a → b) (success), against a random vector of
the same norm (the baseline: a code moved as far in no chosen direction); for thickness, the
change of ink (mean pixel value) and the share keeping their class, against the same baseline.
"""

from __future__ import annotations

from typing import Callable

import torch


def ink(x: torch.Tensor) -> torch.Tensor:
    """Mean pixel value per image, the stroke-thickness measure. (N, C, H, W) [0, 1] -> (N,)"""
    return x.flatten(1).mean(1)


def class_means(z: torch.Tensor, labels: torch.Tensor, k: int) -> torch.Tensor:
    """Mean code per class (k, J); NaN rows for absent classes."""
    out = torch.full((k, z.shape[1]), float("nan"), dtype=z.dtype)
    for c in range(k):
        if (labels == c).any():
            out[c] = z[labels == c].mean(0)
    return out


def random_like(v: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A random direction (uniform on the sphere) with the norm of ``v``. (J,)"""
    r = torch.randn(v.shape, generator=generator, dtype=v.dtype)
    return r / r.norm() * v.norm()


def class_transfer(decode: Callable, predict: Callable, z_new: torch.Tensor,
                   y_new: torch.Tensor, means: torch.Tensor, apply: int,
                   generator: torch.Generator) -> dict:
    """For every ordered pair a ≠ b with both means: the share of (up to ``apply``) new class-a
    codes predicted b after + v(a → b), and after + a random vector of the same norm.
    ``predict`` maps [0, 1] images to classes; ``decode`` codes to [0, 1] images."""
    k = len(means)
    success = torch.full((k, k), float("nan"), dtype=torch.float64)
    rand = torch.full((k, k), float("nan"), dtype=torch.float64)
    for a in range(k):
        za = z_new[y_new == a][:apply]
        if len(za) == 0 or means[a].isnan().any():
            continue
        for b in range(k):
            if a == b or means[b].isnan().any():
                continue
            v = means[b] - means[a]
            success[a, b] = (predict(decode(za + v)) == b).double().mean()
            rand[a, b] = (predict(decode(za + random_like(v, generator))) == b).double().mean()
    ok = ~success.isnan()
    return {"success": float(success[ok].mean()) if ok.any() else float("nan"),
            "random": float(rand[ok].mean()) if ok.any() else float("nan"),
            "pairs": int(ok.sum()), "matrix": success.nan_to_num(-1).tolist()}


def thickness(decode: Callable, predict: Callable, z: torch.Tensor, ink_z: torch.Tensor,
              z_new: torch.Tensor, q: float, generator: torch.Generator
              ) -> tuple[dict, torch.Tensor]:
    """v(thin → thick) from the ``q`` tails of ``ink_z`` over the codes ``z``, applied (±) to
    ``z_new``: mean ink change and the share keeping its class, vs a random vector of the same
    norm. Returns the numbers and v."""
    lo, hi = torch.quantile(ink_z.double(), torch.tensor([q, 1 - q], dtype=torch.float64))
    v = z[ink_z >= hi].mean(0) - z[ink_z <= lo].mean(0)
    r = random_like(v, generator)
    x0 = decode(z_new)
    c0, i0 = predict(x0), ink(x0)
    out = {}
    for name, d in (("plus", v), ("minus", -v), ("random", r)):
        x = decode(z_new + d)
        out[f"ink_change_{name}"] = float((ink(x) - i0).mean())
        out[f"class_kept_{name}"] = float((predict(x) == c0).double().mean())
    out["ink_before"] = float(i0.mean())
    out["vector_norm"] = float(v.norm())
    return out, v
