"""Mode collapse on 2-D mixtures (seeds 002/003/004 "mode collapse"; the protocol of VEEGAN,
Srivastava et al. 2017, and PacGAN, Lin et al. 2018): a ring of 8 Gaussians (radius 2, σ 0.02)
and a 5×5 grid (spacing 2, σ 0.05). A generated sample is *high quality* if it lies within 3σ
of a mode; a mode is *captured* if at least ``min_samples`` high-quality samples are closest to
it."""

from __future__ import annotations

import math

import torch

MIXTURES = {
    # name: (mode centres (M, 2), σ)
    "ring": (torch.tensor([[2 * math.cos(2 * math.pi * k / 8), 2 * math.sin(2 * math.pi * k / 8)]
                           for k in range(8)]), 0.02),
    "grid": (torch.tensor([[float(i), float(j)] for i in range(-4, 5, 2)
                           for j in range(-4, 5, 2)]), 0.05),
}


def sample_mixture(name: str, n: int, generator: torch.Generator) -> tuple[torch.Tensor,
                                                                            torch.Tensor]:
    """n points (n, 2) drawn uniformly over the modes, and their mode index (n,)."""
    centres, sigma = MIXTURES[name]
    k = torch.randint(len(centres), (n,), generator=generator)
    return centres[k] + sigma * torch.randn(n, 2, generator=generator), k


def mode_metrics(samples: torch.Tensor, name: str, min_samples: int) -> dict:
    """Modes captured, fraction of high-quality samples, and the per-mode counts. (N, 2)"""
    centres, sigma = MIXTURES[name]
    d = torch.cdist(samples.double(), centres.double())  # (N, M)
    dist, nearest = d.min(1)
    good = dist <= 3 * sigma
    counts = torch.bincount(nearest[good], minlength=len(centres))
    return {"modes": len(centres), "modes_captured": int((counts >= min_samples).sum()),
            "high_quality": float(good.float().mean()), "counts": counts.tolist()}
