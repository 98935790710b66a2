"""Generative stochastic network: the Markov chain of a denoising autoencoder (seed 004 "GSNs";
Bengio et al. 2013 "Generalized Denoising Auto-Encoders as Generative Models", Bengio et al.
2014 "Deep Generative Stochastic Networks Trainable by Backprop").

A denoising autoencoder P(x | x̃) (MLP, Bernoulli output on binarised pixels) with a corruption
C(x̃ | x) (salt-and-pepper by default) defines the chain x_t → x̃_t ~ C(·|x_t) → x_{t+1} ~
P(·|x̃_t), whose stationary distribution estimates the data distribution. Walkback training
(``walkback`` > 1): the chain is run from each training example and every step's reconstruction
is pulled back to that example, so spurious modes near the data are visited and removed.

Samples: the states of ``n`` parallel chains after ``burn_in`` steps from noise (the last
step's Bernoulli means, as the VAE shows its decoder's means). Mixing: :meth:`chain` returns a
chain's successive states; the evaluator counts class changes along it. No likelihood is
claimed: the chain's stationary distribution has no tractable density.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field

from genbench.core.config import Units
from genbench.core.corruptions import CORRUPTIONS
from genbench.models.base import Batch, GenerativeModel, OptimGroup, TrainableConfig
from genbench.models.registry import register
from genbench.nn import mlp


@register("gsn")
class GSN(GenerativeModel):
    family = "Boltzmann machines and Markov chains"
    #: bf16 vs fp32, the metric check (genbench.core.precision):
    #: FID 1623 vs 1627
    cpu_precision = "bf16"

    class Config(TrainableConfig):
        kind: Literal["gsn"] = "gsn"
        hidden: list[Units] = Field(default=[1000], min_length=1)
        corruption: Literal[tuple(CORRUPTIONS)] = "salt_pepper"  # type: ignore[valid-type]
        noise: float = Field(default=0.4, ge=0, le=1)
        walkback: int = Field(default=5, ge=1)  # chain steps per training example
        lr: float = Field(gt=0)
        burn_in: int = Field(default=100, ge=1)  # chain steps before a state is a sample

    def __init__(self, cfg: Config, shape, num_classes):
        super().__init__(cfg, shape, num_classes)
        self.net = mlp([self.dim, *cfg.hidden, self.dim], act=torch.nn.Tanh)  # x̃ -> logits

    @property
    def input_transform(self) -> str:
        return "binary_dynamic"

    def optimizer_groups(self):
        return {"gsn": OptimGroup(list(self.parameters()), lr=self.cfg.lr)}

    def _corrupt(self, x: torch.Tensor) -> torch.Tensor:
        return CORRUPTIONS[self.cfg.corruption](x, self.cfg.noise)

    def losses(self, batch: Batch, group: str) -> dict[str, torch.Tensor]:
        x = batch.x.flatten(1)  # (B, D) binary
        state, total = x, 0.0
        for _ in range(self.cfg.walkback):
            logits = self.net(self._corrupt(state))
            total = total + F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(1)
            state = torch.bernoulli(torch.sigmoid(logits)).detach()  # the chain's next state
        rec = total.mean() / self.cfg.walkback
        return {"loss": rec, "rec_nll": rec.detach()}

    def _step(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One chain step from binary states (n, D) -> (next binary state, its means)."""
        p = torch.sigmoid(self.net(self._corrupt(x)))
        return torch.bernoulli(p), p

    @contextmanager
    def _seeded(self, generator: torch.Generator | None):
        """The global RNG (used by the corruptions) seeded from ``generator`` for one chain run,
        and restored afterwards: the same generator gives the same chains."""
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            if generator is not None:
                torch.manual_seed(int(torch.randint(2**62, (1,), generator=generator)))
            yield

    @torch.no_grad()
    def chain(self, n: int, steps: int, generator: torch.Generator | None = None,
              last_only: bool = False) -> torch.Tensor:
        """``n`` chains from uniform noise; the means of every step (steps, n, C, H, W), or of
        the last one only (1, n, C, H, W)."""
        out = []
        with self._seeded(generator):
            x = torch.bernoulli(torch.full((n, self.dim), 0.5, device=self.device))
            for _ in range(steps):
                x, p = self._step(x)
                if not last_only:
                    out.append(p.view(n, *self.shape))
        if last_only:
            return p.view(1, n, *self.shape)
        return torch.stack(out)

    def _sample(self, n, generator, labels=None):
        return self.chain(n, self.cfg.burn_in, generator, last_only=True)[0]
