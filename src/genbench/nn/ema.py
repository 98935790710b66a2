"""An exponential moving average of a network's weights, sampled from instead of the last
iterate (Yazıcı et al. 2019, "The Unusual Effectiveness of Averaging in GAN Training", ICLR;
used by ProGAN, StyleGAN and BigGAN with decay 0.999–0.9999).

A GAN's generator oscillates around the equilibrium with the discriminator (seed 000's 2-D
example never settles under constant-step SGD); the average of its recent iterates sits nearer
the centre of that orbit, so its samples are cleaner than any single iterate's. The average
trains nothing and changes no gradient: it only replaces the weights that sample.

The warm-up follows TensorFlow's ``ExponentialMovingAverage(num_updates=...)``: the decay at
update t is min(decay, (1 + t) / (10 + t)), so the early average is not dominated by the
random initialisation.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA(nn.Module):
    """A frozen copy of ``net`` whose parameters track the average of ``net``'s (buffers, e.g.
    batch-norm statistics, are copied as they are). Its state lives in the model's state_dict,
    so checkpoints and model files carry it and a resumed run continues it exactly."""

    def __init__(self, net: nn.Module, decay: float):
        super().__init__()
        self.decay = decay
        self.net = copy.deepcopy(net)
        for p in self.net.parameters():
            p.requires_grad_(False)
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def update(self, net: nn.Module) -> None:
        t = float(self.updates)
        d = min(self.decay, (1 + t) / (10 + t))
        for avg, p in zip(self.net.parameters(), net.parameters()):
            avg.lerp_(p.detach(), 1 - d)  # avg ← d · avg + (1 − d) · p
        for avg, b in zip(self.net.buffers(), net.buffers()):
            avg.copy_(b)
        self.updates += 1

    def forward(self, *args, **kwargs):
        return self.net(*args, **kwargs)
