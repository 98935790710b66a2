"""The model zoo. Importing this package registers every model (one file per model)."""

from genbench.models import (  # noqa: F401
                             aae,
                             ae,
                             began,
                             biggan,
                             cyclegan,
                             dbm,
                             dbn,
                             gan,
                             gan_cls,
                             gmm,
                             gsn,
                             infogan,
                             nmf,
                             pca,
                             pix2pix,
                             pixelcnn,
                             pixelrnn,
                             progan,
                             rbm,
                             sagan,
                             srgan,
                             stackgan,
                             stylegan,
                             vae,
)
from genbench.models.base import Batch, GenerativeModel, ModelConfig, OptimGroup, TrainableConfig

__all__ = ["Batch", "GenerativeModel", "ModelConfig", "OptimGroup", "TrainableConfig"]
