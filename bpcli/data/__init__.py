"""Datasets: seeded generators, CSV / NPZ / IDX files, Fashion-MNIST; splits and batches."""
