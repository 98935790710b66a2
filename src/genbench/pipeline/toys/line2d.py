"""Seed 000's GAN illustration ("Illustration", Tresp): h ~ N(0, 1); data x = h·w with
w = (0.98, 0.2); generator x = h·v starting at v = (0.2, 0.98) (a unit direction, kept unit);
discriminator y = sig(|x₁|d₁ + |x₂|d₂) starting at d = (0.71, −0.71). Alternating SGD updates
of d and v; the slide's first generator update gives about v = (0.39, 0.92)."""

from __future__ import annotations

import math

import torch
from torch import nn

from genbench.core.losses import GAN_LOSSES
from genbench.models.base import Batch, OptimGroup

W_DATA = (0.98, 0.2)
V_START = (0.2, 0.98)
D_START = (0.71, -0.71)


def line_data(n: int, seed: int) -> torch.Tensor:
    """n points x = h·w, h ~ N(0, 1): (n, 1, 1, 2)."""
    h = torch.randn(n, 1, generator=torch.Generator().manual_seed(seed))
    return (h * torch.tensor(W_DATA)).view(n, 1, 1, 2)


def angle_deg(a: torch.Tensor, b: torch.Tensor) -> float:
    """Angle between two lines through the origin (direction sign ignored), in degrees."""
    cos = (a @ b).abs() / (a.norm() * b.norm())
    return math.degrees(math.acos(min(1.0, float(cos))))


class LineGAN(nn.Module):
    """The two-parameter GAN of the slide in the engine's contract (groups ``disc`` and ``gen``,
    plain SGD). Records v and d after every update for the figure."""

    kind = "line2d"

    def __init__(self, lr: float, loss: str = "non_saturating"):
        super().__init__()
        self.v = nn.Parameter(torch.tensor(V_START))
        self.d = nn.Parameter(torch.tensor(D_START))
        self.lr = lr
        self.d_loss, self.g_loss = GAN_LOSSES[loss]
        self.history: list[dict] = [self._state("start")]

    def _state(self, after: str) -> dict:
        return {"after": after, "v": self.v.detach().tolist(), "d": self.d.detach().tolist()}

    def logit(self, x: torch.Tensor) -> torch.Tensor:  # (N, 1, 1, 2) -> (N,)
        return (x.flatten(1).abs() * self.d).sum(1)

    def optimizer_groups(self):
        sgd = {"optimizer": "sgd", "betas": (0.0, 0.0)}
        return {"disc": OptimGroup([self.d], self.lr, **sgd),
                "gen": OptimGroup([self.v], self.lr, **sgd)}

    def losses(self, batch: Batch, group: str):
        h = torch.randn(len(batch.x), 1, device=batch.x.device)
        fake = (h * self.v).view(-1, 1, 1, 2)
        if group == "disc":
            return {"loss": self.d_loss(self.logit(batch.x), self.logit(fake.detach()))}
        return {"loss": self.g_loss(self.logit(fake))}

    def on_step_end(self, group: str) -> None:
        if group == "gen":  # the generator is a direction: keep v on the unit circle
            with torch.no_grad():
                self.v /= self.v.norm()
        self.history.append(self._state(group))


def run(steps: int, lr: float, batch_size: int, seed: int, engine, loss: str = "non_saturating"
        ) -> tuple[LineGAN, dict]:
    """Train the slide's GAN for ``steps`` alternating updates; the numbers the report shows."""
    from genbench.core import engine as E
    from genbench.core import transforms as T
    from genbench.core.data import Split

    torch.manual_seed(seed)
    model = LineGAN(lr, loss)
    x = line_data(max(batch_size, 4096), seed)
    E.fit(model, Split(x, torch.zeros(len(x), dtype=torch.long)), transform=T.get("raw"),
          steps=steps, batch_size=batch_size, seed=seed, engine=engine, name="line2d")
    w = torch.tensor(W_DATA)
    gens = [h for h in model.history if h["after"] in ("start", "gen")]
    angles = [angle_deg(torch.tensor(h["v"]), w) for h in gens]
    first_gen = next(h for h in model.history if h["after"] == "gen")
    return model, {"v_start": list(V_START), "v_after_first_gen_update": first_gen["v"],
                   "v_final": gens[-1]["v"], "d_final": model.history[-1]["d"],
                   "angle_start_deg": angles[0], "angle_final_deg": angles[-1],
                   "angle_min_deg": min(angles),
                   "angles_deg": angles, "updates": len(model.history) - 1}
