"""optimlab: see, test and choose deep-learning optimizers, then use them."""

__version__ = "0.1.0"
