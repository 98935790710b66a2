"""StackGAN (Zhang et al. 2017, "StackGAN: Text to Photo-realistic Image Synthesis with Stacked
Generative Adversarial Networks"; *Lecture 16*'s two stages) on the generated digit captions
(:mod:`genbench.core.captions`):

- Stage I: G₁(z, ĉ₁) draws a rough H/2 × W/2 image (14×14) from the caption; D₁ judges it
  against the real image downsampled, with the caption;
- Stage II: G₂(s₁, ĉ₂) reads the Stage-I image and the caption again (a second conditioning
  draw) and draws the full-size image through a residual block; D₂ judges at full size;
- conditioning augmentation (§3.1, :class:`genbench.nn.text.ConditioningAugmentation`) in both
  stages: ĉ = μ(φ) + σ(φ) ε with λ·KL(N(μ, σ²) ‖ N(0, I)) in the generator's loss (λ = 1, the
  paper's);
- both discriminators matching-aware (GAN-CLS's mismatched-caption negatives, as StackGAN).

Deviations, said plainly: the stages are trained jointly (each engine step updates D₁, G₁, D₂,
G₂; G₂ reads G₁'s current output without gradient), as StackGAN++ does, not Stage I to the end
and then Stage II; the text encoder is a word-level GRU trained with D₁ (the paper uses Reed et
al.'s pretrained char-CNN-RNN).
"""

from __future__ import annotations

from math import prod
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from genbench.core import losses as L
from genbench.models.base import Batch, OptimGroup
from genbench.models.registry import register
from genbench.models.two_player import TwoPlayerConfig, TwoPlayerGAN
from genbench.nn.gan import Discriminator
from genbench.nn.text import CaptionSource, ConditioningAugmentation, TextEncoder


class StageOneGenerator(nn.Module):
    """[z, ĉ] -> (C, H/2, W/2) in [-1, 1]."""

    def __init__(self, in_dim: int, shape: tuple[int, int, int], width: int):
        super().__init__()
        c, h, w = shape
        self.start = (2 * width, h // 4, w // 4)
        self.project = nn.Sequential(nn.Linear(in_dim, prod(self.start), bias=False),
                                     nn.BatchNorm1d(prod(self.start)), nn.ReLU(True))
        self.net = nn.Sequential(nn.ConvTranspose2d(2 * width, width, 4, 2, 1, bias=False),
                                 nn.BatchNorm2d(width), nn.ReLU(True),  # (B, w, H/2, W/2)
                                 nn.Conv2d(width, c, 3, 1, 1), nn.Tanh())

    def forward(self, zc: torch.Tensor) -> torch.Tensor:
        return self.net(self.project(zc).view(-1, *self.start))


class StageOneDiscriminator(nn.Module):
    """(C, h, w) = the Stage-I size, and the text embedding -> logit: one stride-2
    convolution, the embedding (compressed) replicated over the h/2 map, a 3×3 convolution,
    linear."""

    def __init__(self, shape: tuple[int, int, int], width: int, text_dim: int, dropout: float):
        super().__init__()
        c, h, w = shape
        self.down = nn.Sequential(nn.Conv2d(c, width, 4, 2, 1), nn.LeakyReLU(0.2, True),
                                  nn.Dropout(dropout))  # (B, w, h/2, w/2)
        self.compress = nn.Linear(text_dim, 16)
        self.joint = nn.Sequential(nn.Conv2d(width + 16, 2 * width, 3, 1, 1),
                                   nn.BatchNorm2d(2 * width), nn.LeakyReLU(0.2, True),
                                   nn.Dropout(dropout), nn.Flatten())
        self.head = nn.Linear(2 * width * (h // 2) * (w // 2), 1)

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        f = self.down(x)
        t = F.leaky_relu(self.compress(h), 0.2)[:, :, None, None].expand(-1, -1, *f.shape[2:])
        return self.head(self.joint(torch.cat([f, t], 1))).squeeze(1)


class StageTwoGenerator(nn.Module):
    """(Stage-I image (C, H/2, W/2), ĉ) -> (C, H, W): encode, join the conditioning maps, one
    residual block, ×2 upsampling, to image."""

    def __init__(self, c: int, c_dim: int, width: int):
        super().__init__()
        self.encode = nn.Sequential(nn.Conv2d(c, width, 3, 1, 1), nn.ReLU(True))
        self.joint = nn.Sequential(nn.Conv2d(width + c_dim, 2 * width, 3, 1, 1, bias=False),
                                   nn.BatchNorm2d(2 * width), nn.ReLU(True))
        self.res = nn.Sequential(nn.Conv2d(2 * width, 2 * width, 3, 1, 1, bias=False),
                                 nn.BatchNorm2d(2 * width), nn.ReLU(True),
                                 nn.Conv2d(2 * width, 2 * width, 3, 1, 1, bias=False),
                                 nn.BatchNorm2d(2 * width))
        self.up = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                                nn.Conv2d(2 * width, width, 3, 1, 1, bias=False),
                                nn.BatchNorm2d(width), nn.ReLU(True),  # (B, w, H, W)
                                nn.Conv2d(width, c, 3, 1, 1), nn.Tanh())

    def forward(self, s1: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        f = self.encode(s1)  # (B, w, H/2, W/2)
        f = self.joint(torch.cat([f, c[:, :, None, None].expand(-1, -1, *f.shape[2:])], 1))
        return self.up(F.relu(f + self.res(f)))


@register("stackgan")
class StackGAN(TwoPlayerGAN):
    conditional = True  # sampled per digit; the caption's other words are drawn
    study = "text"  # what stage gan_studies measures

    class Config(TwoPlayerConfig):
        kind: Literal["stackgan"] = "stackgan"
        z_dim: int = Field(default=64, ge=1)
        text_dim: int = Field(default=32, ge=1)
        c_dim: int = Field(default=16, ge=1)  # conditioning augmentation's ĉ
        width: int = Field(default=32, ge=4)  # stage I (G₁, D₁) and D₂
        width2: int = Field(default=16, ge=4)  # G₂
        kl_weight: float = Field(default=1.0, ge=0)  # λ
        d_dropout: float = Field(default=0.3, ge=0, lt=1)
        loss: Literal[tuple(L.GAN_LOSSES)] = "non_saturating"  # type: ignore[valid-type]
        attribute_samples: int = Field(default=500, ge=10)  # gan_studies: images per word

    def __init__(self, cfg: Config, shape, num_classes):
        super().__init__(cfg, shape, num_classes)
        if shape[1] % 4 or shape[2] % 4:
            from genbench.core.errors import ConfigError

            raise ConfigError(f"stackgan: H and W must be divisible by 4, got "
                              f"{shape[1]}x{shape[2]}")
        c, h, w = self.shape
        self.small = (c, h // 2, w // 2)
        self.captions = CaptionSource(num_classes)
        self.text = TextEncoder(cfg.text_dim)
        self.ca1 = ConditioningAugmentation(cfg.text_dim, cfg.c_dim)
        self.ca2 = ConditioningAugmentation(cfg.text_dim, cfg.c_dim)
        self.gen1 = StageOneGenerator(cfg.z_dim + cfg.c_dim, self.shape, cfg.width)
        self.gen2 = StageTwoGenerator(c, cfg.c_dim, cfg.width2)
        self.disc1 = StageOneDiscriminator(self.small, cfg.width, cfg.text_dim, cfg.d_dropout)
        self.disc2 = Discriminator("conv", self.shape, cfg.width, [], extra=cfg.text_dim,
                                   dropout=cfg.d_dropout)
        self.d_loss, self.g_loss = L.GAN_LOSSES[cfg.loss]

    def optimizer_groups(self):  # two players per stage, stage I's first
        c = self.cfg
        b, k, opt = (c.beta1, c.beta2), c.d_steps, c.optimizer
        return {"disc1": OptimGroup([*self.disc1.parameters(), *self.text.parameters()],
                                    c.lr_disc, b, steps=k, optimizer=opt),
                "gen1": OptimGroup([*self.gen1.parameters(), *self.ca1.parameters()], c.lr_gen, b,
                                   optimizer=opt),
                "disc2": OptimGroup(list(self.disc2.parameters()), c.lr_disc, b, steps=k,
                                    optimizer=opt),
                "gen2": OptimGroup([*self.gen2.parameters(), *self.ca2.parameters()], c.lr_gen, b,
                                   optimizer=opt)}

    def on_train_start(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.captions.fit((x + 1) / 2, y)

    # --- the two stages -------------------------------------------------------------------
    def stage_one(self, z: torch.Tensor, h: torch.Tensor, eps: torch.Tensor | None = None):
        """(Stage-I images (B, C, H/2, W/2) in [-1, 1], KL (B,))"""
        c1, kl = self.ca1(h, eps)
        return self.gen1(torch.cat([z, c1], 1)), kl

    def stage_two(self, s1: torch.Tensor, h: torch.Tensor, eps: torch.Tensor | None = None):
        """(full-size images (B, C, H, W) in [-1, 1], KL (B,))"""
        c2, kl = self.ca2(h, eps)
        return self.gen2(s1, c2), kl

    def _matching_aware(self, disc, real_x, fake_x, h) -> dict[str, torch.Tensor]:
        real = disc(real_x, h)
        mismatched = disc(real_x, h.roll(1, 0))  # another image's caption
        fake = disc(fake_x, h)
        real, mismatched, fake = (t[0] if isinstance(t, tuple) else t
                                  for t in (real, mismatched, fake))
        return {"loss": self.d_loss(real, torch.cat([mismatched, fake])),
                "acc_real": (real > 0).float().mean().detach(),
                "acc_fake": (fake < 0).float().mean().detach()}

    def losses(self, batch: Batch, group: str) -> dict[str, torch.Tensor]:
        x, y = batch
        _, tok = self.captions.of_images((x.detach().float() + 1) / 2, y)
        z = torch.randn(len(x), self.cfg.z_dim, device=x.device)
        lam = self.cfg.kl_weight
        if group == "disc1":
            h = self.text(tok)
            with torch.no_grad():
                s1, _ = self.stage_one(z, h)
            return self._matching_aware(self.disc1, F.avg_pool2d(x, 2), s1, h)
        with torch.no_grad():
            h = self.text(tok)
        if group == "gen1":
            s1, kl = self.stage_one(z, h)
            adv = self.g_loss(self.disc1(s1, h))
            return {"loss": adv + lam * kl.mean(), "adv": adv.detach(), "kl": kl.mean().detach()}
        with torch.no_grad():
            s1, _ = self.stage_one(z, h)
        if group == "disc2":
            with torch.no_grad():
                fake, _ = self.stage_two(s1, h)
            return self._matching_aware(self.disc2, x, fake, h)
        fake, kl = self.stage_two(s1, h)
        adv = self.g_loss(self.disc2(fake, h)[0])
        return {"loss": adv + lam * kl.mean(), "adv": adv.detach(), "kl": kl.mean().detach()}

    # --- sampling -------------------------------------------------------------------------
    def latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.randn(n, self.cfg.z_dim, generator=generator)

    def embed(self, tok: torch.Tensor) -> torch.Tensor:
        return self.text(tok.to(self.device))

    def from_embedding(self, z: torch.Tensor, h: torch.Tensor,
                       generator: torch.Generator | None = None, both: bool = False):
        """Stage-II images in [0, 1] from z and the text embedding (``both``: with the Stage-I
        images). The conditioning draws ε come from ``generator``."""
        e1 = self.randn(len(z), self.cfg.c_dim, generator=generator)
        e2 = self.randn(len(z), self.cfg.c_dim, generator=generator)
        s1, _ = self.stage_one(z, h, e1)
        s2, _ = self.stage_two(s1, h, e2)
        return ((s1 + 1) / 2, (s2 + 1) / 2) if both else (s2 + 1) / 2

    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None,
                 generator: torch.Generator | None = None, fixed: dict[str, int] | None = None
                 ) -> torch.Tensor:
        _, tok = self.captions.draw(labels.cpu(), generator, fixed)
        return self.from_embedding(z, self.embed(tok), generator)

    def _sample(self, n, generator, labels=None):
        return self.generate(self.latent(n, generator), labels, generator)
