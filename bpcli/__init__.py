"""bpcli: see and check backpropagation."""

__version__ = "0.1.0"
