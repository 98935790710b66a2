"""The model zoo. Importing this package registers every model (one file per model)."""

from genbench.models import (aae, ae, began, dbn, gan, gmm, gsn, infogan, pca,  # noqa: F401
                             pixelcnn, pixelrnn, progan, rbm, vae)
from genbench.models.base import Batch, GenerativeModel, ModelConfig, OptimGroup, TrainableConfig

__all__ = ["Batch", "GenerativeModel", "ModelConfig", "OptimGroup", "TrainableConfig"]
