"""Datasets: seeded generators, CSV / NPZ / IDX files, Fashion-MNIST, CIFAR-10; splits and batches.

`load_data(section, base_dir=..., seed=...)` turns a validated `data:` spec section into a
`Dataset`; `iterate_batches` cuts a split into seeded mini-batches; `DATASETS` names every
dataset a spec can use (importing this package registers them all).
"""

# registration order is the order `bpcli show` lists datasets in: generators first
from bpcli.data import generators  # noqa: F401  (registers)
from bpcli.data import csv_file, npz_file, idx_file, fashion_mnist, cifar10  # noqa: F401,I001
from bpcli.data.batches import iterate_batches
from bpcli.data.dataset import COMMON_KEYS, Dataset, data_shape, load_data
from bpcli.data.options import DataOptions
from bpcli.data.registry import DATASETS, INJECTED, RawData

__all__ = ["DATASETS", "INJECTED", "COMMON_KEYS", "DataOptions", "Dataset", "RawData", "data_shape", "iterate_batches", "load_data"]
