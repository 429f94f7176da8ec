"""Weights that leave bpcli and come back: safetensors files with PyTorch state_dict names and
layouts (or bpcli's own), plus a JSON of the architecture.

- `torch_layout(graph)`: the equivalent torch.nn.Sequential, module by module, and which bpcli
  array each of its state_dict entries is (and whether it is transposed);
- `export_weights(graph, path, names=...)`: the .safetensors file and its .json beside it;
- `load_weights(graph, path)`: a file's tensors into a model, every name and shape checked.
"""

from bpcli.weights.export import export_weights
from bpcli.weights.load import load_weights
from bpcli.weights.torch_layout import TorchLayout, torch_layout

__all__ = ["TorchLayout", "export_weights", "load_weights", "torch_layout"]
