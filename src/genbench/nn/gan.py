"""Networks and layers of the GAN family: MLP and DCGAN-style generators and discriminators,
minibatch discrimination (Salimans et al. 2016), the minibatch standard-deviation layer (Karras
et al. 2018), spectral normalisation of a discriminator (Miyato et al. 2018)."""

from __future__ import annotations

from math import prod

import torch
from torch import nn

from genbench.nn.blocks import DCGANGenerator


class MinibatchDiscrimination(nn.Module):
    """Appends, per example, its closeness to the other examples of the batch (seed 002/003
    "minibatch discrimination"): M = f T reshaped (N, B, C); o_b(x_i) = Σ_j exp(-‖M_ib - M_jb‖₁).
    A collapsed generator's batch is all close together, which D can then see."""

    def __init__(self, in_features: int, kernels: int, kernel_dim: int = 8):
        super().__init__()
        self.kernels, self.kernel_dim = kernels, kernel_dim
        self.T = nn.Parameter(torch.randn(in_features, kernels * kernel_dim) * 0.1)

    def forward(self, f: torch.Tensor) -> torch.Tensor:  # (N, F) -> (N, F + kernels)
        m = (f @ self.T).view(-1, self.kernels, self.kernel_dim)  # (N, B, C)
        dist = (m[:, None] - m[None]).abs().sum(3)  # (N, N, B)
        o = torch.exp(-dist).sum(1) - 1  # (N, B), the self-term exp(0) removed
        return torch.cat([f, o], 1)


def minibatch_stddev(x: torch.Tensor) -> torch.Tensor:
    """Append one feature map: the mean over features of the batch standard deviation
    (ProGAN). (N, C, H, W) -> (N, C + 1, H, W)"""
    s = x.std(0, unbiased=False).mean().expand(x.shape[0], 1, *x.shape[2:])
    return torch.cat([x, s], 1)


#: the layers whose weight spectral normalisation divides by its largest singular value
SN_LAYERS = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)


def apply_spectral_norm(module: nn.Module) -> nn.Module:
    """Spectral normalisation (Miyato et al. 2018) of every linear, convolutional and transposed
    convolutional weight of ``module``: W / σ(W), σ by one power iteration per training forward.
    σ is that of the weight as a matrix with the output channels as rows (torch's
    ``spectral_norm`` reshapes a transposed convolution's (in, out, k, k) weight along dim 1,
    its output channels, as the paper's SAGAN/BigGAN code does for every layer)."""
    from torch.nn.utils.parametrizations import spectral_norm

    for name, child in module.named_children():
        if isinstance(child, SN_LAYERS):
            setattr(module, name, spectral_norm(child))
        else:
            apply_spectral_norm(child)
    return module


def _norm(kind: str, channels: int, dims: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels) if dims == 2 else nn.BatchNorm1d(channels)
    if kind == "layer":  # per-example: keeps gradient penalties per-sample (WGAN-GP advice)
        return nn.GroupNorm(1, channels) if dims == 2 else nn.LayerNorm(channels)
    return nn.Identity()


class Generator(nn.Module):
    """z (and a one-hot label, for a conditional GAN) -> (C, H, W): an MLP or the DCGAN
    generator; ``output`` tanh for images in [-1, 1], linear for the 2-D toy data."""

    def __init__(self, arch: str, z_dim: int, shape: tuple[int, int, int], width: int,
                 hidden: list[int], output: str, extra: int = 0):
        super().__init__()
        self.shape = tuple(shape)
        if arch == "conv":
            if output != "tanh":
                raise ValueError("the conv generator ends in tanh (output: tanh)")
            self.net = DCGANGenerator(z_dim + extra, self.shape, width)
        else:
            layers: list[nn.Module] = []
            sizes = [z_dim + extra, *hidden]
            for a, b in zip(sizes[:-1], sizes[1:]):
                layers += [nn.Linear(a, b), nn.ReLU(True)]
            layers.append(nn.Linear(sizes[-1], prod(self.shape)))
            if output == "tanh":
                layers.append(nn.Tanh())
            self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        h = z if c is None else torch.cat([z, c], 1)
        return self.net(h).view(-1, *self.shape)


class Discriminator(nn.Module):
    """(C, H, W) (and a one-hot label) -> (logit (N,), features (N, F)). Conv: the DCGAN
    discriminator, the label joining as K constant feature maps after the first convolution
    (at H/2: 10 extra input channels at full size would double D's cost); MLP: LeakyReLU layers,
    the label concatenated to the input. Optional dropout, normalisation, minibatch
    discrimination."""

    def __init__(self, arch: str, shape: tuple[int, int, int], width: int, hidden: list[int],
                 extra: int = 0, dropout: float = 0.0, norm: str = "batch",
                 minibatch_kernels: int = 0, minibatch_kernel_dim: int = 8):
        super().__init__()
        c, h, w = shape
        if arch == "conv":
            if h % 4 or w % 4:
                raise ValueError(f"the conv discriminator needs H and W divisible by 4, got {h}x{w}")
            self.stem = nn.Sequential(nn.Conv2d(c, width, 4, 2, 1), nn.LeakyReLU(0.2, True),
                                      nn.Dropout(dropout))  # (N, w, H/2, W/2)
            self.features = nn.Sequential(
                nn.Conv2d(width + extra, 2 * width, 4, 2, 1, bias=norm == "none"),  # (N, 2w, H/4, W/4)
                _norm(norm, 2 * width, 2), nn.LeakyReLU(0.2, True), nn.Dropout(dropout),
                nn.Flatten())
            feat = 2 * width * (h // 4) * (w // 4)
        else:
            self.stem = nn.Flatten()
            layers: list[nn.Module] = []
            sizes = [c * h * w + extra, *hidden]
            for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
                layers += [nn.Linear(a, b), *([_norm(norm, b, 1)] if i else []),
                           nn.LeakyReLU(0.2, True), nn.Dropout(dropout)]
            self.features = nn.Sequential(*layers)
            feat = sizes[-1]
        self.arch = arch
        self.mbd = (MinibatchDiscrimination(feat, minibatch_kernels, minibatch_kernel_dim)
                    if minibatch_kernels else None)
        self.head = nn.Linear(feat + minibatch_kernels, 1)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.stem(x)  # conv: (N, w, H/2, W/2); mlp: (N, C·H·W)
        if c is not None:
            if self.arch == "conv":  # (N, K) -> (N, K, H/2, W/2) constant maps
                h = torch.cat([h, c[:, :, None, None].expand(-1, -1, *h.shape[2:])], 1)
            else:
                h = torch.cat([h, c], 1)
        f = self.features(h)  # (N, F)
        g = self.mbd(f) if self.mbd is not None else f
        return self.head(g).squeeze(1), f
