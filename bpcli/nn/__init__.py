"""The NumPy layer graph: layers, losses, initializers, regularizers, models."""
