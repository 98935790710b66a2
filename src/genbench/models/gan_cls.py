"""Text-to-image GAN-CLS / GAN-INT-CLS (Reed et al. 2016, "Generative Adversarial Text to Image
Synthesis"; *Lecture 16* and Wu's lecture, text-to-image synthesis) on captions generated from
each digit's label and measured attributes (:mod:`genbench.core.captions`: not written by
people):

- a word-level text encoder φ (GRU, :class:`genbench.nn.text.TextEncoder`); G(z, φ(t)) is the
  DCGAN generator with the embedding joining z, D(x, φ(t)) the DCGAN discriminator with the
  embedding replicated spatially (at H/2);
- the *matching-aware* discriminator (Alg. 1): real image + its caption is positive; real
  image + a mismatched caption (another image's in the batch) and fake image + its caption are
  negatives, half weight each: L_D = log D(x, h) + ½[log(1 − D(x, ĥ)) + log(1 − D(x̂, h))];
- GAN-INT (``interpolate``: §4.2): G is also trained on the midpoint of two captions'
  embeddings, which the discriminator never sees with an image, to fill the text manifold.

Deviation, said plainly: Reed et al. pretrain φ with a structured joint embedding; here φ is
trained with the discriminator (its loss is the only one that reads captions) and the generator
gets φ(t) without gradient. Sampling draws a caption per requested digit: each attribute's
level from that digit's train frequencies.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field

from genbench.core import losses as L
from genbench.models.base import Batch
from genbench.models.registry import register
from genbench.models.two_player import TwoPlayerConfig, TwoPlayerGAN
from genbench.nn.gan import Discriminator, Generator
from genbench.nn.text import CaptionSource, TextEncoder


@register("gan_cls")
class GANCLS(TwoPlayerGAN):
    conditional = True  # sampled per digit; the caption's other words are drawn
    study = "text"  # what stage gan_studies measures

    class Config(TwoPlayerConfig):
        kind: Literal["gan_cls"] = "gan_cls"
        z_dim: int = Field(default=64, ge=1)
        text_dim: int = Field(default=32, ge=1)
        width: int = Field(default=32, ge=4)
        d_dropout: float = Field(default=0.3, ge=0, lt=1)
        interpolate: bool = True  # GAN-INT
        loss: Literal[tuple(L.GAN_LOSSES)] = "non_saturating"  # type: ignore[valid-type]
        attribute_samples: int = Field(default=500, ge=10)  # gan_studies: images per word

    def __init__(self, cfg: Config, shape, num_classes):
        super().__init__(cfg, shape, num_classes)
        self.captions = CaptionSource(num_classes)
        self.text = TextEncoder(cfg.text_dim)
        self.gen = Generator("conv", cfg.z_dim, self.shape, cfg.width, [], "tanh",
                             extra=cfg.text_dim)
        self.disc = Discriminator("conv", self.shape, cfg.width, [], extra=cfg.text_dim,
                                  dropout=cfg.d_dropout)
        self.d_loss, self.g_loss = L.GAN_LOSSES[cfg.loss]

    def players(self):  # the text encoder learns with D (the matching-aware loss)
        return [*self.disc.parameters(), *self.text.parameters()], list(self.gen.parameters())

    def on_train_start(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.captions.fit((x + 1) / 2, y)

    def losses(self, batch: Batch, group: str) -> dict[str, torch.Tensor]:
        x, y = batch
        _, tok = self.captions.of_images((x.detach().float() + 1) / 2, y)  # (B, T)
        z = torch.randn(len(x), self.cfg.z_dim, device=x.device)
        if group == "disc":
            h = self.text(tok)  # (B, D), trained by this loss
            wrong = h.roll(1, 0)  # another image's caption
            real = self.disc(x, h)[0]
            mismatched = self.disc(x, wrong)[0]
            fake = self.disc(self.gen(z, h.detach()).detach(), h)[0]
            return {"loss": self.d_loss(real, torch.cat([mismatched, fake])),
                    "acc_real": (real > 0).float().mean().detach(),
                    "acc_mismatch": (mismatched < 0).float().mean().detach(),
                    "acc_fake": (fake < 0).float().mean().detach()}
        with torch.no_grad():
            h = self.text(tok)
        loss = self.g_loss(self.disc(self.gen(z, h), h)[0])
        out = {"cls": loss.detach()}
        if self.cfg.interpolate:  # GAN-INT: β = 0.5 between two captions' embeddings
            h_int = 0.5 * (h + h.roll(1, 0))
            z2 = torch.randn_like(z)
            loss_int = self.g_loss(self.disc(self.gen(z2, h_int), h_int)[0])
            out["int"] = loss_int.detach()
            loss = loss + loss_int
        out["loss"] = loss
        return out

    # --- sampling -------------------------------------------------------------------------
    def latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.randn(n, self.cfg.z_dim, generator=generator)

    def embed(self, tok: torch.Tensor) -> torch.Tensor:
        """φ(t) of caption tokens. (B, T) -> (B, text_dim)"""
        return self.text(tok.to(self.device))

    def from_embedding(self, z: torch.Tensor, h: torch.Tensor,
                       generator: torch.Generator | None = None) -> torch.Tensor:
        """G(z, h) as [0, 1] images. (B, z_dim), (B, text_dim) -> (B, C, H, W)"""
        return (self.gen(z, h) + 1) / 2

    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None,
                 generator: torch.Generator | None = None, fixed: dict[str, int] | None = None
                 ) -> torch.Tensor:
        """Images for drawn captions of ``labels`` (``fixed``: attribute levels to use)."""
        _, tok = self.captions.draw(labels.cpu(), generator, fixed)
        return self.from_embedding(z, self.embed(tok), generator)

    def _sample(self, n, generator, labels=None):
        return self.generate(self.latent(n, generator), labels, generator)
