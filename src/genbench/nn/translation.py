"""Networks of the image-to-image translation models (seeds 002 §"image-to-image translation",
004 "Pix2Pix: U-Net + PatchGAN" and "CycleGAN"): the U-Net and ResNet generators, the PatchGAN
discriminator, the SRGAN generator with sub-pixel upsampling, and CycleGAN's pool of past fakes.

All generators map [-1, 1] images to [-1, 1] images (tanh output).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def norm_layer(kind: str, channels: int) -> nn.Module:
    """``batch`` (pix2pix, SRGAN) or ``instance`` (CycleGAN: per-image statistics)."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    return nn.Identity()


def check_downsampling(shape: tuple[int, int, int], levels: int, what: str) -> None:
    """H and W must halve ``levels`` times exactly (a U-Net's skips must line up)."""
    _, h, w = shape
    if h % 2 ** levels or w % 2 ** levels:
        raise ValueError(f"{what} = {levels}: the image size {h}x{w} must be divisible by "
                         f"2^{levels}")


class UNet(nn.Module):
    """pix2pix's generator (Isola et al. 2017): stride-2 4x4 convolutions down (LeakyReLU 0.2),
    transposed convolutions up (ReLU), the encoder level i concatenated to the decoder level i
    (the skips carry the input's layout, e.g. where the edges are, straight to the output).

    ``dropout`` in the inner decoder levels is the generator's only noise: pix2pix found z
    ignored and applies dropout at training *and* test time, so outputs vary a little per draw.
    """

    def __init__(self, in_ch: int, out_ch: int, width: int, depth: int, dropout: float,
                 norm: str = "batch"):
        super().__init__()
        self.dropout = dropout
        chans = [width * 2 ** min(i, 3) for i in range(depth)]  # encoder level i -> chans[i]
        self.down = nn.ModuleList()
        c = in_ch
        for i, o in enumerate(chans):  # level i: (B, c, H/2^i, .) -> (B, o, H/2^(i+1), .)
            self.down.append(nn.Sequential(
                nn.Conv2d(c, o, 4, 2, 1, bias=i == 0),
                norm_layer(norm, o) if i else nn.Identity(), nn.LeakyReLU(0.2, True)))
            c = o
        self.mid = nn.Sequential(nn.Conv2d(c, c, 3, 1, 1, bias=False), norm_layer(norm, c),
                                 nn.ReLU(True))  # (B, c, H/2^depth, .): the bottleneck
        self.up = nn.ModuleList()
        for i in reversed(range(depth)):  # input: previous level + encoder level i (skip)
            o = chans[i - 1] if i else out_ch
            layers: list[nn.Module] = [nn.ConvTranspose2d(c + chans[i], o, 4, 2, 1, bias=not i)]
            layers += [norm_layer(norm, o), nn.ReLU(True)] if i else [nn.Tanh()]
            self.up.append(nn.Sequential(*layers))
            c = o

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, in, H, W) -> (B, out, H, W)
        skips = []
        for layer in self.down:
            x = layer(x)
            skips.append(x)
        x = self._noise(self.mid(x))
        for j, layer in enumerate(self.up):
            x = layer(torch.cat([x, skips.pop()], 1))
            if j < len(self.up) - 1:
                x = self._noise(x)
        return x

    def _noise(self, x: torch.Tensor) -> torch.Tensor:
        # training=True on purpose: dropout stays on at test time (pix2pix's noise source)
        return F.dropout(x, self.dropout, training=True) if self.dropout else x


class PatchGAN(nn.Module):
    """The PatchGAN discriminator (Isola et al. 2017): a fully convolutional net whose output is
    a map of logits, each judging one overlapping patch (18x18 pixels here, the 28x28 analogue
    of the paper's 70x70 on 256x256) as real or fake. Conditional (pix2pix) when ``in_ch``
    includes the source image concatenated to the judged one."""

    def __init__(self, in_ch: int, width: int, norm: str = "batch"):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(in_ch, width, 4, 2, 1), nn.LeakyReLU(0.2, True),  # (B, w, H/2, W/2)
            nn.Conv2d(width, 2 * width, 4, 2, 1, bias=False), norm_layer(norm, 2 * width),
            nn.LeakyReLU(0.2, True),  # (B, 2w, H/4, W/4)
            nn.Conv2d(2 * width, 1, 3, 1, 1))  # (B, 1, H/4, W/4) patch logits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ResBlock(nn.Module):
    """x + conv-norm-act-conv-norm(x) (He et al. 2016), the block of both the CycleGAN (ResNet,
    Johnson et al. 2016) and the SRGAN generators."""

    def __init__(self, channels: int, norm: str, act: type[nn.Module] = nn.ReLU):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False), norm_layer(norm, channels), act(),
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False), norm_layer(norm, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResNetGenerator(nn.Module):
    """CycleGAN's generator (Zhu et al. 2017, after Johnson et al. 2016): c7s1-w, ``n_down``
    stride-2 convolutions, ``blocks`` residual blocks, as many transposed convolutions up, c7s1-C
    with tanh; instance norm throughout."""

    def __init__(self, channels: int, width: int, blocks: int, n_down: int, norm: str = "instance"):
        super().__init__()
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(channels, width, 7),
                                   norm_layer(norm, width), nn.ReLU(True)]
        c = width
        for _ in range(n_down):  # (B, c, h, w) -> (B, 2c, h/2, w/2)
            layers += [nn.Conv2d(c, 2 * c, 3, 2, 1), norm_layer(norm, 2 * c), nn.ReLU(True)]
            c *= 2
        layers += [ResBlock(c, norm) for _ in range(blocks)]
        for _ in range(n_down):  # (B, c, h, w) -> (B, c/2, 2h, 2w)
            layers += [nn.ConvTranspose2d(c, c // 2, 3, 2, 1, output_padding=1),
                       norm_layer(norm, c // 2), nn.ReLU(True)]
            c //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(c, channels, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, C, H, W)
        return self.net(x)


class SRGenerator(nn.Module):
    """SRGAN's generator (Ledig et al. 2017): conv9-PReLU, ``blocks`` residual blocks (BN,
    PReLU) with a long skip, then log2(factor) sub-pixel stages (conv to 4x channels +
    PixelShuffle(2), Shi et al. 2016: the upsampling is learned, no transposed-conv checkerboard),
    conv9 with tanh."""

    def __init__(self, channels: int, width: int, blocks: int, factor: int):
        super().__init__()
        if factor & (factor - 1):
            raise ValueError(f"sr_factor = {factor}: sub-pixel upsampling doubles the size per "
                             f"stage, the factor must be a power of 2")
        self.head = nn.Sequential(nn.Conv2d(channels, width, 9, 1, 4), nn.PReLU())
        self.body = nn.Sequential(*[ResBlock(width, "batch", nn.PReLU) for _ in range(blocks)],
                                  nn.Conv2d(width, width, 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(width))
        ups: list[nn.Module] = []
        for _ in range(factor.bit_length() - 1):  # (B, w, h, w') -> (B, w, 2h, 2w')
            ups += [nn.Conv2d(width, 4 * width, 3, 1, 1), nn.PixelShuffle(2), nn.PReLU()]
        self.up = nn.Sequential(*ups, nn.Conv2d(width, channels, 9, 1, 4), nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H/f, W/f) -> (B, C, H, W)
        h = self.head(x)
        return self.up(h + self.body(h))


class ImagePool(nn.Module):
    """CycleGAN's history of generated images (Shrivastava et al. 2017): D sees, for each fake
    of the batch, with probability 1/2 a fake from an earlier step instead (which then gives its
    place to the new one), so D does not chase only G's latest output. The pool is a buffer:
    it is saved in checkpoints and a resumed run continues with it."""

    def __init__(self, size: int, shape: tuple[int, int, int]):
        super().__init__()
        self.size = size
        self.register_buffer("images", torch.zeros(size, *shape))
        self.register_buffer("filled", torch.zeros((), dtype=torch.long))
        self._full = False  # python-side: no device sync per query once the pool is full

    @torch.no_grad()
    def query(self, fake: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, C, H, W)
        if not self.size:
            return fake
        fake = fake.detach().to(self.images.dtype)  # bf16 under autocast: stored exactly
        if not self._full:
            n = int(self.filled)  # a sync per step only while the pool fills (or after resume)
            if n < self.size:  # filling: store the new fakes, show them as they are
                k = min(self.size - n, len(fake))
                self.images[n:n + k] = fake[:k]
                self.filled += k
                return fake
            self._full = True
        swap = torch.rand(len(fake), device=fake.device) < 0.5
        idx = torch.randint(self.size, (len(fake),), device=fake.device)
        old = self.images[idx]
        out = torch.where(swap[:, None, None, None], old, fake)
        self.images[idx[swap]] = fake[swap]
        return out
