"""The autoencoder family (seed 000 "Neural Network Autoencoder", seed 001 "Denoising / Sparse /
Contractive autoencoders", seed 002 "decoder as data generator", Bios 740 "Denoising
Autoencoders"), one class whose variants are config:

- ``ae``: MLP or convolutional encoder/decoder (``arch``), squared-error or Bernoulli
  cross-entropy reconstruction (``reconstruction``);
- ``dae`` = ``corruption: gaussian | masking | salt_pepper`` with ``noise`` = σ or the fraction of
  pixels; the clean input is the target (Vincent et al. 2008);
- ``sparse_ae`` = ``penalty: l1``: weight · Σ_k |h_k|;
- ``cae`` = ``penalty: contractive``: weight · ‖∂h/∂x‖²_F, the exact Jacobian by batched autograd
  (Rifai et al. 2011); it also trains with latent_dim ≥ the input dimension;
- ``stacked_ae`` = ``layerwise_steps: N`` (MLP only): greedy layer-wise pretraining (Bengio et al.
  2007; seed 001 "Stacked autoencoders"): for ``N`` steps each encoder layer k and its mirror
  decoder layer are trained as a one-layer autoencoder of the frozen layer-(k-1) representation,
  bottom up; the remaining steps fine-tune the whole stack end to end. (The supervised
  fine-tuning with few labels is the ``finetune`` analysis, :mod:`genbench.analysis.finetune`.)

Generation (seed 002 "decoder as data generator"): after training, a density is fitted to the
training codes (``code_density``: a Gaussian, or a mixture of Gaussians as Ghosh et al. 2020 fit
to a deterministic autoencoder's codes: :mod:`genbench.nn.density`); samples decode draws from
it, so the AE's samples are judged like every model's.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field

from genbench.core.config import Units
from genbench.core.corruptions import CORRUPTIONS
from genbench.core.errors import ConfigError
from genbench.models.base import Batch, GenerativeModel, OptimGroup, TrainableConfig
from genbench.models.registry import register
from genbench.nn import ConvDecoder, ConvEncoder, mlp
from genbench.nn.density import CodeDensity
from genbench.nn.jacobian import jacobian_frobenius_sq


@register("ae")
class Autoencoder(GenerativeModel):
    family = "Autoencoders"
    #: bf16 vs fp32, the metric check (genbench.core.precision):
    #: mlp bf16: FID within ±25 of fp32 for all six variants (ae seeds sd 11); conv not measured
    cpu_precision = {"mlp": "bf16", "conv": "fp32"}

    class Config(TrainableConfig):
        kind: Literal["ae"] = "ae"
        arch: Literal["mlp", "conv"] = "mlp"
        latent_dim: int = Field(ge=1)
        hidden: list[Units] = Field(default=[512, 256], min_length=1)  # mlp layer sizes
        width: int = Field(default=32, ge=4)  # conv channels
        reconstruction: Literal["mse", "bernoulli"] = "mse"
        corruption: Literal[tuple(CORRUPTIONS)] = "none"  # type: ignore[valid-type]
        noise: float = Field(default=0.0, ge=0)  # σ (gaussian) or fraction (masking, salt_pepper)
        penalty: Literal["none", "l1", "contractive"] = "none"
        penalty_weight: float = Field(default=0.0, ge=0)
        # examples of each batch the contractive penalty is computed on (null = all): an
        # unbiased estimate of the batch mean at a fraction of the Jacobian's cost
        penalty_samples: int | None = Field(default=None, ge=1)
        lr: float = Field(gt=0)
        # greedy layer-wise pretraining: steps per encoder layer before end-to-end training
        # (0 = off); penalties apply in the end-to-end phase only
        layerwise_steps: int = Field(default=0, ge=0)
        # what the decoder samples from: a Gaussian or a mixture fitted to the training codes
        # (genbench.nn.density: gmm = Ghosh et al. 2020's ex-post density estimation)
        code_density: Literal["gaussian", "gmm"] = "gmm"
        code_components: int = Field(default=10, ge=1)  # gmm components

    def __init__(self, cfg: Config, shape, num_classes):
        super().__init__(cfg, shape, num_classes)
        j = cfg.latent_dim
        if cfg.arch == "mlp":
            h = list(cfg.hidden)
            self.encoder = torch.nn.Sequential(torch.nn.Flatten(), mlp([self.dim, *h, j]))
            self.decoder = mlp([j, *reversed(h), self.dim])
        else:
            if cfg.layerwise_steps:
                raise ConfigError("layerwise_steps: greedy layer-wise pretraining needs arch: mlp")
            self.encoder = ConvEncoder(self.shape, cfg.width, j)
            self.decoder = ConvDecoder(j, self.shape, cfg.width)
        # optimizer steps done: picks the layer-wise phase, and is restored on resume
        self.register_buffer("steps_done", torch.zeros((), dtype=torch.long))
        self._steps: int | None = None  # host copy of steps_done: no device sync per step
        # the density fitted to the training codes (prepare_sampling), sampled by _sample
        self.density = CodeDensity(j, cfg.code_density, cfg.code_components)

    def optimizer_groups(self):
        return {"ae": OptimGroup(list(self.parameters()), lr=self.cfg.lr)}

    def encode(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, J)
        return self.encoder(x)

    def _logits(self, h: torch.Tensor) -> torch.Tensor:  # (B, J) -> (B, C, H, W)
        return self.decoder(h).view(-1, *self.shape)

    def decode(self, h: torch.Tensor) -> torch.Tensor:  # (B, J) -> (B, C, H, W) in [0, 1]
        return torch.sigmoid(self._logits(h))  # r = σ(W'h + b') as in Bios 740

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    def phase(self) -> int | None:
        """The encoder layer being pretrained greedily, or None in the end-to-end phase."""
        if not self.cfg.layerwise_steps:
            return None
        if self._steps is None:  # first call, after any resume has loaded the buffer
            self._steps = int(self.steps_done)
        k = self._steps // self.cfg.layerwise_steps
        return k if k < len(self.cfg.hidden) + 1 else None

    def _layer_losses(self, x: torch.Tensor, k: int) -> dict[str, torch.Tensor]:
        """One-layer autoencoder of layer k: encoder linear k and its mirror decoder linear, on
        the frozen representation a_k of the layers below (the target); a_k is corrupted as the
        stacked denoising autoencoder does (Vincent et al. 2010)."""
        enc = [m for m in self.encoder.modules() if isinstance(m, torch.nn.Linear)]
        dec = [m for m in self.decoder.modules() if isinstance(m, torch.nn.Linear)]
        n = len(enc)
        with torch.no_grad():
            a = x.flatten(1)  # (B, D)
            for lin in enc[:k]:
                a = F.relu(lin(a))  # (B, sizes[k])
        e = enc[k](CORRUPTIONS[self.cfg.corruption](a, self.cfg.noise))
        if k < n - 1:
            e = F.relu(e)  # hidden layers are ReLU; the code layer is linear as in the stack
        out = dec[n - 1 - k](e)  # the mirror layer: sizes[k+1] -> sizes[k]
        if k == 0:  # pixels: the configured reconstruction loss on logits
            rec = self._rec_loss(out.view(-1, *self.shape), x)
        else:
            rec = (F.relu(out) - a).pow(2).sum(1).mean()
        return {"loss": rec, "rec": rec.detach(),
                "phase": torch.tensor(float(k), device=x.device)}

    def _rec_loss(self, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        if self.cfg.reconstruction == "mse":  # Σ_j (x_j - x̂_j)², the cost of seed 000
            return (torch.sigmoid(logits) - x).pow(2).flatten(1).sum(1).mean()
        return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1).mean()

    def on_step_end(self, group: str) -> None:
        self.steps_done += 1
        if self._steps is not None:
            self._steps += 1

    def losses(self, batch: Batch, group: str) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        k = self.phase()
        if k is not None:
            return self._layer_losses(batch.x, k)
        x_tilde = CORRUPTIONS[cfg.corruption](batch.x, cfg.noise)  # x̃ ~ q(x̃|x)
        h = self.encode(x_tilde)
        rec = self._rec_loss(self._logits(h), batch.x)
        out = {"rec": rec.detach()}
        if cfg.layerwise_steps:
            out["phase"] = torch.tensor(float(len(cfg.hidden) + 1), device=h.device)
        loss = rec
        if cfg.penalty == "l1":
            pen = h.abs().sum(1).mean()
        elif cfg.penalty == "contractive":  # at the encoder's input, exact Jacobian
            pen = jacobian_frobenius_sq(self.encode, x_tilde[:cfg.penalty_samples]).mean()
        else:
            pen = None
        if pen is not None:
            loss = loss + cfg.penalty_weight * pen
            out["penalty"] = pen.detach()
        out["loss"] = loss
        return out

    def prepare_sampling(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """Fit the code density to the codes of the clean training images."""
        self.density.fit(torch.cat([self.encode(x[i:i + 1000]) for i in range(0, len(x), 1000)]))

    def _sample(self, n, generator, labels=None):
        return self.decode(self.density.sample(n, generator))
