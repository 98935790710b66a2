"""genbench: reproducible benchmarks of the generative models of high-dimensional data."""

__version__ = "0.1.0"
