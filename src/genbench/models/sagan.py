"""Self-Attention GAN (Zhang et al. 2019; Bios 740 ch. 6 "Self-Attention GANs ... improves
global structure modeling"): a DCGAN-shaped generator and discriminator with a self-attention
block at 14×14 in both (:class:`genbench.nn.attention.SelfAttention2d`), spectral normalisation
of every weight of D and, with ``gen_spectral_norm`` (the paper's choice), of G (transposed
convolutions included), the hinge loss, and the two time-scale update rule with the paper's
learning rates (G 1e-4, D 4e-4, Adam β = (0, 0.9)).

``attention: false`` is the ablation: the same networks without the attention block (the
claim ``sagan_attention_helps`` compares the two over seeds).
"""

from __future__ import annotations

from math import prod
from typing import Literal

import torch
from pydantic import Field
from torch import nn

from genbench.core import losses as L
from genbench.models.base import Batch
from genbench.models.registry import register
from genbench.models.two_player import TwoPlayerConfig, TwoPlayerGAN
from genbench.nn.attention import SelfAttention2d
from genbench.nn.gan import apply_spectral_norm


class SAGenerator(nn.Module):
    """z -> (C, H, W) in [-1, 1]: project to (2w, H/4, W/4), two ×2 transposed convolutions,
    attention after the first (at H/2)."""

    def __init__(self, z_dim: int, shape: tuple[int, int, int], width: int, attention: bool):
        super().__init__()
        c, h, w = shape
        self.start = (2 * width, h // 4, w // 4)
        self.project = nn.Linear(z_dim, prod(self.start))
        self.up1 = nn.Sequential(nn.BatchNorm2d(2 * width), nn.ReLU(True),
                                 nn.ConvTranspose2d(2 * width, width, 4, 2, 1),  # (B, w, H/2, W/2)
                                 nn.BatchNorm2d(width), nn.ReLU(True))
        self.attn = SelfAttention2d(width) if attention else nn.Identity()
        self.up2 = nn.ConvTranspose2d(width, c, 4, 2, 1)  # (B, C, H, W)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.up1(self.project(z).view(-1, *self.start))
        return torch.tanh(self.up2(self.attn(h)))


class SADiscriminator(nn.Module):
    """(C, H, W) -> logits (B,): two stride-2 convolutions, attention between them (at H/2)."""

    def __init__(self, shape: tuple[int, int, int], width: int, attention: bool,
                 dropout: float = 0.0):
        super().__init__()
        c, h, w = shape
        self.down1 = nn.Sequential(nn.Conv2d(c, width, 4, 2, 1), nn.LeakyReLU(0.1, True),
                                   nn.Dropout(dropout))
        self.attn = SelfAttention2d(width) if attention else nn.Identity()
        self.down2 = nn.Sequential(nn.Conv2d(width, 2 * width, 4, 2, 1), nn.LeakyReLU(0.1, True),
                                   nn.Dropout(dropout), nn.Flatten())  # (B, 2w·H/4·W/4)
        self.head = nn.Linear(2 * width * (h // 4) * (w // 4), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.down2(self.attn(self.down1(x)))).squeeze(1)


@register("sagan")
class SAGAN(TwoPlayerGAN):
    # Zhang et al. 2019: hinge loss, TTUR (G 1e-4, D 4e-4), Adam (0, 0.9): in the conf files
    class Config(TwoPlayerConfig):
        kind: Literal["sagan"] = "sagan"
        z_dim: int = Field(default=64, ge=1)
        width: int = Field(default=32, ge=8)
        attention: bool = True
        gen_spectral_norm: bool = False  # SAGAN normalises G's layers too; SN-GAN: D only
        d_dropout: float = Field(default=0.0, ge=0, lt=1)
        loss: Literal[tuple(L.GAN_LOSSES)] = "hinge"  # type: ignore[valid-type]

    def __init__(self, cfg: Config, shape, num_classes):
        super().__init__(cfg, shape, num_classes)
        if shape[1] % 4 or shape[2] % 4:
            from genbench.core.errors import ConfigError

            raise ConfigError(f"sagan: H and W must be divisible by 4, got {shape[1]}x{shape[2]}")
        self.gen = SAGenerator(cfg.z_dim, self.shape, cfg.width, cfg.attention)
        if cfg.gen_spectral_norm:
            apply_spectral_norm(self.gen)
        self.disc = apply_spectral_norm(SADiscriminator(self.shape, cfg.width, cfg.attention,
                                                        cfg.d_dropout))
        self.d_loss, self.g_loss = L.GAN_LOSSES[cfg.loss]

    def losses(self, batch: Batch, group: str) -> dict[str, torch.Tensor]:
        z = torch.randn(len(batch.x), self.cfg.z_dim, device=batch.x.device)
        if group == "disc":
            real, fake = self.disc(batch.x), self.disc(self.gen(z).detach())
            return {"loss": self.d_loss(real, fake),
                    "acc_real": (real > 0).float().mean().detach(),
                    "acc_fake": (fake < 0).float().mean().detach()}
        return {"loss": self.g_loss(self.disc(self.gen(z)))}

    def attention_gammas(self) -> dict[str, float]:
        """γ of each attention block: how much the trained networks use attention."""
        return {name: float(m.attn.gamma.detach()) for name, m in (("gen", self.gen), ("disc", self.disc))
                if isinstance(m.attn, SelfAttention2d)}

    def summary_metrics(self) -> dict[str, float]:
        return {f"attention_gamma_{k}": v for k, v in self.attention_gammas().items()}

    def latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.randn(n, self.cfg.z_dim, generator=generator)

    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """G(z) as [0, 1] images. (n, z_dim) -> (n, C, H, W)"""
        return (self.gen(z) + 1) / 2

    def _sample(self, n, generator, labels=None):
        return self.generate(self.latent(n, generator))
