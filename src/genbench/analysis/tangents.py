"""Tangent vectors of the learned manifold (seed 002 "Getting tangent vectors", after Rifai et
al. 2011): the SVD of the encoder Jacobian J(x) = ∂h/∂x. Its right-singular vectors with large
singular values are the input directions the code is sensitive to — the local tangent plane; a
contractive encoder concentrates the spectrum in a few of them."""

from __future__ import annotations

from typing import Callable

import torch

from genbench.nn.jacobian import jacobian


def tangent_spectrum(encode: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
                     chunk: int = 25) -> tuple[torch.Tensor, torch.Tensor]:
    """Singular values (B, k) in decreasing order and right-singular vectors (B, k, D) of the
    encoder Jacobian at each x (B, C, H, W); k = min(J, D)."""
    s_all, v_all = [], []
    for i in range(0, len(x), chunk):  # bounds the (chunk, J, D) Jacobian in memory
        jac = jacobian(encode, x[i:i + chunk]).detach()  # (b, J, D)
        _, s, vh = torch.linalg.svd(jac, full_matrices=False)  # s (b, k), vh (b, k, D)
        s_all.append(s)
        v_all.append(vh)
    return torch.cat(s_all), torch.cat(v_all)


def spectrum_summary(s: torch.Tensor) -> dict[str, float]:
    """Scalar summaries of singular values (B, k): the contraction ‖J‖_F², the share of it in
    the top singular direction and top 5, and the effective rank exp(entropy of s²/Σs²)."""
    s2 = s.double().pow(2)
    total = s2.sum(1).clamp_min(1e-300)
    p = s2 / total[:, None]
    entropy = -(p * p.clamp_min(1e-300).log()).sum(1)
    return {"jacobian_frobenius_sq": float(total.mean()),
            "top1_share": float(p[:, 0].mean()),
            "top5_share": float(p[:, :5].sum(1).mean()),
            "effective_rank": float(entropy.exp().mean())}
