"""Shared layers and networks; models compose these instead of redefining them."""

from genbench.nn.blocks import ConvDecoder, ConvEncoder, DCGANDiscriminator, DCGANGenerator, mlp
from genbench.nn.classifier import ConvClassifier

__all__ = ["ConvClassifier", "ConvDecoder", "ConvEncoder", "DCGANDiscriminator", "DCGANGenerator",
           "mlp"]
