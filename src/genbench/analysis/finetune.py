"""Few-label fine-tuning (seed 001 "Stacked autoencoders": unsupervised greedy pretraining, then
supervised fine-tuning of the whole network): the model's encoder plus a softmax layer trained
as a classifier on n labelled train images, starting from the pretrained weights or from a
random initialisation of the same architecture. The gap between the two is what unsupervised
pretraining buys when labels are scarce."""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from genbench.core.config import EngineConfig
from genbench.core.data import Split
from genbench.models.base import Batch, OptimGroup


class EncoderClassifier(nn.Module):
    """softmax(W h(x) + b) over a copy of a model's encoder, in the engine's contract. Every
    parameter the encoder uses is trained; the decoder gets no gradient and stays as it is."""

    kind = "finetune"

    def __init__(self, model: nn.Module, latent_dim: int, num_classes: int, lr: float):
        super().__init__()
        self.model, self.lr = model, lr
        self.head = nn.Linear(latent_dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, K) logits
        return self.head(self.model.encode(x))

    def optimizer_groups(self):
        return {"clf": OptimGroup(list(self.parameters()), lr=self.lr)}

    def losses(self, batch: Batch, group: str):
        logits = self(batch.x)
        return {"loss": F.cross_entropy(logits, batch.y),
                "acc": (logits.argmax(1) == batch.y).float().mean().detach()}

    def on_step_end(self, group):
        pass


def reinitialise(model: nn.Module, seed: int) -> nn.Module:
    """A copy of ``model`` with every layer's parameters drawn afresh (PyTorch's default init)."""
    fresh = copy.deepcopy(model)
    torch.manual_seed(seed)
    for m in fresh.modules():
        if hasattr(m, "reset_parameters") and m is not fresh:
            m.reset_parameters()
    return fresh


def labelled_subset(y: torch.Tensor, n: int, num_classes: int, seed: int) -> torch.Tensor:
    """Indices of n train images, n // K per class (the rest to random classes), seeded."""
    g = torch.Generator().manual_seed(seed)
    per = n // num_classes
    idx = [torch.nonzero(y == c).flatten()[torch.randperm(int((y == c).sum()), generator=g)[:per]]
           for c in range(num_classes)]
    chosen = torch.cat(idx)
    rest = torch.ones(len(y), dtype=torch.bool)
    rest[chosen] = False
    others = torch.nonzero(rest).flatten()
    extra = others[torch.randperm(len(others), generator=g)[:n - len(chosen)]]
    return torch.cat([chosen, extra])


@torch.no_grad()
def accuracy(clf: EncoderClassifier, x: torch.Tensor, y: torch.Tensor) -> float:
    clf.eval()
    pred = torch.cat([clf(b).argmax(1) for b in x.split(500)])
    clf.train()
    return float((pred == y).float().mean())


def few_label_accuracy(model: nn.Module, latent_dim: int, train: Split, test_x: torch.Tensor,
                       test_y: torch.Tensor, n_labels: int, pretrained: bool, seed: int, *,
                       num_classes: int, steps: int, batch_size: int, lr: float,
                       engine: EngineConfig) -> float:
    """Test accuracy after fine-tuning on ``n_labels`` train images (uint8 split; the model sees
    [0, 1] images), from the model's weights or from a fresh initialisation."""
    from genbench.core import engine as E
    from genbench.core import transforms as T

    base = copy.deepcopy(model) if pretrained else reinitialise(model, seed)
    for p in base.parameters():  # the whole network is fine-tuned, not only the softmax layer
        p.requires_grad_(True)
    torch.manual_seed(seed)  # the head's initial weights
    clf = EncoderClassifier(base, latent_dim, num_classes, lr)
    idx = labelled_subset(train.y, n_labels, num_classes, seed)
    E.fit(clf, Split(train.x[idx], train.y[idx]), transform=T.get("unit"), steps=steps,
          batch_size=min(batch_size, len(idx)), seed=seed, engine=engine,
          name=f"finetune n={n_labels}")
    return accuracy(clf.cpu(), test_x, test_y)
