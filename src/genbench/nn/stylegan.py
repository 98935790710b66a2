"""Layers of the style-based generator (Karras et al. 2019, "A Style-Based Generator
Architecture for GANs"; modulation as in StyleGAN2, Karras et al. 2020): the mapping network
z -> w, weight-modulated and demodulated convolutions (each layer's style scales its input
channels; demodulation replaces StyleGAN1's AdaIN instance normalisation), per-pixel noise
inputs with learned per-channel strengths. Every weight has the equalised learning rate
(:mod:`genbench.nn.equalized`), the mapping network's at ``lr_mul`` = 0.01 of the generator's
rate (Karras et al. 2019, §C)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from genbench.nn.equalized import EqualLinear


class MappingNetwork(nn.Module):
    """z (normalised to unit second moment, StyleGAN's pixel norm) -> w through ``layers``
    fully connected layers with leaky ReLU, each at ``lr_mul`` × the learning rate.
    (B, z_dim) -> (B, w_dim)"""

    def __init__(self, z_dim: int, w_dim: int, layers: int, lr_mul: float = 0.01):
        super().__init__()
        mods: list[nn.Module] = []
        for i in range(layers):
            mods += [EqualLinear(z_dim if i == 0 else w_dim, w_dim, lr_mul=lr_mul),
                     nn.LeakyReLU(0.2, True)]
        self.net = nn.Sequential(*mods)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        z = z * torch.rsqrt(z.pow(2).mean(1, keepdim=True) + 1e-8)
        return self.net(z)


class ModulatedConv2d(nn.Module):
    """StyleGAN2's modulated convolution: style s = A(w) (B, Cin) scales W's input channels,
    then (``demodulate``) every output channel is rescaled to unit expected norm,
    d_j = 1 / sqrt(Σ_{i,k} (s_i W_jik)² + ε).

    Computed without per-sample weights: conv(x · s, W) · d equals conv(x, W ⊙ s) · d exactly
    (the official code's non-fused path), and runs as one ordinary convolution on a CPU."""

    def __init__(self, cin: int, cout: int, kernel: int, w_dim: int, demodulate: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin, kernel, kernel))  # equalised lr
        self.weight_gain = 1 / math.sqrt(cin * kernel ** 2)
        self.affine = EqualLinear(w_dim, cin, bias_init=1.0)  # styles start at 1: plain conv
        self.demodulate = demodulate
        self.pad = kernel // 2

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        s = self.affine(w)  # (B, Cin)
        weight = self.weight * self.weight_gain
        y = F.conv2d(x * s[:, :, None, None], weight, padding=self.pad)  # (B, Cout, H, W)
        if self.demodulate:
            wsq = weight.pow(2).sum((2, 3))  # (Cout, Cin)
            d = torch.rsqrt(s.pow(2) @ wsq.t() + 1e-8)  # (B, Cout)
            y = y * d[:, :, None, None]
        return y


class StyleLayer(nn.Module):
    """Modulated 3×3 convolution, per-pixel noise × learned per-channel strength, bias, leaky
    ReLU (one style input per layer)."""

    def __init__(self, cin: int, cout: int, w_dim: int):
        super().__init__()
        self.conv = ModulatedConv2d(cin, cout, 3, w_dim)
        self.noise_strength = nn.Parameter(torch.zeros(cout))
        self.bias = nn.Parameter(torch.zeros(cout))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        y = self.conv(x, w)  # (B, Cout, H, W)
        y = y + self.noise_strength[:, None, None] * noise  # noise (B, 1, H, W)
        return F.leaky_relu(y + self.bias[:, None, None], 0.2)


class SynthesisNetwork(nn.Module):
    """A learned constant at H/4, one style layer there, then per ×2 level two style layers
    (nearest upsampling before the first); a modulated 1×1 to-image layer (no demodulation).
    ``num_ws`` styles: one per layer + the to-image layer. Resolutions H/4, H/2, H."""

    def __init__(self, shape: tuple[int, int, int], w_dim: int, channels: tuple[int, int, int]):
        super().__init__()
        c, h, w = shape
        c0, c1, c2 = channels
        self.const = nn.Parameter(torch.randn(1, c0, h // 4, w // 4))
        self.layers = nn.ModuleList([StyleLayer(c0, c0, w_dim),
                                     StyleLayer(c0, c1, w_dim), StyleLayer(c1, c1, w_dim),
                                     StyleLayer(c1, c2, w_dim), StyleLayer(c2, c2, w_dim)])
        self.upsample_before = {1, 3}
        self.to_img = ModulatedConv2d(c2, c, 1, w_dim, demodulate=False)
        self.img_bias = nn.Parameter(torch.zeros(c))
        self.num_ws = len(self.layers) + 1

    def noise_shapes(self, n: int) -> list[tuple[int, ...]]:
        """The per-pixel noise input of each layer: (n, 1, h, w) at its resolution."""
        h, w = self.const.shape[2:]
        out = []
        for i in range(len(self.layers)):
            if i in self.upsample_before:
                h, w = 2 * h, 2 * w
            out.append((n, 1, h, w))
        return out

    def forward(self, ws: torch.Tensor, noise: list[torch.Tensor]) -> torch.Tensor:
        """ws (B, num_ws, w_dim), one noise map per layer -> (B, C, H, W) in [-1, 1]."""
        x = self.const.expand(len(ws), -1, -1, -1)
        for i, layer in enumerate(self.layers):
            if i in self.upsample_before:
                x = F.interpolate(x, scale_factor=2, mode="nearest")
            x = layer(x, ws[:, i], noise[i])
        return torch.tanh(self.to_img(x, ws[:, -1]) + self.img_bias[:, None, None])
