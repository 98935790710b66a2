"""Shared layers and networks; models compose these instead of redefining them."""

from genbench.nn.blocks import DCGANDiscriminator, DCGANGenerator, mlp
from genbench.nn.classifier import ConvClassifier

__all__ = ["ConvClassifier", "DCGANDiscriminator", "DCGANGenerator", "mlp"]
