"""The domain classifier behind the default evaluator (features for FID/KID/PR, softmax for IS)
and its file: weights, config and the reference (train split) features, written by the
evaluator stage and read by every stage that judges or uses its features."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from genbench.core.config import EvaluatorConfig
from genbench.core.errors import DataError
from genbench.core.io import torch_load, torch_save


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

    def features_and_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Both in one pass (eval mode: dropout is the identity). -> (B, F), (B, classes)"""
        f = self.features(x)
        return f, self.head(self.drop(f))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, classes) logits
        return self.head(self.drop(self.features(x)))


def build_classifier(cfg: EvaluatorConfig, shape, num_classes) -> ConvClassifier:
    return ConvClassifier(tuple(shape), num_classes, cfg.width, cfg.feature_dim)


def save_classifier(path, net: ConvClassifier, cfg: EvaluatorConfig, shape, num_classes,
                    reference: dict[str, torch.Tensor] | None = None) -> None:
    """The classifier file; ``reference``: the features of the real images every model is
    compared with (:func:`reference_features`), computed once here instead of in every
    evaluate stage."""
    torch_save(path, {"format": 1, "kind": "evaluator", "config": cfg.model_dump(),
                      "shape": list(shape), "num_classes": num_classes,
                      "state": {k: v.contiguous() for k, v in net.state_dict().items()},
                      **({"reference": reference} if reference is not None else {})})


def _read_classifier(path) -> dict:
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: evaluator missing; run the evaluator stage first")
    rec = torch_load(path, fix="rebuild it: dvc repro -f evaluator")
    if "absent" in rec:  # the unpaired domain's classifier of data without one
        raise DataError(f"{path}: no classifier ({rec['absent']}); set data.translation.unpaired "
                        f"and rerun the pipeline")
    return rec


def load_classifier(path) -> ConvClassifier:
    rec = _read_classifier(path)
    net = build_classifier(EvaluatorConfig.model_validate(rec["config"]), rec["shape"],
                           rec["num_classes"])
    net.load_state_dict(rec["state"])
    return net.eval()


def load_reference(path) -> dict[str, torch.Tensor]:
    """The stored features of the reference (train) images, as :class:`FeatureExtractor`
    returns them."""
    rec = _read_classifier(path)
    if "reference" not in rec:
        raise DataError(f"{path}: holds no reference features; rerun the evaluator stage")
    return as_reference(rec["reference"])


def as_reference(stored: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Stored reference features in the precision the metrics compute in (float64)."""
    return {k: v.double() for k, v in stored.items()}
