"""The model zoo. Importing this package registers every model (one file per model)."""

from genbench.models import (aae, ae, began, dbn, gan, gmm, infogan, pca, pixelcnn,  # noqa: F401
                             pixelrnn, progan, rbm, vae)
from genbench.models.base import Batch, GenerativeModel, ModelConfig, OptimGroup, TrainableConfig

__all__ = ["Batch", "GenerativeModel", "ModelConfig", "OptimGroup", "TrainableConfig"]
