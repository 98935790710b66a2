"""Image-to-image translation (seeds 000/001 CycleGAN, 002 "image-to-image translation, super
resolution, unpaired translation", 004 Pix2Pix/CycleGAN): the paired tasks as pure functions of
the target image, and the base class the translation models share.

Paired tasks build their input from each (target) image, so the domains exist offline:

- ``edges``: the Sobel gradient magnitude of the digit -> the digit;
- ``sr``: the image average-pooled by ``sr_factor`` -> the image (super resolution);
- ``inpaint``: the image with a ``block`` x ``block`` square hidden (grey) -> the image
  (Pathak et al. 2016's context encoder task).

The unpaired domain is a second real dataset (data.translation.unpaired), split and resized by
the preprocess stage. Images here are floats in [0, 1], (B, C, H, W).
"""

from __future__ import annotations

from typing import ClassVar, Literal

import torch
import torch.nn.functional as F

from genbench.core.config import TranslationConfig
from genbench.core.errors import ConfigError
from genbench.models.base import GenerativeModel, TrainableConfig

TASKS = ("edges", "sr", "inpaint")
HIDDEN = 0.5  # the value of hidden pixels: grey, so the hole differs from a black background

_SOBEL_X = torch.tensor([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]])


def sobel_edges(x: torch.Tensor) -> torch.Tensor:
    """Sobel gradient magnitude per channel, scaled by its maximum 4·√2 into [0, 1]. (B, C, H, W)"""
    c = x.shape[1]
    k = torch.stack([_SOBEL_X, _SOBEL_X.T]).to(x)[:, None].repeat(c, 1, 1, 1)  # (2C, 1, 3, 3)
    g = F.conv2d(x, k, padding=1, groups=c).unflatten(1, (c, 2))  # (B, C, 2, H, W)
    return (g.pow(2).sum(2).sqrt() / (4 * 2 ** 0.5)).clamp(0, 1)


def downsample(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Average pooling by ``factor``: (B, C, H, W) -> (B, C, H/f, W/f)."""
    return F.avg_pool2d(x, factor)


def bicubic(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Bicubic upsampling by ``factor``, clamped to [0, 1]: the super-resolution baseline."""
    return F.interpolate(x, scale_factor=factor, mode="bicubic", align_corners=False).clamp(0, 1)


def hide_block(x: torch.Tensor, block: int, generator: torch.Generator | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Each image with one ``block`` x ``block`` square set to grey at a uniformly drawn place.

    Returns the masked images and the mask (B, 1, H, W), 1 where hidden. Positions are drawn on
    the CPU from ``generator`` (or the global RNG during training: a new hole every batch).
    """
    b, _, h, w = x.shape
    top = torch.randint(h - block + 1, (b,), generator=generator).to(x.device)
    left = torch.randint(w - block + 1, (b,), generator=generator).to(x.device)
    rows = torch.arange(h, device=x.device)
    cols = torch.arange(w, device=x.device)
    in_rows = (rows >= top[:, None]) & (rows < top[:, None] + block)  # (B, H)
    in_cols = (cols >= left[:, None]) & (cols < left[:, None] + block)  # (B, W)
    mask = (in_rows[:, :, None] & in_cols[:, None, :])[:, None].to(x.dtype)  # (B, 1, H, W)
    return x * (1 - mask) + HIDDEN * mask, mask


def paired_input(task: str, x: torch.Tensor, domain: TranslationConfig,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """The full-size input of a paired task for target images ``x`` in [0, 1]; for ``sr`` the
    bicubic upsampling of the low-resolution image (pix2pix's input and the SR baseline)."""
    if task == "edges":
        return sobel_edges(x)
    if task == "sr":
        return bicubic(downsample(x, domain.sr_factor), domain.sr_factor)
    if task == "inpaint":
        return hide_block(x, domain.block, generator)[0]
    raise ValueError(f"unknown translation task {task!r}; one of {', '.join(TASKS)}")


def check_domain(domain: TranslationConfig, shape: tuple[int, int, int]) -> None:
    _, h, w = shape
    if h % domain.sr_factor or w % domain.sr_factor:
        raise ConfigError(f"data.translation.sr_factor = {domain.sr_factor}: must divide the "
                          f"image size {h}x{w}")
    if domain.block >= min(h, w):
        raise ConfigError(f"data.translation.block = {domain.block}: must be smaller than the "
                          f"image size {h}x{w}")


class TranslatorConfig(TrainableConfig):
    """Fields every translation model has. ``domain`` is not set in conf/: the pipeline fills
    it from data/processed/meta.json (data.translation), so the model file carries the domains
    it was trained on."""

    domain: TranslationConfig | None = None


class Translator(GenerativeModel):
    """Base of the translation models: instead of sampling from noise they translate inputs.

    A paired model (``unpaired = False``) builds its input from a target batch with
    :meth:`source`; an unpaired one gets the other domain's train split once through
    :meth:`attach_unpaired` and translates both ways (``reverse``). Images cross this API in
    [0, 1]; the networks work in [-1, 1] (``input_transform`` symmetric, tanh outputs).
    """
    family = "Translation models"

    translates: ClassVar[bool] = True
    #: the paired task when it is fixed by the model (srgan: sr); None = the config's ``task``
    fixed_task: ClassVar[str | None] = None

    def __init__(self, cfg: TranslatorConfig, shape, num_classes):
        super().__init__(cfg, shape, num_classes)
        self.domain = cfg.domain or TranslationConfig()
        check_domain(self.domain, self.shape)

    @property
    def input_transform(self) -> str:
        return "symmetric"

    @property
    def task(self) -> str:
        return self.fixed_task or getattr(self.cfg, "task", "unpaired")

    # --- paired tasks ---------------------------------------------------------------------
    def source(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """The model's input for target images ``x`` in [0, 1] (full size unless overridden)."""
        return paired_input(self.task, x, self.domain, generator)

    def baseline(self, src: torch.Tensor) -> torch.Tensor:
        """What doing nothing gives, at full size: the input itself (edges, inpaint) or its
        bicubic upsampling (sr)."""
        return src

    # --- unpaired ---------------------------------------------------------------------------
    def attach_unpaired(self, x_uint8: torch.Tensor) -> None:
        """The other domain's train split (N, C, H, W) uint8, batched from by :meth:`losses`.
        Not part of the weights (a non-persistent buffer): it follows the model to the device."""
        self.register_buffer("other", x_uint8, persistent=False)

    def other_batch(self, n: int, device: torch.device) -> torch.Tensor:
        """``n`` random images of the other domain in [-1, 1] (global RNG: resumable)."""
        if getattr(self, "other", None) is None:
            raise ConfigError(f"{self.kind} is unpaired: it needs the other domain "
                              f"(data.translation.unpaired)")
        idx = torch.randint(len(self.other), (n,), device=self.other.device)
        return self.other[idx].to(device).float().div_(127.5).sub_(1.0)

    # --- translation ------------------------------------------------------------------------
    def _translate(self, src: torch.Tensor, reverse: bool) -> torch.Tensor:
        """One batch in [-1, 1] -> [-1, 1]."""
        raise NotImplementedError

    @torch.no_grad()
    def translate(self, src: torch.Tensor, generator: torch.Generator | None = None,
                  reverse: bool = False, batch_size: int = 500) -> torch.Tensor:
        """Translate inputs (N, C, h, w) in [0, 1] -> outputs (N, C, H, W) in [0, 1], in eval
        mode. Stochastic layers (pix2pix's dropout) draw from ``generator``: same seed, same
        outputs."""
        if reverse and not self.unpaired:
            raise ValueError(f"{self.kind} translates one way only")
        seed = int(torch.randint(2 ** 62, (1,), generator=generator))
        was_training = self.training
        self.eval()
        try:
            with torch.random.fork_rng(devices=[] if self.device.type == "cpu" else [self.device]):
                torch.manual_seed(seed)
                out = [self._translate(src[i:i + batch_size].to(self.device) * 2 - 1, reverse)
                       for i in range(0, len(src), batch_size)]
        finally:
            self.train(was_training)
        return ((torch.cat(out) + 1) / 2).clamp_(0, 1)

    def _sample(self, n, generator, labels=None):
        raise NotImplementedError(f"{self.kind} translates inputs (translate), it does not "
                                  f"sample from noise")


Task = Literal["edges", "sr", "inpaint"]
