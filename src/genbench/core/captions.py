"""Captions for digit images, made from their label and three attributes measured by image
moments (not written by people; the text-to-image models and the ``captions`` data stage use
this one rule). Images in [0, 1], (N, 1, H, W), ink = pixel value as the mass:

- **thickness** = mean pixel value (total ink per pixel): more ink, thicker strokes;
- **slant** = −μ₁₁ / μ₀₂ of the ink's central moments (x right, y down): the horizontal shift
  per row going up, > 0 when the top leans right;
- **size** = √(μ₂₀ + μ₀₂), the radius of gyration of the ink in pixels.

Each attribute is cut into levels at quantiles of the *train split, per class* (a thick 1 is
thick for a 1): thickness and slant in terciles (thin / medium / thick; left-slanted / upright /
right-slanted), size at the median (small / large). The caption is
``"a <thickness> <slant> <size> <digit>"``, e.g. "a thick right-slanted large seven", and its
tokens are word indices in :data:`VOCAB` (all captions have :data:`LENGTH` words).
"""

from __future__ import annotations

import torch

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
ATTRIBUTES = {"thickness": ("thin", "medium", "thick"),
              "slant": ("left-slanted", "upright", "right-slanted"),
              "size": ("small", "large")}
VOCAB = ("a", *[w for levels in ATTRIBUTES.values() for w in levels], *DIGITS)
LENGTH = 2 + len(ATTRIBUTES)  # "a", one word per attribute, the digit
_OFFSET = {}  # attribute -> index of its first word in VOCAB
_i = 1
for _name, _levels in ATTRIBUTES.items():
    _OFFSET[_name] = _i
    _i += len(_levels)
_DIGIT0 = _i


def measure(x: torch.Tensor) -> dict[str, torch.Tensor]:
    """The raw attributes of images in [0, 1]. (N, 1, H, W) -> {name: (N,)}"""
    m = x.mean(1)  # (N, H, W): grey (the channel mean for colour images)
    h, w = m.shape[1:]
    mass = m.sum((1, 2)).clamp_min(1e-6)  # (N,)
    ys = torch.arange(h, dtype=m.dtype, device=m.device)[None, :, None]
    xs = torch.arange(w, dtype=m.dtype, device=m.device)[None, None, :]
    cy = (m * ys).sum((1, 2)) / mass
    cx = (m * xs).sum((1, 2)) / mass
    dy, dx = ys - cy[:, None, None], xs - cx[:, None, None]  # (N, H, 1), (N, 1, W)
    mu02 = (m * dy ** 2).sum((1, 2)) / mass  # vertical spread
    mu20 = (m * dx ** 2).sum((1, 2)) / mass
    mu11 = (m * dx * dy).sum((1, 2)) / mass
    return {"thickness": m.mean((1, 2)), "slant": -mu11 / mu02.clamp_min(1e-6),
            "size": (mu20 + mu02).sqrt()}


def fit_thresholds(x: torch.Tensor, y: torch.Tensor, num_classes: int) -> dict[str, torch.Tensor]:
    """Per-class cut points of each attribute on ``x`` (the train split): terciles for 3 levels,
    the median for 2. {name: (K, levels - 1)}"""
    raw = measure(x)
    out = {}
    for name, levels in ATTRIBUTES.items():
        q = torch.arange(1, len(levels), dtype=torch.float64) / len(levels)
        cuts = torch.zeros(num_classes, len(levels) - 1)
        for k in range(num_classes):
            v = raw[name][y == k].double()
            if len(v):
                cuts[k] = torch.quantile(v, q).float()
        out[name] = cuts
    return out


def levels(raw: dict[str, torch.Tensor], y: torch.Tensor, thresholds: dict[str, torch.Tensor]
           ) -> torch.Tensor:
    """Each image's level of each attribute: the number of its class's cut points below it.
    -> (N, len(ATTRIBUTES)) int64"""
    cols = [(raw[name][:, None] > thresholds[name].to(raw[name].device)[y]).sum(1)
            for name in ATTRIBUTES]
    return torch.stack(cols, 1)


def tokens(y: torch.Tensor, lv: torch.Tensor) -> torch.Tensor:
    """Word indices of the captions of labels (N,) and attribute levels (N, A). -> (N, LENGTH)"""
    words = [torch.zeros_like(y)]  # "a"
    words += [lv[:, i] + _OFFSET[name] for i, name in enumerate(ATTRIBUTES)]
    words.append(y + _DIGIT0)
    return torch.stack(words, 1)


def text(tok: torch.Tensor) -> list[str]:
    """The captions as strings. (N, LENGTH) -> N strings"""
    return [" ".join(VOCAB[i] for i in row) for row in tok.tolist()]


def captions(x: torch.Tensor, y: torch.Tensor, thresholds: dict[str, torch.Tensor]
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """(attribute levels (N, A), tokens (N, LENGTH)) of images in [0, 1] with labels."""
    lv = levels(measure(x), y, thresholds)
    return lv, tokens(y, lv)
