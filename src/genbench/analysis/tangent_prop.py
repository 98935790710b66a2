"""Tangent propagation (Simard, Victorri, LeCun & Denker 1992, "Tangent Prop — a formalism for
specifying selected invariances in an adaptive network"; seed 002, "Tangent prop" after the
encoder's tangent vectors): a classifier f trained on

    cross-entropy + γ · mean_x Σ_t ‖J_f(x) t‖²,

the squared directional derivatives of its outputs f along tangent vectors t at each labelled
image x — the directions along which the class should not change. f = the logits: Simard et
al. penalise the network's outputs, but a softmax saturates on a few hundred labelled images
(cross-entropy → 3e-4 here), and then its derivatives vanish and the penalty with them
(measured: 1e-7 at γ = 300, accuracy unchanged); the logits' derivatives do not saturate.
The derivative is exact (forward-mode, ``torch.func.jvp``), as Simard et al. propagate tangents
forward through the network. Tangent vectors, each scaled to unit norm:

- ``transforms``: the Lie derivatives of known transformations (Simard et al.): horizontal and
  vertical shift, −∂I/∂u and −∂I/∂v, and rotation about the centre, v ∂I/∂u − u ∂I/∂v, from
  central differences of the image smoothed by a 3×3 binomial kernel;
- ``encoder``: the top right-singular vectors of an encoder's Jacobian ∂h/∂x (the learned
  manifold's tangent plane: seed 002 "Getting tangent vectors", Rifai et al. 2011's manifold
  tangent classifier uses the CAE's).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from genbench.models.base import Batch, OptimGroup


def _smooth(x: torch.Tensor) -> torch.Tensor:
    k = torch.tensor([1.0, 2.0, 1.0], dtype=x.dtype)
    k = (k[:, None] * k[None, :]) / 16  # 3x3 binomial
    c = x.shape[1]
    return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), k.expand(c, 1, 3, 3).contiguous(),
                    groups=c)


def _unit(t: torch.Tensor) -> torch.Tensor:
    """Each tangent (N, T, C, H, W) scaled to unit L2 norm (zero stays zero)."""
    n = t.flatten(2).norm(dim=2).clamp_min(1e-12)
    return t / n[:, :, None, None, None]


def transform_tangents(x: torch.Tensor) -> torch.Tensor:
    """Shift-x, shift-y and rotation tangents (N, 3, C, H, W) of images (N, C, H, W)."""
    sp = F.pad(_smooth(x), (1, 1, 1, 1), mode="replicate")
    gu = (sp[..., 1:-1, 2:] - sp[..., 1:-1, :-2]) / 2  # ∂I/∂u (columns), central differences
    gv = (sp[..., 2:, 1:-1] - sp[..., :-2, 1:-1]) / 2  # ∂I/∂v (rows)
    h, w = x.shape[-2:]
    u = (torch.arange(w, dtype=x.dtype) - (w - 1) / 2)[None, None, None, :]
    v = (torch.arange(h, dtype=x.dtype) - (h - 1) / 2)[None, None, :, None]
    return _unit(torch.stack([-gu, -gv, v * gu - u * gv], 1))


def penalty(f, x: torch.Tensor, tangents: torch.Tensor) -> torch.Tensor:
    """mean over the batch of Σ_t ‖J_f(x) t‖² for tangents (B, T, C, H, W)."""
    total = x.new_zeros(())
    for i in range(tangents.shape[1]):
        _, d = torch.func.jvp(f, (x,), (tangents[:, i],))
        total = total + d.pow(2).sum(1).mean()
    return total


class MLP(nn.Module):
    def __init__(self, dim: int, hidden: int, classes: int):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(dim, hidden), nn.ReLU(),
                                 nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, classes))

    def forward(self, x):  # (B, C, H, W) -> (B, K) logits
        return self.net(x)


class TangentPropTrainer(nn.Module):
    """The classifier in the engine's contract. A batch's x holds the image in its first
    ``channels`` channels and its tangents after them ((B, C + T·C, H, W): the engine draws
    the rows; the tangents travel with their images); γ = 0 or no tangents: plain
    cross-entropy."""

    kind = "tangent_prop"

    def __init__(self, net: nn.Module, lr: float, weight: float, channels: int):
        super().__init__()
        self.net, self.lr, self.weight, self.c = net, lr, weight, channels

    def optimizer_groups(self):
        return {"clf": OptimGroup(list(self.net.parameters()), lr=self.lr)}

    def losses(self, batch: Batch, group: str):
        x = batch.x[:, :self.c]  # (B, C, H, W)
        t = batch.x[:, self.c:]
        t = t.reshape(len(x), -1, *x.shape[1:])  # (B, T, C, H, W)
        logits = self.net(x)
        ce = F.cross_entropy(logits, batch.y)
        out = {"ce": ce.detach()}
        loss = ce
        if self.weight > 0 and t.shape[1]:
            pen = penalty(self.net, x, t)  # the logits: see the module docstring
            loss = ce + self.weight * pen
            out["tangent"] = pen.detach()
        return {"loss": loss, **out}

    def on_step_end(self, group):
        pass
