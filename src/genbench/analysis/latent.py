"""Pictures of the latent space (Bios 740 "gaps in the AE latent space"): codes of test images
coloured by class — the code itself when it is 2-D, else its 2-D PCA projection — and, for a
2-D latent, the images decoded on a regular grid over the region the codes occupy. The evaluator's
confidence on the grid measures the gaps: where no training code lies, an AE decodes non-digits;
the VAE's KL term fills its prior."""

from __future__ import annotations

from typing import Callable

import torch


def project_2d(codes: torch.Tensor) -> tuple[torch.Tensor, str]:
    """(N, J) -> (N, 2) and a label: the codes if J ≤ 2, else their top-2 principal components."""
    if codes.shape[1] == 1:
        return torch.cat([codes, torch.zeros_like(codes)], 1), "h₁ (1-D code)"
    if codes.shape[1] == 2:
        return codes, "h₁, h₂"
    c = codes.double() - codes.double().mean(0)
    _, _, vt = torch.linalg.svd(c, full_matrices=False)
    return (c @ vt[:2].T).float(), f"top-2 principal components of the {codes.shape[1]}-D code"


def grid_codes(codes: torch.Tensor, n: int, lo: float = 0.01, hi: float = 0.99) -> torch.Tensor:
    """An n×n grid (n*n, 2) over the [lo, hi] quantile box of 2-D codes (N, 2), row-major from the
    top (largest h₂) so it reads like the scatter."""
    q = torch.quantile(codes.double(), torch.tensor([lo, hi], dtype=torch.double), dim=0)
    a = torch.linspace(float(q[0, 0]), float(q[1, 0]), n)
    b = torch.linspace(float(q[1, 1]), float(q[0, 1]), n)
    bb, aa = torch.meshgrid(b, a, indexing="ij")
    return torch.stack([aa.flatten(), bb.flatten()], 1)


@torch.no_grad()
def decoded_grid(decode: Callable[[torch.Tensor], torch.Tensor], codes: torch.Tensor, n: int
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Grid codes (n*n, 2) and their decoded images (n*n, C, H, W) in [0, 1]."""
    g = grid_codes(codes, n)
    return g, decode(g.to(codes.dtype)).clamp(0, 1)
