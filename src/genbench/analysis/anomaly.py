"""Anomaly detection by reconstruction error (seeds 000/001), one-class protocol: a model trained
on the images of one class scores every test image by its reconstruction error; AUROC measures
how well the score ranks the other classes (anomalies) above the normal class."""

from __future__ import annotations

from typing import Callable

import torch


def recon_error(reconstruct: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
                batch_size: int = 500) -> torch.Tensor:
    """Per-image mean squared reconstruction error. (B, C, H, W) -> (B,)"""
    with torch.no_grad():
        return torch.cat([(reconstruct(b) - b).pow(2).flatten(1).mean(1)
                          for b in x.split(batch_size)])


def auroc(scores: torch.Tensor, positive: torch.Tensor) -> float:
    """Area under the ROC curve = P(score of a positive > score of a negative), ties counted
    half (the Mann–Whitney U statistic over n⁺·n⁻). scores (N,), positive (N,) bool."""
    s = scores.double()
    pos, neg = s[positive], s[~positive]
    if len(pos) == 0 or len(neg) == 0:
        raise ValueError("AUROC needs both positives and negatives")
    # mid-ranks handle ties exactly: U = Σ rank(pos) - n⁺(n⁺+1)/2
    order = torch.argsort(s)
    sorted_s = s[order]
    ranks = torch.empty_like(s)
    ranks[order] = torch.arange(1, len(s) + 1, dtype=s.dtype)
    uniq, inv = torch.unique(sorted_s, return_inverse=True)
    mid = torch.zeros(len(uniq), dtype=s.dtype).index_add_(0, inv, ranks[order])
    mid /= torch.bincount(inv, minlength=len(uniq)).to(s.dtype)
    ranks[order] = mid[inv]
    n_pos, n_neg = len(pos), len(neg)
    u = ranks[positive].sum() - n_pos * (n_pos + 1) / 2
    return float(u / (n_pos * n_neg))
