"""Causal layers of the autoregressive image models (seed 004 "PixelRNN/PixelCNN", "Fully visible
belief network"; van den Oord et al. 2016a "Pixel Recurrent Neural Networks", 2016b
"Conditional Image Generation with PixelCNN Decoders").

Order: raster order over pixels, and within a pixel the colour channels in order (R, then G
given R, then B given R, G). Every feature channel belongs to a colour *group* ``index % C``
(C image channels); at the current pixel a group-g output may see input groups < g (mask A,
the first layer: the pixel's own value is never seen) or ≤ g (mask B, later layers). For C = 1
this is the plain "centre tap off (A) / on (B)".

Every layer here can run two ways with the same weights:

- ``forward`` on whole maps (training, exact NLL): one parallel pass;
- ``step`` at one position (i, j) from caches of its inputs (sampling): features at a position
  depend only on earlier pixels, so once computed they are final and sampling costs one
  position per layer per step instead of a whole-image pass (784× less work at 28×28).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def centre_mask(out_ch: int, in_ch: int, channels: int, kind: str) -> torch.Tensor:
    """(out, in) 0/1 connections at the current pixel: group(out) > group(in) for 'A', ≥ for
    'B', groups = index % channels."""
    go = torch.arange(out_ch)[:, None] % channels
    gi = torch.arange(in_ch)[None, :] % channels
    return (go > gi if kind == "A" else go >= gi).float()


class MaskedConv2d(nn.Conv2d):
    """k×k convolution that sees rows above, the current row to the left, and the current
    pixel through :func:`centre_mask` (PixelCNN's masks A and B)."""

    def __init__(self, in_ch: int, out_ch: int, k: int, kind: str, channels: int):
        super().__init__(in_ch, out_ch, k, padding=k // 2)
        p = k // 2
        mask = torch.zeros(out_ch, in_ch, k, k)
        mask[:, :, :p, :] = 1  # rows above
        mask[:, :, p, :p] = 1  # current row, left of the pixel
        mask[:, :, p, p] = centre_mask(out_ch, in_ch, channels, kind)
        self.register_buffer("mask", mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, in, H, W) -> (B, out, H, W)
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)

    @property
    def pad(self) -> int:
        return self.kernel_size[0] // 2

    def step(self, cache: torch.Tensor, i: int, j: int) -> torch.Tensor:
        """Output at (i, j) from ``cache`` = the input zero-padded by ``pad`` on every side,
        (B, in, H + 2p, W + 2p). Only the causal rows are read. -> (B, out)"""
        p, k = self.pad, self.kernel_size[0]
        patch = cache[:, :, i:i + p + 1, j:j + k]  # (B, in, p+1, k): rows i-p..i
        w = (self.weight * self.mask)[:, :, :p + 1]  # (out, in, p+1, k)
        return torch.einsum("bcyx,ocyx->bo", patch, w) + self.bias


class Masked1x1(MaskedConv2d):
    """1×1 convolution with mask B's channel groups (identity masking for C = 1)."""

    def __init__(self, in_ch: int, out_ch: int, channels: int):
        super().__init__(in_ch, out_ch, 1, "B", channels)

    def at(self, x: torch.Tensor) -> torch.Tensor:  # (B, in) -> (B, out), one position
        return x @ (self.weight * self.mask)[:, :, 0, 0].T + self.bias


def gate(x: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """tanh(a) ⊙ σ(b) for the two halves of ``dim`` (the gated activation unit)."""
    a, b = x.chunk(2, dim)
    return torch.tanh(a) * torch.sigmoid(b)


def shift_down(x: torch.Tensor) -> torch.Tensor:
    """Row i gets row i - 1 (zeros at the top). (B, C, H, W)"""
    return F.pad(x, (0, 0, 1, 0))[:, :, :-1]


class GatedLayer(nn.Module):
    """One layer of the gated PixelCNN (van den Oord et al. 2016b, Fig. 2): a vertical stack
    (k//2+1)×k that sees every row up to the current one, passed to the horizontal stack only
    shifted down one row, and a horizontal stack 1×(k//2+1) on the current row up to the pixel.
    Together they cover the whole past: no blind spot (the plain PixelCNN misses the upper
    right). ``first``: mask A on the horizontal stack's current pixel and no residual."""

    def __init__(self, in_ch: int, hidden: int, k: int, channels: int, first: bool):
        super().__init__()
        p = k // 2
        self.p, self.first = p, first
        self.v = nn.Conv2d(in_ch, 2 * hidden, (p + 1, k))  # padded (p top, p left/right)
        self.h = nn.Conv2d(in_ch, 2 * hidden, (1, p + 1))  # padded p left
        hmask = torch.ones(2 * hidden, in_ch, 1, p + 1)
        hmask[:, :, 0, p] = centre_mask(2 * hidden, in_ch, channels, "A" if first else "B")
        self.register_buffer("hmask", hmask)
        self.v2h = nn.Conv2d(2 * hidden, 2 * hidden, 1)  # rows above only: no mask needed
        self.out = Masked1x1(hidden, hidden, channels)

    def forward(self, v: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        p = self.p
        v_pre = self.v(F.pad(v, (p, p, p, 0)))  # (B, 2h, H, W): rows i-p..i
        h_pre = F.conv2d(F.pad(h, (p, 0, 0, 0)), self.h.weight * self.hmask, self.h.bias)
        h_pre = h_pre + self.v2h(shift_down(v_pre))
        h_out = self.out(gate(h_pre))
        return gate(v_pre), h_out if self.first else h + h_out

    # --- sampling -----------------------------------------------------------------------------
    def v_row(self, v_cache: torch.Tensor, i: int) -> torch.Tensor:
        """Vertical pre-activations of row i from ``v_cache`` (B, in, H + p, W + 2p), padded p
        on top and the sides. -> (B, 2h, W)"""
        return self.v(v_cache[:, :, i:i + self.p + 1])[:, :, 0]

    def h_step(self, h_cache: torch.Tensor, v_pre_above: torch.Tensor | None, h_in: torch.Tensor,
               i: int, j: int) -> torch.Tensor:
        """Horizontal output at (i, j). ``h_cache`` (B, in, H, W + p) padded p on the left;
        ``v_pre_above`` (B, 2h) the vertical pre-activation at (i - 1, j), None on row 0;
        ``h_in`` (B, in) the input at (i, j) (the residual). -> (B, hidden)"""
        patch = h_cache[:, :, i, j:j + self.p + 1]  # (B, in, p+1)
        pre = torch.einsum("bcx,ocx->bo", patch, (self.h.weight * self.hmask)[:, :, 0])
        pre = pre + self.h.bias
        above = torch.zeros_like(pre) if v_pre_above is None else v_pre_above
        pre = pre + above @ self.v2h.weight[:, :, 0, 0].T + self.v2h.bias
        out = self.out.at(gate(pre))
        return out if self.first else h_in + out


class RowLSTM(nn.Module):
    """Row LSTM layer (van den Oord et al. 2016a, §3.1): rows computed top to bottom, each from
    the row above's hidden state (state-to-state 1×k convolution) and the current row's input
    (input-to-state 1×k convolution with mask B): a triangular context above the pixel."""

    def __init__(self, hidden: int, k: int, channels: int):
        super().__init__()
        self.hidden, self.p = hidden, k // 2
        self.i2s = MaskedConv2d(hidden, 4 * hidden, k, "B", channels)
        mask = torch.zeros_like(self.i2s.mask)
        mask[:, :, self.p] = self.i2s.mask[:, :, self.p]  # keep the current row only (1×k)
        self.i2s.mask.copy_(mask)
        self.s2s = nn.Conv1d(hidden, 4 * hidden, k, padding=self.p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, hidden, H, W) -> same
        b, _, _, width = x.shape
        inp = self.i2s(x)  # (B, 4h, H, W): all rows at once
        h = x.new_zeros(b, self.hidden, width)
        c = torch.zeros_like(h)
        rows = []
        for row in inp.unbind(2):  # unbind: one backward copy instead of one per row
            h, c = lstm_cell(row + self.s2s(h), c)
            rows.append(h)
        return x + torch.stack(rows, 2)  # residual

    def step(self, x_cache: torch.Tensor, state: dict, i: int, j: int) -> torch.Tensor:
        """Output at (i, j). ``x_cache`` (B, hidden, H + 2p, W + 2p) the padded input;
        ``state`` holds the row above's ``h``/``c`` (B, hidden, W) and fills the current row's.
        -> (B, hidden)"""
        p = self.p
        gates = self.i2s.step(x_cache, i, j)
        h_above = F.pad(state["h_above"], (p, p))[:, :, j:j + 2 * p + 1]  # (B, hidden, k)
        gates = gates + torch.einsum("bcx,ocx->bo", h_above, self.s2s.weight) + self.s2s.bias
        h, c = lstm_cell(gates, state["c_above"][:, :, j])
        state["h_row"][:, :, j], state["c_row"][:, :, j] = h, c
        return x_cache[:, :, i + p, j + p] + h


def skew(x: torch.Tensor) -> torch.Tensor:
    """Row i shifted right by i: (B, C, H, W) -> (B, C, H, H + W - 1); column d holds the
    anti-diagonal i + j = d. By padding and re-viewing (one copy, cheap to backpropagate)."""
    b, ch, height, width = x.shape
    flat = F.pad(x, (0, height)).flatten(2)  # rows of length W + H
    return flat[:, :, :height * (width + height - 1)].view(b, ch, height, width + height - 1)


def unskew(x: torch.Tensor, width: int) -> torch.Tensor:
    """Inverse of :func:`skew`: (B, C, H, H + W - 1) -> (B, C, H, W)."""
    b, ch, height, _ = x.shape
    flat = F.pad(x.flatten(2), (0, height))
    return flat.view(b, ch, height, width + height)[..., :width]


class DiagonalLSTM(nn.Module):
    """One direction of the Diagonal BiLSTM (van den Oord et al. 2016a, §3.2): the state at (i, j)
    comes from the hidden states at (i-1, j) and (i, j-1) — a column-wise 2×1 convolution in the
    skewed map — the cell state at (i, j-1), and the input at (i, j) (1×1, mask B). The
    anti-diagonals i + j = d are computed in parallel; states outside the image are kept at zero
    (so one position's step, used in sampling, sees the same neighbours)."""

    def __init__(self, hidden: int, channels: int):
        super().__init__()
        self.hidden = hidden
        self.i2s = Masked1x1(hidden, 4 * hidden, channels)
        self.s2s = nn.Conv1d(hidden, 4 * hidden, 2)  # over (row i-1, row i) of the last column

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, hidden, H, W) -> states, same
        b, _, height, width = x.shape
        inp = skew(self.i2s(x))  # (B, 4h, H, H+W-1)
        rows = torch.arange(height, device=x.device)
        h = x.new_zeros(b, self.hidden, height)
        c = torch.zeros_like(h)
        cols = []
        for d, column in enumerate(inp.unbind(3)):  # unbind: one backward copy, not 55
            gates = column + self.s2s(F.pad(h, (1, 0)))  # (B, 4h, H)
            h, c = lstm_cell(gates, c)
            inside = ((d - rows >= 0) & (d - rows < width)).to(x.dtype)  # (H,)
            h, c = h * inside, c * inside
            cols.append(h)
        return unskew(torch.stack(cols, 3), width)

    def step(self, x_at: torch.Tensor, h_up: torch.Tensor, h_left: torch.Tensor,
             c_left: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(h, c) at one position from its input and its neighbours' states, each (B, hidden);
        zeros stand for neighbours outside the image."""
        w = self.s2s.weight  # (4h, hidden, 2): tap 0 = row above, tap 1 = the left neighbour
        gates = self.i2s.at(x_at) + h_up @ w[:, :, 0].T + h_left @ w[:, :, 1].T + self.s2s.bias
        return lstm_cell(gates, c_left)


def lstm_cell(gates: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Gates (B, 4h, ...) in the order o, f, i, g -> (h, c). Each gate block keeps the colour
    groups aligned when hidden % C == 0."""
    o, f, i, g = gates.chunk(4, 1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


class CausalNet(nn.Module):
    """A network of the layers above: ``forward`` maps images (B, C, H, W) to logits
    (B, K·C, H, W), output channel o predicting colour o % C. For sampling it keeps caches
    between ``start(n)`` and the end of :func:`raster`: ``write`` puts a pixel's value in,
    ``step(i, j)`` gives the logits at (i, j) (B, K·C), ``end_row(i)`` runs what needs a complete
    row (the gated vertical stack, the reverse LSTM)."""

    def start(self, n: int, shape: tuple[int, int, int], device, dtype) -> None:
        raise NotImplementedError

    def write(self, i: int, j: int, c: int, value: torch.Tensor) -> None:
        raise NotImplementedError

    def step(self, i: int, j: int) -> torch.Tensor:
        raise NotImplementedError

    def end_row(self, i: int) -> None:
        """Default: nothing needs a complete row."""

    def stop(self) -> None:
        """Drop the caches (they are not part of the model)."""
        for k in [k for k in vars(self) if k.startswith("cache_")]:
            delattr(self, k)


def raster(net: CausalNet, shape: tuple[int, int, int], n: int, choose, device, dtype
           ) -> torch.Tensor:
    """Run ``net`` pixel by pixel in raster order, colour by colour. ``choose(logits, i, j, c)``
    gets the logits of colour c at pixel (i, j), (n, K), and returns its value (n,) in network
    input space (a draw when sampling, the known pixel when checking the caches). Returns the
    logits of every step, (n, K·C, H, W), as ``forward`` would give them for the chosen image."""
    ch, height, width = shape
    net.start(n, shape, device, dtype)
    out = None
    try:
        for i in range(height):
            for j in range(width):
                for c in range(ch):
                    logits = net.step(i, j)  # (n, K·C): colour c's slice is final now
                    if out is None:
                        out = logits.new_zeros(n, logits.shape[1], height, width)
                    out[:, c::ch, i, j] = logits[:, c::ch]
                    net.write(i, j, c, choose(logits[:, c::ch], i, j, c))
            net.end_row(i)
    finally:
        net.stop()
    return out
