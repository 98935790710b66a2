"""The domain classifier behind the default evaluator (features for FID/KID/PR, softmax for IS)."""

from __future__ import annotations

import torch
from torch import nn


class ConvClassifier(nn.Module):
    """Two conv blocks (conv-ReLU-conv-ReLU-maxpool) and a ``feature_dim`` penultimate layer.

    ``features`` is the penultimate activation (the FID/KID/precision-recall space), ``forward``
    returns class logits. Works for any H, W >= 4 (8x8 digits to 32x32 CIFAR).
    """

    def __init__(self, shape: tuple[int, int, int], num_classes: int, width: int = 32,
                 feature_dim: int = 128):
        super().__init__()
        c, h, w = shape
        self.body = nn.Sequential(
            nn.Conv2d(c, width, 3, padding=1), nn.ReLU(True),
            nn.Conv2d(width, width, 3, padding=1), nn.ReLU(True), nn.MaxPool2d(2),  # (B, w, H/2, W/2)
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(True),
            nn.Conv2d(2 * width, 2 * width, 3, padding=1), nn.ReLU(True), nn.MaxPool2d(2),
            nn.Flatten())
        self.embed = nn.Sequential(
            nn.Linear(2 * width * (h // 4) * (w // 4), feature_dim), nn.ReLU(True))
        self.drop = nn.Dropout(0.3)
        self.head = nn.Linear(feature_dim, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) in [0,1] -> (B, F)
        return self.embed(self.body(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, classes) logits
        return self.head(self.drop(self.features(x)))
