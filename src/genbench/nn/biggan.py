"""Layers of BigGAN (Brock et al. 2019, "Large Scale GAN Training for High Fidelity Natural
Image Synthesis"): class-conditional batch norm fed by a shared class embedding and a chunk of
the hierarchical latent, the projection discriminator's class term (Miyato & Koyama 2018), the
orthogonal regulariser and the truncation trick."""

from __future__ import annotations

import torch
from torch import nn


class ConditionalBatchNorm2d(nn.Module):
    """Batch norm whose gain and bias are linear in a conditioning vector (BigGAN §3: the
    shared class embedding concatenated with this block's chunk of z): y = (1 + γ(c)) x̂ + β(c).
    (B, C, H, W), (B, D) -> (B, C, H, W)"""

    def __init__(self, channels: int, cond_dim: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=False)
        self.gain = nn.Linear(cond_dim, channels, bias=False)
        self.bias = nn.Linear(cond_dim, channels, bias=False)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        g = 1 + self.gain(c)[:, :, None, None]
        return g * self.bn(x) + self.bias(c)[:, :, None, None]


def projection_logit(features: torch.Tensor, y: torch.Tensor, linear: nn.Linear,
                     embed: nn.Embedding) -> torch.Tensor:
    """Projection discriminator (Miyato & Koyama 2018, eq. 3): ψ(φ(x)) + ⟨embed(y), φ(x)⟩.
    features (B, F), y (B,) -> (B,)"""
    return linear(features).squeeze(1) + (embed(y) * features).sum(1)


def orthogonal_penalty(weights: list[torch.Tensor]) -> torch.Tensor:
    """BigGAN's orthogonal regularisation (§3.1, eq. 3 without β): Σ_W ‖W Wᵀ ⊙ (1 − I)‖²_F
    with W a weight reshaped to (out, rest): the filters are pushed towards orthogonality
    without constraining their norms, which makes G amenable to truncation.

    Computed as ‖WᵀW‖²_F − Σ_i ‖w_i‖⁴ (tr((WWᵀ)²) = tr((WᵀW)²): the same number from the
    smaller Gram matrix; a (3136, 32) projection needs a 32×32 one, not 3136×3136)."""
    total = weights[0].new_zeros(())
    for w in weights:
        w = w.flatten(1)  # (out, rest)
        gram = w.t() @ w if w.shape[0] > w.shape[1] else w @ w.t()  # the smaller Gram
        total = total + gram.pow(2).sum() - w.pow(2).sum(1).pow(2).sum()
    return total


def truncated_normal(n: int, dim: int, psi: float | None,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """The truncation trick (BigGAN §3.1): z ~ N(0, I) with every entry whose magnitude exceeds
    the threshold ``psi`` resampled until none does; ``psi`` None: no truncation. (n, dim)"""
    z = torch.randn(n, dim, generator=generator)
    if psi is None:
        return z
    if psi <= 0:
        raise ValueError(f"truncation threshold must be > 0, got {psi}")
    bad = z.abs() > psi
    while bad.any():  # each pass redraws the out-of-range entries only
        z[bad] = torch.randn(int(bad.sum()), generator=generator)
        bad = z.abs() > psi
    return z
