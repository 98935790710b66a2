"""Exact encoder Jacobians by batched autograd (torch.func), differentiable w.r.t. the
parameters: the contractive penalty trains through them, the tangent-vector analysis takes
their SVD."""

from __future__ import annotations

from typing import Callable

import torch
from torch.func import jacrev, vmap


def jacobian(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """∂fn(x)/∂x per example. fn maps (B, *in) -> (B, J); x (B, *in) -> (B, J, prod(in))."""
    shape = x.shape[1:]

    def single(xf: torch.Tensor) -> torch.Tensor:  # (D,) -> (J,)
        return fn(xf.view(1, *shape)).squeeze(0)

    return vmap(jacrev(single))(x.flatten(1))


def jacobian_frobenius_sq(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor
                          ) -> torch.Tensor:
    """Σ_kj (∂h_k/∂x_j)² per example (the CAE penalty of seed 001). (B, ...) -> (B,)"""
    return jacobian(fn, x).pow(2).sum((1, 2))
