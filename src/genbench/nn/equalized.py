"""Equalised learning rate (Karras et al. 2018, "Progressive Growing of GANs", §4.1; kept by
StyleGAN, Karras et al. 2019, and StyleGAN2, whose ``FullyConnectedLayer`` / ``Conv2dLayer``
this follows): a weight is stored as N(0, 1) / ``lr_mul`` and scaled at run time by
``lr_mul / sqrt(fan_in)`` (He's constant), the bias stored as its initial value and scaled by
``lr_mul``. The forward pass equals a He-initialised layer's; Adam's scale-free steps then move
every layer's effective weights at the same relative speed, and ``lr_mul`` < 1 slows a whole
network — StyleGAN's mapping network trains at 0.01 × the generator's rate (§C of Karras et al.
2019: "we reduce the learning rate by two orders of magnitude for the mapping network").
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class EqualLinear(nn.Module):
    def __init__(self, cin: int, cout: int, bias: bool = True, lr_mul: float = 1.0,
                 bias_init: float = 0.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin) / lr_mul)
        self.bias = nn.Parameter(torch.full((cout,), float(bias_init))) if bias else None
        self.weight_gain = lr_mul / math.sqrt(cin)
        self.lr_mul = lr_mul

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, cin) -> (B, cout)
        b = self.bias * self.lr_mul if self.bias is not None else None
        return F.linear(x, self.weight * self.weight_gain, b)


class EqualConv2d(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, padding: int = 0,
                 bias: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(cout)) if bias else None
        self.weight_gain = 1 / math.sqrt(cin * kernel * kernel)
        self.stride, self.padding = stride, padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, cin, H, W) -> (B, cout, H', W')
        return F.conv2d(x, self.weight * self.weight_gain, self.bias, self.stride, self.padding)
