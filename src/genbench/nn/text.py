"""Text conditioning of the text-to-image GANs: the captions' bookkeeping
(:class:`CaptionSource`, rules in :mod:`genbench.core.captions`), a word-level text encoder and
StackGAN's conditioning augmentation."""

from __future__ import annotations

import torch
from torch import nn

from genbench.core import captions as C
from genbench.core.losses import kl_std_normal


class CaptionSource(nn.Module):
    """The train split's per-class attribute cut points and level frequencies (buffers: saved
    with the weights), and captions from them: of real images (training), or drawn for a label
    (sampling: each attribute level drawn from its class's train frequencies)."""

    def __init__(self, num_classes: int):
        super().__init__()
        self.num_classes = num_classes
        for name, lv in C.ATTRIBUTES.items():
            self.register_buffer(f"cuts_{name}", torch.zeros(num_classes, len(lv) - 1))
            self.register_buffer(f"freq_{name}", torch.full((num_classes, len(lv)), 1 / len(lv)))

    @property
    def thresholds(self) -> dict[str, torch.Tensor]:
        return {name: getattr(self, f"cuts_{name}") for name in C.ATTRIBUTES}

    def fit(self, x01: torch.Tensor, y: torch.Tensor) -> None:
        """Cut points and level frequencies from the train split ([0, 1] images)."""
        th = C.fit_thresholds(x01.cpu(), y.cpu(), self.num_classes)
        lv = C.levels(C.measure(x01.cpu()), y.cpu(), th)
        for i, (name, names) in enumerate(C.ATTRIBUTES.items()):
            getattr(self, f"cuts_{name}").copy_(th[name])
            counts = torch.zeros(self.num_classes, len(names))
            counts.index_put_((y.cpu(), lv[:, i]), torch.ones(len(y)), accumulate=True)
            getattr(self, f"freq_{name}").copy_(counts / counts.sum(1, keepdim=True).clamp_min(1))

    def of_images(self, x01: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(levels (B, A), tokens (B, LENGTH)) of real images and their labels."""
        return C.captions(x01, y, self.thresholds)

    def draw(self, y: torch.Tensor, generator: torch.Generator | None = None,
             fixed: dict[str, int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Captions for labels (B,): each attribute's level drawn (on the CPU, from
        ``generator``) from the label's train frequencies, or ``fixed`` {attribute: level}.
        -> (levels (B, A), tokens (B, LENGTH)) on y's device"""
        cols = []
        for name in C.ATTRIBUTES:
            if fixed and name in fixed:
                cols.append(torch.full((len(y),), fixed[name], dtype=torch.long))
            else:
                p = getattr(self, f"freq_{name}").cpu()[y.cpu()]  # (B, levels)
                cols.append(torch.multinomial(p, 1, generator=generator)[:, 0])
        lv = torch.stack(cols, 1).to(y.device)
        return lv, C.tokens(y, lv)


class TextEncoder(nn.Module):
    """Word embeddings read by a GRU; its last hidden state, linearly projected, embeds the
    caption (a word-level encoder, as Reed et al.'s word-CNN-RNN variant). (B, T) -> (B, D)"""

    def __init__(self, dim: int, embed: int = 32):
        super().__init__()
        self.embed = nn.Embedding(len(C.VOCAB), embed)
        self.rnn = nn.GRU(embed, dim, batch_first=True)
        self.out = nn.Linear(dim, dim)

    def forward(self, tok: torch.Tensor) -> torch.Tensor:
        _, h = self.rnn(self.embed(tok))  # h (1, B, dim)
        return self.out(h[0])


class ConditioningAugmentation(nn.Module):
    """StackGAN's conditioning augmentation (Zhang et al. 2017, §3.1): the text embedding gives
    a Gaussian N(μ(φ), diag σ²(φ)) and the generator is conditioned on a draw ĉ = μ + σ ⊙ ε; the
    KL divergence to N(0, I) is added to the generator's loss (smooth conditioning manifold).
    (B, D) -> (ĉ (B, c_dim), KL (B,))"""

    def __init__(self, dim: int, c_dim: int):
        super().__init__()
        self.fc = nn.Linear(dim, 2 * c_dim)

    def forward(self, phi: torch.Tensor, eps: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        mu, log_var = self.fc(torch.relu(phi)).chunk(2, 1)
        if eps is None:
            eps = torch.randn_like(mu)
        return mu + (0.5 * log_var).exp() * eps, kl_std_normal(mu, log_var)
