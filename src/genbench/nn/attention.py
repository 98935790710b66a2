"""Self-attention over the positions of a feature map (SAGAN, Zhang et al. 2019, §3 eq. 1-3):
every position attends to every other, so a generator can make distant parts of an image
agree and a discriminator can check that they do (convolutions see only a local window)."""

from __future__ import annotations

import torch
from torch import nn


class SelfAttention2d(nn.Module):
    """y = x + γ · v(Σ_j softmax_j(f(x_i)ᵀ g(x_j)) h(x_j)), γ initialised to 0 (the network
    first relies on local cues, then learns how much non-local evidence to use).

    Channels as in the authors' code: query/key C/8, value C/2 projected back to C by v; keys
    and values max-pooled 2× (the same code; a quarter of the pairs, no visible loss). The last
    attention map is kept on ``self.last_map`` when ``keep_map`` is set (the figures)."""

    def __init__(self, channels: int, pool: bool = True):
        super().__init__()
        c8, c2 = max(1, channels // 8), max(1, channels // 2)
        self.f = nn.Conv2d(channels, c8, 1, bias=False)  # query
        self.g = nn.Conv2d(channels, c8, 1, bias=False)  # key
        self.h = nn.Conv2d(channels, c2, 1, bias=False)  # value
        self.v = nn.Conv2d(c2, channels, 1, bias=False)
        self.pool = nn.MaxPool2d(2) if pool else nn.Identity()
        self.gamma = nn.Parameter(torch.zeros(()))
        self.keep_map = False
        self.last_map: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, C, H, W)
        b, _, hh, ww = x.shape
        q = self.f(x).flatten(2)  # (B, C/8, N)
        k = self.pool(self.g(x)).flatten(2)  # (B, C/8, M), M = N/4 when pooled
        val = self.pool(self.h(x)).flatten(2)  # (B, C/2, M)
        attn = torch.softmax(q.transpose(1, 2) @ k, dim=-1)  # (B, N, M), rows sum to 1
        if self.keep_map:
            self.last_map = attn.detach()
        o = (val @ attn.transpose(1, 2)).view(b, -1, hh, ww)  # (B, C/2, H, W)
        return x + self.gamma * self.v(o)
