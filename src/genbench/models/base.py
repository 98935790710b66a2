"""The model contract every genbench model fits; the engine (:mod:`genbench.core.engine`) knows only this.

A model

- declares named optimizer groups (:meth:`optimizer_groups`): one for a VAE, ``disc`` and ``gen``
  with their own step ratio for a GAN, none for a closed-form model (which implements :meth:`fit`);
- returns its losses for a batch and a group (:meth:`losses`); the engine does backward and steps;
- samples images in [0, 1] (:meth:`sample`) from an explicit random generator;
- where it exists: ``log_likelihood(x)`` (nats per image, with :attr:`likelihood` saying whether it
  is exact, a bound or an estimate), ``encode``/``decode``/``reconstruct``, ``chain(n, steps)``
  (the successive states of a Markov chain sampler: its mixing is measured).
"""

from __future__ import annotations

from math import prod
from typing import Callable, ClassVar

import torch
from pydantic import Field
from torch import nn

from genbench.core.config import Section
from genbench.core.engine import Batch, OptimGroup
from genbench.core.precision import Precision


class ModelConfig(Section):
    """Fields every model config has. ``kind`` picks the registered class."""

    kind: str
    # the sample-quality gate (genbench.metrics.sample_gate) judges this model's samples;
    # false where the lecture's point is a limitation of them (linear models, mixtures, 2-D
    # codes drawn as pictures): the gate is still computed, not counted
    gate: bool = True


class TrainableConfig(ModelConfig):
    """Fields of every model trained by gradient steps through the engine."""

    steps: int = Field(ge=1)
    batch_size: int = Field(ge=1)
    # set by a budget's epoch rule (budget.epochs, e.g. budget=paper): train for this many passes
    # over the train split instead of `steps`
    epochs: int | None = Field(default=None, ge=1)


class GenerativeModel(nn.Module):
    """Base class of registered models. Subclasses set ``Config`` and implement the contract."""

    kind: ClassVar[str]  # set by @register
    Config: ClassVar[type[ModelConfig]]
    #: the report's section (the lectures' families); also the gate's bar
    #: (:func:`genbench.metrics.sample_gate`)
    family: ClassVar[str] = "Other models"
    #: "exact", "lower bound (ELBO)", ... or None when the model has no likelihood.
    likelihood: ClassVar[str | None] = None
    #: True when sampling takes class labels (cGAN, conditional VAE): samples are judged for
    #: class accuracy and test metrics see the labels.
    conditional: ClassVar[bool] = False
    #: why the model cannot train data-parallel (per-rank state, whole-batch statistics), or
    #: None: :func:`genbench.core.distributed.blocker` reads it
    not_data_parallel: ClassVar[str | None] = None
    #: a translation model (:class:`genbench.models.translation.TranslationModel`): it maps a
    #: source image to a target (``translate``) instead of sampling; train/sample/evaluate
    #: build its inputs from the data and score its outputs against the test targets
    translates: ClassVar[bool] = False
    #: translates between two unpaired domains (CycleGAN): trains with the other domain's
    #: train split (``attach_unpaired``) and is judged both ways
    unpaired: ClassVar[bool] = False
    #: trains with the evaluator's feature map (``attach_features``; SRGAN's feature content
    #: loss): may be a property of the config
    needs_features: ClassVar[bool] = False
    #: its sampling "labels" are code values, not classes (InfoGAN): judged after a code→class
    #: matching instead of by class accuracy
    labels_are_codes: ClassVar[bool] = False
    #: the measurement of stage ``gan_studies`` that defines the model (None: it has none):
    #: "truncation" (BigGAN's fidelity/variety curve over ``truncations``), "style" (StyleGAN's
    #: style mixing and path lengths: ``mixed``), "text" (text-to-image: ``from_embedding``)
    study: ClassVar[str | None] = None
    #: what ``train.precision: auto`` trains the kind in on a CPU: one precision, or one per
    #: ``cfg.arch`` (architectures run different kernels); an architecture not named is fp32.
    #: Set from measurements only (:mod:`genbench.core.precision`): ``make bench`` faster *and*
    #: no metric of the default run worse than the seed noise
    cpu_precision: ClassVar[Precision | dict[str, Precision]] = "fp32"

    def __init__(self, cfg: ModelConfig, shape: tuple[int, int, int], num_classes: int):
        super().__init__()
        self.cfg = cfg
        self.shape = tuple(shape)
        self.num_classes = num_classes
        self.dim = prod(shape)

    # --- training -------------------------------------------------------------------------
    @property
    def input_transform(self) -> str:
        """Name of the :mod:`genbench.core.transforms` transform applied to batches."""
        return "unit"

    def optimizer_groups(self) -> dict[str, OptimGroup]:
        return {}

    def losses(self, batch: Batch, group: str) -> dict[str, torch.Tensor]:
        """Scalar losses for ``group``; ``"loss"`` is the one backpropagated."""
        raise NotImplementedError

    def on_step_end(self, group: str) -> None:
        """Hook after an optimizer step of ``group`` (weight clipping, control variables)."""

    #: optional hook ``on_train_start(x, y)`` run before the first engine step (and again on
    #: resume) with the whole (transformed) train split, e.g. a semi-supervised model draws its
    #: labelled subset; None: the engine skips it and the model's RNG stream is untouched
    on_train_start: ClassVar[Callable[[torch.Tensor, torch.Tensor], None] | None] = None

    def fit(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        """Closed-form fit on the whole (transformed) train split; models without groups only."""
        raise NotImplementedError(f"{self.kind} has optimizer groups; train it with the engine")

    def on_train_end(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """Hook after the last engine step, with the whole (transformed) train split: e.g. an
        AIS estimate of log Z. Calls :meth:`prepare_sampling` by default."""
        self.prepare_sampling(x, y)

    def prepare_sampling(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """What sampling needs fitted after the weights, from the whole (transformed) train
        split: e.g. an autoencoder fits the density of its codes that it samples from. Also run
        on each learning-curve snapshot before it is sampled."""

    # --- sampling -------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        for t in [*self.parameters(), *self.buffers()]:
            return t.device
        return torch.device("cpu")

    def randn(self, *shape: int, generator: torch.Generator | None) -> torch.Tensor:
        """Standard normal noise drawn on the CPU from ``generator`` (same samples on any device)."""
        return torch.randn(*shape, generator=generator).to(self.device)

    def _sample(self, n: int, generator: torch.Generator | None,
                labels: torch.Tensor | None = None) -> torch.Tensor:
        """``n`` samples (n, C, H, W) in [0, 1]; ``labels`` (n,) for conditional models."""
        raise NotImplementedError

    def sample_labels(self, n: int) -> torch.Tensor | None:
        """The labels a conditional model is sampled with: every class in turn."""
        return torch.arange(n) % self.num_classes if self.conditional else None

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None,
               labels: torch.Tensor | None = None, batch_size: int = 1000) -> torch.Tensor:
        """``n`` samples (n, C, H, W) in [0, 1], drawn in batches in eval mode."""
        if labels is None:
            labels = self.sample_labels(n)
        was_training = self.training
        self.eval()
        try:
            out = [self._sample(min(batch_size, n - i), generator,
                                None if labels is None else labels[i:i + batch_size].to(self.device))
                   for i in range(0, n, batch_size)]
        finally:
            self.train(was_training)
        return torch.cat(out).clamp_(0, 1)

    # --- evaluation on test data ----------------------------------------------------------
    #: test images the likelihood is computed on (the first ones of the test split); None =
    #: all. For estimates too costly for the whole split (the VAE's IWAE with k = 5000).
    likelihood_images: int | None = None

    @property
    def likelihood_pixels(self) -> str:
        """What the likelihood is a density of: "binary" (binarised pixels), "8-bit" (256
        levels) or "continuous" ([0, 1] pixels; moved to the 8-bit scale for bits/dim)."""
        return "binary" if self.input_transform.startswith("binary") else "continuous"

    def test_metrics(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per-image test quantities (B,) for a batch in model input space and its labels,
        besides the likelihood (scored separately, on ``likelihood_images``).

        Default: ``recon_mse`` if the model reconstructs.
        """
        out = {}
        if hasattr(self, "reconstruct"):
            x_hat = self.reconstruct(x, y) if self.conditional else self.reconstruct(x)
            out["recon_mse"] = (x_hat - x).pow(2).flatten(1).mean(1)
        return out

    def summary_metrics(self) -> dict[str, float]:
        """Scalars reported next to the test metrics that are not per image (e.g. an AIS log Z
        and its spread over repeats)."""
        return {}

    def log_likelihood(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B,) nats
        raise NotImplementedError(f"{self.kind} has no likelihood")

    def test_log_likelihood(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``log_likelihood`` with the labels where the model is conditional. (B,) nats"""
        return self.log_likelihood(x, y) if self.conditional else self.log_likelihood(x)
