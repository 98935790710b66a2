"""Progressive growing of GANs (Karras et al. 2018; seeds 002/004 "Progressive GAN"): training
starts at a quarter of the resolution (7×7 for MNIST) and grows the generator and the
discriminator symmetrically, 7×7 → 14×14 → 28×28. Each new block is faded in: during a fade
phase the output is (1 − α)·(upsampled old output) + α·(new block's output), α rising linearly
from 0 to 1, and the discriminator sees real images blended the same way. The discriminator ends
with the minibatch standard-deviation layer.

Phases, each ``steps / 5`` engine steps: stable at 1/4 size, fade-in and stable at 1/2, fade-in
and stable at full size. A run cut short (smoke budget) samples at its current resolution,
upsampled to the full size.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from genbench.core import losses as L
from genbench.models.base import Batch
from genbench.models.registry import register
from genbench.models.two_player import AveragedConfig, TwoPlayerConfig, TwoPlayerGAN
from genbench.nn.gan import minibatch_stddev

LEVELS = 3  # resolutions: H/4, H/2, H
PHASES = 2 * LEVELS - 1  # stable, (fade, stable) per added level


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, 1, 1), nn.LeakyReLU(0.2, True),
                         nn.Conv2d(cout, cout, 3, 1, 1), nn.LeakyReLU(0.2, True))


class ProGenerator(nn.Module):
    def __init__(self, z_dim: int, shape: tuple[int, int, int], width: int):
        super().__init__()
        c, h, w = shape
        self.start = (width, h // 4, w // 4)
        self.project = nn.Sequential(nn.Linear(z_dim, width * (h // 4) * (w // 4)),
                                     nn.LeakyReLU(0.2, True))
        self.blocks = nn.ModuleList([_block(width, width) for _ in range(LEVELS)])
        self.to_img = nn.ModuleList([nn.Conv2d(width, c, 1) for _ in range(LEVELS)])

    def forward(self, z: torch.Tensor, level: int, alpha: float) -> torch.Tensor:
        """Images at resolution level ``level`` (0 = H/4) in [-1, 1]. (N, z) -> (N, C, h, w)"""
        x = self.blocks[0](self.project(z).view(-1, *self.start))
        prev = None
        for i in range(1, level + 1):
            prev = x
            x = self.blocks[i](F.interpolate(x, scale_factor=2, mode="nearest"))
        out = self.to_img[level](x)
        if prev is not None and alpha < 1:  # fade the new block in
            old = F.interpolate(self.to_img[level - 1](prev), scale_factor=2, mode="nearest")
            out = (1 - alpha) * old + alpha * out
        return torch.tanh(out)


class ProDiscriminator(nn.Module):
    def __init__(self, shape: tuple[int, int, int], width: int):
        super().__init__()
        c, h, w = shape
        self.from_img = nn.ModuleList([nn.Conv2d(c, width, 1) for _ in range(LEVELS)])
        self.blocks = nn.ModuleList([_block(width, width) for _ in range(LEVELS - 1)])
        self.final = nn.Sequential(nn.Conv2d(width + 1, width, 3, 1, 1), nn.LeakyReLU(0.2, True),
                                   nn.Flatten(), nn.Linear(width * (h // 4) * (w // 4), 1))

    def forward(self, x: torch.Tensor, level: int, alpha: float) -> torch.Tensor:
        """(N, C, h, w) at resolution level ``level`` -> logits (N,)."""
        h = F.leaky_relu(self.from_img[level](x), 0.2)
        if level > 0:
            h = F.avg_pool2d(self.blocks[level - 1](h), 2)
            if alpha < 1:  # the old path on the downsampled image, faded out
                old = F.leaky_relu(self.from_img[level - 1](F.avg_pool2d(x, 2)), 0.2)
                h = (1 - alpha) * old + alpha * h
            for i in range(level - 1, 0, -1):
                h = F.avg_pool2d(self.blocks[i - 1](h), 2)
        return self.final(minibatch_stddev(h)).squeeze(1)


@register("progan")
class ProGAN(TwoPlayerGAN):
    #: why DDP does not apply (genbench.core.distributed.blocker): trains in one process
    not_data_parallel = "its minibatch-stddev layer is a statistic of the whole batch"

    # Karras et al. 2018: Adam (0, 0.99), G's weight average 0.999 (§A.1): in the conf file
    #: bf16 vs fp32, the metric check (genbench.core.precision):
    #: bf16 diverged: FID 4621 vs 594 (seeds 594/563/545)
    cpu_precision = "fp32"

    class Config(TwoPlayerConfig, AveragedConfig):
        kind: Literal["progan"] = "progan"
        z_dim: int = Field(ge=1)
        width: int = Field(default=24, ge=4)
        loss: Literal[tuple(L.GAN_LOSSES)] = "non_saturating"  # type: ignore[valid-type]

    def __init__(self, cfg: Config, shape, num_classes):
        super().__init__(cfg, shape, num_classes)
        if shape[1] % 4 or shape[2] % 4:
            from genbench.core.errors import ConfigError

            raise ConfigError(f"progan: H and W must be divisible by 4, got {shape[1]}x{shape[2]}")
        self.gen = ProGenerator(cfg.z_dim, self.shape, cfg.width)
        self.disc = ProDiscriminator(self.shape, cfg.width)
        self.average(self.gen)
        self.d_loss, self.g_loss = L.GAN_LOSSES[cfg.loss]
        self.register_buffer("steps_done", torch.zeros((), dtype=torch.long))
        self._steps: int | None = None  # host mirror of steps_done

    def schedule(self) -> tuple[int, float]:
        """(resolution level, fade-in α) at the current step."""
        if self._steps is None:
            self._steps = int(self.steps_done)
        per = max(1, self.cfg.steps // PHASES)
        phase = min(self._steps // per, PHASES - 1)
        level = (phase + 1) // 2
        fading = phase % 2 == 1
        alpha = ((self._steps - phase * per) / per) if fading else 1.0
        return level, min(1.0, alpha)

    def _real_at(self, x: torch.Tensor, level: int, alpha: float) -> torch.Tensor:
        """Real images at the level's resolution, blended like the generator's output."""
        x = F.avg_pool2d(x, 2 ** (LEVELS - 1 - level)) if level < LEVELS - 1 else x
        if level > 0 and alpha < 1:
            low = F.interpolate(F.avg_pool2d(x, 2), scale_factor=2, mode="nearest")
            x = (1 - alpha) * low + alpha * x
        return x

    def losses(self, batch: Batch, group: str) -> dict[str, torch.Tensor]:
        level, alpha = self.schedule()
        z = torch.randn(len(batch.x), self.cfg.z_dim, device=batch.x.device)
        fake = self.gen(z, level, alpha)
        if group == "disc":
            real_logit = self.disc(self._real_at(batch.x, level, alpha), level, alpha)
            fake_logit = self.disc(fake.detach(), level, alpha)
            return {"loss": self.d_loss(real_logit, fake_logit),
                    "acc_real": (real_logit > 0).float().mean().detach(),
                    "acc_fake": (fake_logit < 0).float().mean().detach(),
                    "level": torch.tensor(float(level)), "alpha": torch.tensor(alpha)}
        return {"loss": self.g_loss(self.disc(fake, level, alpha))}

    def on_step_end(self, group: str) -> None:
        if group == "gen":  # one engine step = the D step(s) then this G step
            self.steps_done += 1
            if self._steps is not None:
                self._steps += 1
            self.update_average(self.gen)

    def _sample(self, n, generator, labels=None):
        level, alpha = self.schedule()
        z = self.randn(n, self.cfg.z_dim, generator=generator)
        x = self.averaged(self.gen)(z, level, alpha)
        if x.shape[-2:] != self.shape[-2:]:  # cut short before the last level
            x = F.interpolate(x, size=self.shape[-2:], mode="nearest")
        return (x + 1) / 2
