"""A style-based GAN at MNIST scale (Karras et al. 2019; Bios 740 ch. 6 "StyleGAN: style
control"), with the mechanisms that define it:

- a mapping network z -> w (4 layers here, 8 in the paper) and a synthesis network that starts
  from a learned constant, not from z;
- per-layer style modulation: StyleGAN2's weight modulation/demodulation (Karras et al. 2020),
  not StyleGAN1's AdaIN — the same per-layer styles without AdaIN's droplet artefacts
  (:mod:`genbench.nn.stylegan`);
- per-pixel noise inputs with learned per-channel strengths;
- style-mixing regularisation: with probability ``mixing_prob`` two latents drive the layers
  before and after a random crossover layer, so neighbouring styles are not assumed correlated;
- non-saturating loss with R1 regularisation (γ/2 · E‖∇D(x)‖² on real data, the paper's),
  applied lazily every ``r1_every`` discriminator steps with its weight scaled up (StyleGAN2).

Styles: 6 per image (one per layer + the to-image layer); the *coarse* ones drive the 7×7 and
14×14 layers (``coarse_layers`` = 3), the *fine* ones the 28×28 layers. The ``gan_studies`` stage
measures style mixing and perceptual path length in z and in w. Not done: equalised learning
rate and the mapping's 0.01 learning-rate multiplier (plain Adam here), progressive growing.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import nn

from genbench.core import losses as L
from genbench.core.config import Units
from genbench.models.base import Batch
from genbench.models.registry import register
from genbench.models.two_player import AveragedConfig, TwoPlayerConfig, TwoPlayerGAN
from genbench.nn.equalized import EqualConv2d, EqualLinear
from genbench.nn.gan import minibatch_stddev
from genbench.nn.stylegan import MappingNetwork, SynthesisNetwork


class StyleDiscriminator(nn.Module):
    """(C, H, W) -> logits (B,): three convolutions (two stride 2), minibatch stddev, linear."""

    def __init__(self, shape: tuple[int, int, int], width: int):
        super().__init__()
        c, h, w = shape
        self.features = nn.Sequential(  # equalised learning rate, as the generator
            EqualConv2d(c, width, 3, 1, 1), nn.LeakyReLU(0.2, True),
            EqualConv2d(width, 2 * width, 4, 2, 1), nn.LeakyReLU(0.2, True),  # (B, 2w, H/2, W/2)
            EqualConv2d(2 * width, 2 * width, 4, 2, 1), nn.LeakyReLU(0.2, True))  # (B, 2w, H/4, W/4)
        self.head = nn.Sequential(nn.Flatten(),
                                  EqualLinear((2 * width + 1) * (h // 4) * (w // 4), 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(minibatch_stddev(self.features(x))).squeeze(1)


@register("stylegan")
class StyleGAN(TwoPlayerGAN):
    not_data_parallel = "its discriminator's minibatch-stddev layer is a statistic of the whole batch"
    study = "style"  # what stage gan_studies measures

    # Karras et al. 2019: Adam (0, 0.99), G's weight average sampled and studied: in the conf
    class Config(TwoPlayerConfig, AveragedConfig):
        kind: Literal["stylegan"] = "stylegan"
        z_dim: int = Field(default=64, ge=1)
        w_dim: int = Field(default=64, ge=1)
        mapping_layers: int = Field(default=4, ge=1)
        mapping_lr_mul: float = Field(default=0.01, gt=0, le=1)  # Karras et al. 2019, §C
        channels: list[Units] = Field(default=[64, 32, 16], min_length=3, max_length=3)
        d_width: int = Field(default=16, ge=4)
        mixing_prob: float = Field(default=0.9, ge=0, le=1)
        coarse_layers: int = Field(default=3, ge=1, le=5)  # styles of the H/4 and H/2 layers
        loss: Literal[tuple(L.GAN_LOSSES)] = "non_saturating"  # type: ignore[valid-type]
        r1_gamma: float = Field(default=1.0, ge=0)
        r1_every: int = Field(default=16, ge=1)
        # the gan_studies stage: image pairs for the mixing numbers, PPL pairs and step ε
        ppl_pairs: int = Field(default=1000, ge=10)
        ppl_epsilon: float = Field(default=1e-4, gt=0)

    def __init__(self, cfg: Config, shape, num_classes):
        super().__init__(cfg, shape, num_classes)
        if shape[1] % 4 or shape[2] % 4:
            from genbench.core.errors import ConfigError

            raise ConfigError(f"stylegan: H and W must be divisible by 4, got {shape[1]}x{shape[2]}")
        self.mapping = MappingNetwork(cfg.z_dim, cfg.w_dim, cfg.mapping_layers,
                                      cfg.mapping_lr_mul)
        self.synthesis = SynthesisNetwork(self.shape, cfg.w_dim, tuple(cfg.channels))
        self.average(self._generator())  # both networks' average: gen_ema.net[part]
        self.disc = StyleDiscriminator(self.shape, cfg.d_width)
        self.d_loss, self.g_loss = L.GAN_LOSSES[cfg.loss]
        self.register_buffer("d_steps_done", torch.zeros((), dtype=torch.long))

    def _generator(self) -> nn.ModuleDict:
        """The two networks G is made of, as one module (not registered: the weights stay
        under ``mapping.`` and ``synthesis.``)."""
        return nn.ModuleDict({"mapping": self.mapping, "synthesis": self.synthesis})

    def players(self):
        return list(self.disc.parameters()), [*self.mapping.parameters(),
                                              *self.synthesis.parameters()]

    # --- the generator's pieces -----------------------------------------------------------
    @property
    def num_ws(self) -> int:
        return self.synthesis.num_ws

    def noise(self, n: int, generator: torch.Generator | None = None) -> list[torch.Tensor]:
        """Per-pixel noise maps, one per layer, drawn on the CPU from ``generator`` when given
        (samples do not depend on the device), else on the model's device."""
        if generator is None:
            return [torch.randn(s, device=self.device) for s in self.synthesis.noise_shapes(n)]
        return [torch.randn(s, generator=generator).to(self.device)
                for s in self.synthesis.noise_shapes(n)]

    def broadcast(self, w: torch.Tensor) -> torch.Tensor:
        """One w for every layer. (B, w_dim) -> (B, num_ws, w_dim)"""
        return w[:, None].expand(-1, self.num_ws, -1)

    def mixed(self, w1: torch.Tensor, w2: torch.Tensor, crossover: torch.Tensor | int
              ) -> torch.Tensor:
        """Styles from w1 before layer ``crossover`` (per sample (B,) or one int) and from w2
        from it on. -> (B, num_ws, w_dim)"""
        layer = torch.arange(self.num_ws, device=w1.device)[None, :, None]  # (1, L, 1)
        cut = torch.as_tensor(crossover, device=w1.device).view(-1, 1, 1)
        return torch.where(layer < cut, w1[:, None], w2[:, None])

    def synthesize(self, ws: torch.Tensor, generator: torch.Generator | None = None
                   ) -> torch.Tensor:
        """Images in [0, 1] from per-layer styles. (B, num_ws, w_dim) -> (B, C, H, W)"""
        return (self._g("synthesis")(ws, self.noise(len(ws), generator)) + 1) / 2

    # --- training -------------------------------------------------------------------------
    def _fake(self, n: int, device) -> torch.Tensor:
        """G's images in [-1, 1] with style-mixing regularisation."""
        c = self.cfg
        w1 = self.mapping(torch.randn(n, c.z_dim, device=device))
        ws = self.broadcast(w1)
        if c.mixing_prob > 0:
            w2 = self.mapping(torch.randn(n, c.z_dim, device=device))
            cut = torch.randint(1, self.num_ws, (n,), device=device)  # crossover layer
            mix = torch.rand(n, device=device) < c.mixing_prob
            ws = self.mixed(w1, w2, torch.where(mix, cut, self.num_ws))  # num_ws = no mixing
        return self.synthesis(ws, self.noise(n))

    def losses(self, batch: Batch, group: str) -> dict[str, torch.Tensor]:
        x, c = batch.x, self.cfg
        if group == "disc":
            real, fake = self.disc(x), self.disc(self._fake(len(x), x.device).detach())
            loss = self.d_loss(real, fake)
            out = {"adv": loss.detach(), "acc_real": (real > 0).float().mean().detach(),
                   "acc_fake": (fake < 0).float().mean().detach()}
            if c.r1_gamma and int(self.d_steps_done) % c.r1_every == 0:  # lazy R1
                r1 = L.grad_norm_penalty(self.disc, x, target=0.0)  # E‖∇_x D(x)‖²
                loss = loss + c.r1_gamma / 2 * c.r1_every * r1
                out["r1"] = r1.detach()
            out["loss"] = loss
            return out
        return {"loss": self.g_loss(self.disc(self._fake(len(x), x.device)))}

    def on_step_end(self, group: str) -> None:
        if group == "disc":
            self.d_steps_done += 1
        else:
            self.update_average(self._generator())

    def _g(self, part: str) -> nn.Module:
        """The generator network that samples: its weight average where ``ema`` is set."""
        return self.gen_ema.net[part] if self.gen_ema is not None else getattr(self, part)

    def map(self, z: torch.Tensor) -> torch.Tensor:
        """z -> w with the sampling generator's mapping network. (B, z_dim) -> (B, w_dim)"""
        return self._g("mapping")(z)

    # --- sampling -------------------------------------------------------------------------
    def latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.randn(n, self.cfg.z_dim, generator=generator)

    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """G(z) as [0, 1] images, one w for every layer. (n, z_dim) -> (n, C, H, W)"""
        return self.synthesize(self.broadcast(self.map(z)), generator)

    def _sample(self, n, generator, labels=None):
        return self.generate(self.latent(n, generator), generator=generator)
