"""BigGAN at MNIST scale (Brock et al. 2019; Bios 740 ch. 6 "BigGAN: larger batch sizes and
orthogonal regularization"): a class-conditional GAN with BigGAN's mechanisms, each measurable
here:

- generator: a shared class embedding and a *hierarchical latent* — z is split into one chunk
  for the first linear layer and one per upsampling, where [embedding, chunk] feeds that
  layer's class-conditional batch norm (:mod:`genbench.nn.biggan`); optional self-attention at
  H/2 (SAGAN's block, as BigGAN has);
- discriminator: the projection term ψ(φ(x)) + ⟨embed(y), φ(x)⟩ (Miyato & Koyama 2018);
- orthogonal regularisation of G's weights (β = 1e-4, the paper's);
- the truncation trick at sampling: ``sample_truncation`` (null = none, the main samples), and
  the ``gan_studies`` stage's truncation curve over ``truncations`` (fidelity vs variety).

Scale and backbone, said plainly: the paper's batch of 2,048 is out of reach; batch 64. A
first version with BigGAN's residual blocks, spectral norm in G and D, hinge loss and Adam
(0, 0.999) collapsed in every ≤ 3-CPU-minute run (all classes onto one or two images; hinge or
non-saturating, lr 1e-4 to 4e-4, 1 or 2 D steps, ortho on or off, D dropout, attention, G
without spectral norm). The cause found afterwards: the projection's class embedding at
``nn.Embedding``'s N(0, 1) init makes ⟨embed(y), φ⟩ ~√F times ψ(φ) and drowns D's real/fake
term; it is now initialised like a linear layer's weights. The residual version was not rerun
with that init. The networks are the repository's DCGAN ones (they train ``cgan``): transposed
convolutions, a batch-norm + dropout 0.3 discriminator, non-saturating loss, Adam (0.5, 0.999),
lr 4e-4; ``spectral_norm: true`` adds BigGAN's normalisation of every weight.
"""

from __future__ import annotations

from math import prod
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import nn

from genbench.core import losses as L
from genbench.models.base import Batch
from genbench.models.registry import register
from genbench.models.two_player import TwoPlayerConfig, TwoPlayerGAN
from genbench.nn.attention import SelfAttention2d
from genbench.nn.biggan import (
    ConditionalBatchNorm2d,
    orthogonal_penalty,
    projection_logit,
    truncated_normal,
)
from genbench.nn.gan import apply_spectral_norm

BLOCKS = 2  # H/4 -> H/2 -> H


class BigGenerator(nn.Module):
    """[z0] -> (2w, H/4, W/4) -> ×2 transposed conv -> (w, H/2, W/2) -> ×2 -> (C, H, W), each
    upsampling preceded by conditional batch norm on [shared class embedding, its own chunk of
    z] (the hierarchical latent) and ReLU; optional self-attention at H/2."""

    def __init__(self, z_dim: int, shape: tuple[int, int, int], width: int, num_classes: int,
                 embed_dim: int, attention: bool):
        super().__init__()
        c, h, w = shape
        self.chunk = z_dim // (BLOCKS + 1)  # z = [z0 | z1 | z2]
        self.start = (2 * width, h // 4, w // 4)
        self.shared = nn.Embedding(num_classes, embed_dim)  # one embedding for every block
        self.project = nn.Linear(self.chunk, prod(self.start))
        cond = embed_dim + self.chunk
        self.bn1 = ConditionalBatchNorm2d(2 * width, cond)
        self.up1 = nn.ConvTranspose2d(2 * width, width, 4, 2, 1)  # (B, w, H/2, W/2)
        self.bn2 = ConditionalBatchNorm2d(width, cond)
        self.attn = SelfAttention2d(width) if attention else nn.Identity()
        self.up2 = nn.ConvTranspose2d(width, c, 4, 2, 1)  # (B, C, H, W)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """(B, z_dim), (B,) -> (B, C, H, W) in [-1, 1]."""
        zs = z[:, :self.chunk * (BLOCKS + 1)].split(self.chunk, 1)
        e = self.shared(y)  # (B, embed_dim)
        h = self.project(zs[0]).view(-1, *self.start)  # (B, 2w, H/4, W/4)
        h = self.up1(F.relu(self.bn1(h, torch.cat([e, zs[1]], 1))))
        h = F.relu(self.bn2(h, torch.cat([e, zs[2]], 1)))
        return torch.tanh(self.up2(self.attn(h)))


class ProjectionDiscriminator(nn.Module):
    """The DCGAN discriminator's features φ(x) (two stride-2 convolutions, batch norm on the
    second, dropout) and the projection head ψ(φ) + ⟨embed(y), φ⟩."""

    def __init__(self, shape: tuple[int, int, int], width: int, num_classes: int,
                 dropout: float = 0.0):
        super().__init__()
        c, h, w = shape
        self.features = nn.Sequential(
            nn.Conv2d(c, width, 4, 2, 1), nn.LeakyReLU(0.2, True), nn.Dropout(dropout),
            nn.Conv2d(width, 2 * width, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * width),
            nn.LeakyReLU(0.2, True), nn.Dropout(dropout), nn.Flatten())  # (B, 2w·H/4·W/4)
        feat = 2 * width * (h // 4) * (w // 4)
        self.linear = nn.Linear(feat, 1)
        self.embed = nn.Embedding(num_classes, feat)
        # scaled like a linear layer's weights: N(0, 1) rows would make the class term
        # ⟨embed(y), φ⟩ ~√feat times larger than ψ(φ) at the start and drown it
        nn.init.uniform_(self.embed.weight, -feat ** -0.5, feat ** -0.5)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:  # -> (B,)
        return projection_logit(self.features(x), y, self.linear, self.embed)


@register("biggan")
class BigGAN(TwoPlayerGAN):
    conditional = True
    study = "truncation"  # what stage gan_studies measures

    class Config(TwoPlayerConfig):
        kind: Literal["biggan"] = "biggan"
        z_dim: int = Field(default=96, ge=3)  # split into 3 chunks
        embed_dim: int = Field(default=32, ge=1)
        width: int = Field(default=32, ge=8)
        attention: bool = False
        loss: Literal[tuple(L.GAN_LOSSES)] = "non_saturating"  # type: ignore[valid-type]
        ortho_weight: float = Field(default=1e-4, ge=0)  # β; 0 = off
        d_dropout: float = Field(default=0.3, ge=0, lt=1)
        spectral_norm: bool = False  # of every G and D weight, as BigGAN
        sample_truncation: float | None = Field(default=None, gt=0)  # the main samples
        truncations: list[float] = Field(default=[0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0],
                                         min_length=1)

        @model_validator(mode="after")
        def _positive(self):
            if any(t <= 0 for t in self.truncations):
                raise ValueError("truncations: every threshold must be > 0")
            return self

    def __init__(self, cfg: Config, shape, num_classes):
        super().__init__(cfg, shape, num_classes)
        if shape[1] % 4 or shape[2] % 4:
            from genbench.core.errors import ConfigError

            raise ConfigError(f"biggan: H and W must be divisible by 4, got {shape[1]}x{shape[2]}")
        self.gen = BigGenerator(cfg.z_dim, self.shape, cfg.width, num_classes, cfg.embed_dim,
                                cfg.attention)
        self.disc = ProjectionDiscriminator(self.shape, cfg.width, num_classes, cfg.d_dropout)
        if cfg.spectral_norm:
            apply_spectral_norm(self.gen)
            apply_spectral_norm(self.disc)
        self.d_loss, self.g_loss = L.GAN_LOSSES[cfg.loss]

    def _ortho_weights(self) -> list[torch.Tensor]:
        """G's matrices and filters (the raw, pre-spectral-norm ones), not the embedding."""
        return [p for n, p in self.gen.named_parameters()
                if p.dim() >= 2 and not n.startswith("shared")]

    def losses(self, batch: Batch, group: str) -> dict[str, torch.Tensor]:
        x, y = batch
        z = torch.randn(len(x), self.cfg.z_dim, device=x.device)
        fake_y = torch.randint(0, self.num_classes, (len(x),), device=x.device)
        if group == "disc":
            real = self.disc(x, y)
            fake = self.disc(self.gen(z, fake_y).detach(), fake_y)
            return {"loss": self.d_loss(real, fake),
                    "acc_real": (real > 0).float().mean().detach(),
                    "acc_fake": (fake < 0).float().mean().detach()}
        adv = self.g_loss(self.disc(self.gen(z, fake_y), fake_y))
        out = {"adv": adv.detach()}
        if self.cfg.ortho_weight:
            pen = orthogonal_penalty(self._ortho_weights())
            out["ortho"] = pen.detach()
            adv = adv + self.cfg.ortho_weight * pen
        out["loss"] = adv
        return out

    def latent(self, n: int, generator: torch.Generator | None = None,
               truncation: float | None = None) -> torch.Tensor:
        """``n`` latents (n, z_dim), truncated at ``truncation`` (None: the plain prior)."""
        return truncated_normal(n, self.cfg.z_dim, truncation, generator).to(self.device)

    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """G(z, y) as [0, 1] images. (n, z_dim), (n,) -> (n, C, H, W)"""
        if labels is None:
            raise ValueError("biggan is class-conditional: generate needs labels")
        return (self.gen(z, labels.to(self.device)) + 1) / 2

    def _sample(self, n, generator, labels=None):
        return self.generate(self.latent(n, generator, self.cfg.sample_truncation), labels)
