"""The PyTorch twin of a bpcli spec for the end-to-end bench (bench/e2e.py): same layers,
optimizer, schedule, epochs, batch, L2 on weights only, validation split and early stopping.
Prints one JSON line.

    python bench/torch_fashion_mnist.py configs/fashion-mnist-mlp.yaml [--threads 2] [--set train.epochs=1]
    python bench/torch_fashion_mnist.py bench/configs/conv4-synthetic-cifar.yaml --set data.path=FILE.npz

Needs torch (pip install torch==2.13.0, the CPU build) and the data: Fashion-MNIST (apt-get install
dataset-fashion-mnist, or `data.path:` in the spec) or, for `data.type: npz`, the .npz file of X, y,
X_test, y_test (bench/synthetic_cifar.py writes one), read without pickle. Supports the spec features
these configs use: dense / relu / dropout / flatten / conv2d / maxpool2d layers (He-initialized like
bpcli's); `data.flatten` (false: (1, 28, 28) images), `data.max_examples`, `data.standardize`,
`data.subtract_mean`; sgd, momentum, nesterov, rmsprop, adam, adamw; constant, step, exponential and
cosine schedules. `--set KEY=VALUE` overrides a spec entry as `bpcli train KEY=VALUE` does (numbers
and plain words only). Whole splits are evaluated in chunks bounded as bpcli's are (EVAL_LAYER_BYTES).
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import yaml

DEFAULT_DIRS = (Path("/usr/share/datasets/fashion-mnist"),)
EVAL_CHUNK, EVAL_LAYER_BYTES = 4096, 8 << 20  # bpcli/training/metrics.py: at most 4096 examples, 8 MB per layer output


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (gzipped or not) as a uint8 array of its declared shape."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def find_files(spec_path: Path, data: dict) -> dict:
    folders = [spec_path_of(spec_path, data["path"])] if data.get("path") else list(DEFAULT_DIRS)
    for folder in folders:
        files = {}
        for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
            for name in (stem + ".gz", stem):
                if (folder / name).exists():
                    files[stem] = folder / name
                    break
        if len(files) == 4:
            return files
    raise SystemExit("Fashion-MNIST not found: apt-get install dataset-fashion-mnist")


def spec_path_of(spec_path: Path, path: str) -> Path:
    """A `data.path` as bpcli reads it: relative to the spec's folder unless absolute."""
    return Path(path) if Path(path).is_absolute() else spec_path.parent / path


def read_npz(path: Path) -> tuple:
    """(X float32, y int64, X_test, y_test) of an .npz archive as bpcli's npz dataset reads it, never unpickling."""
    if not path.exists():
        raise SystemExit(f"npz file not found: {path} (bench/synthetic_cifar.py writes one; set data.path)")
    with np.load(path, allow_pickle=False) as archive:
        missing = [k for k in ("X", "y", "X_test", "y_test") if k not in archive.files]
        if missing:
            raise SystemExit(f"{path}: the torch twin needs arrays X, y, X_test, y_test; missing {', '.join(missing)}")
        return (np.ascontiguousarray(archive["X"], dtype=np.float32), archive["y"].astype(np.int64),
                np.ascontiguousarray(archive["X_test"], dtype=np.float32), archive["y_test"].astype(np.int64))


def read_fashion_mnist(spec_path: Path, data: dict) -> tuple:
    """(X, y, X_test, y_test): images in [0, 1] as (N, 784), or (N, 1, 28, 28) with `flatten: false`."""
    files = find_files(spec_path, data)
    shape = (784,) if data.get("flatten", True) else (1, 28, 28)
    X = read_idx(files["train-images-idx3-ubyte"]).reshape(-1, *shape).astype(np.float32) / 255.0
    y = read_idx(files["train-labels-idx1-ubyte"]).astype(np.int64)
    Xte = read_idx(files["t10k-images-idx3-ubyte"]).reshape(-1, *shape).astype(np.float32) / 255.0
    yte = read_idx(files["t10k-labels-idx1-ubyte"]).astype(np.int64)
    return X, y, Xte, yte


def load_arrays(spec_path: Path, data: dict) -> tuple:
    """(X, y, X_test, y_test) of the spec's `data:` section: fashion-mnist or npz."""
    kind = data.get("type", "fashion-mnist")
    if kind == "npz":
        if not data.get("path"):
            raise SystemExit("npz: set data.path to the .npz file")
        return read_npz(spec_path_of(spec_path, data["path"]))
    if kind == "fashion-mnist":
        return read_fashion_mnist(spec_path, data)
    raise SystemExit(f"torch twin: data type '{kind}' is not supported (fashion-mnist, npz)")


def model_items(model: list):
    """(type, options) for each item of a chain spec: `relu`, `{dense: 100}`, `{dense: {units: 100}}`, `{type: dense, ...}`."""
    for item in model:
        if isinstance(item, str):
            yield item, {}
        elif "type" in item:
            yield item["type"], {k: v for k, v in item.items() if k != "type"}
        else:
            (kind, value), = item.items()
            yield kind, value if isinstance(value, dict) else {"_short": value}


def _pair(value, default: int) -> tuple:
    if value is None:
        return (default, default)
    return tuple(int(v) for v in value) if isinstance(value, (list, tuple)) else (int(value), int(value))


def build_model(spec: dict, input_shape: tuple, torch):
    """nn.Sequential of the spec's layers for inputs (N, *input_shape), its weights (L2 applies to them only)
    and the number of values in its largest per-example output (which bounds the evaluation chunk)."""
    from torch import nn

    layers, shape, weights = [], tuple(input_shape), []
    largest = math.prod(shape)
    for kind, opts in model_items(spec["model"]):
        if kind == "dense":
            units = int(opts.get("units", opts.get("_short", 10)))
            if len(shape) > 1:
                layers.append(nn.Flatten())  # bpcli's dense reads (N, ...) as (N, D)
            lin = nn.Linear(math.prod(shape), units)
            nn.init.kaiming_normal_(lin.weight, nonlinearity="relu")  # bpcli's default init: he
            nn.init.zeros_(lin.bias)
            layers.append(lin)
            weights.append(lin.weight)
            shape = (units,)
        elif kind == "conv2d":
            filters = int(opts.get("filters", opts.get("_short", 8)))
            k, st, pad = _pair(opts.get("kernel"), 3), _pair(opts.get("stride"), 1), _pair(opts.get("padding"), 0)
            conv = nn.Conv2d(shape[0], filters, k, stride=st, padding=pad, bias=bool(opts.get("bias", True)))
            nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")  # fan_in = C·kh·kw, as bpcli's he
            if conv.bias is not None:
                nn.init.zeros_(conv.bias)
            layers.append(conv)
            weights.append(conv.weight)
            shape = (filters, *((shape[i + 1] + 2 * pad[i] - k[i]) // st[i] + 1 for i in range(2)))
        elif kind == "maxpool2d":
            size = _pair(opts.get("size", opts.get("_short")), 2)
            st = _pair(opts.get("stride"), 0) if opts.get("stride") is not None else size
            layers.append(nn.MaxPool2d(size, stride=st))
            shape = (shape[0], *((shape[i + 1] - size[i]) // st[i] + 1 for i in range(2)))
        elif kind == "relu":
            layers.append(nn.ReLU())
        elif kind == "dropout":
            layers.append(nn.Dropout(float(opts.get("p", opts.get("rate", opts.get("_short", 0.5))))))
        elif kind == "flatten":
            layers.append(nn.Flatten())
            shape = (math.prod(shape),)
        else:
            raise SystemExit(f"torch twin: layer type '{kind}' is not supported")
        largest = max(largest, math.prod(shape))
    return nn.Sequential(*layers), weights, largest


def apply_overrides(spec: dict, assignments: list) -> dict:
    """KEY=VALUE (dotted keys, YAML scalars) into the spec, as `bpcli train KEY=VALUE`."""
    for item in assignments:
        key, sep, raw = item.partition("=")
        if not sep:
            raise SystemExit(f"--set wants KEY=VALUE, got {item!r}")
        node = spec
        *parents, last = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = yaml.safe_load(raw)
    return spec


def make_optimizer(spec: dict, model, weights, torch):
    opt = dict(spec.get("optimizer") or {"type": "sgd"})
    kind = opt.pop("type", "sgd")
    lr = float(opt.pop("lr", 1e-3 if kind in ("adam", "adamw", "rmsprop") else 1e-2))
    reg = spec.get("regularization") or {}
    l2 = float(reg.get("strength", 0.0)) if reg.get("type") == "l2" else 0.0
    if reg.get("type") not in (None, "none", "l2"):
        raise SystemExit(f"torch twin: regularization '{reg.get('type')}' is not supported")
    weight_ids = {id(w) for w in weights}
    groups = [
        {"params": [p for p in model.parameters() if id(p) in weight_ids], "weight_decay": l2},
        {"params": [p for p in model.parameters() if id(p) not in weight_ids], "weight_decay": 0.0},
    ]
    O = torch.optim
    if kind == "sgd":
        return O.SGD(groups, lr=lr)
    if kind in ("momentum", "nesterov"):
        return O.SGD(groups, lr=lr, momentum=float(opt.get("momentum", 0.9)), nesterov=kind == "nesterov")
    if kind == "rmsprop":
        return O.RMSprop(groups, lr=lr, alpha=float(opt.get("decay_rate", 0.99)), eps=float(opt.get("epsilon", 1e-8)))
    if kind in ("adam", "adamw"):
        betas = (float(opt.get("beta1", 0.9)), float(opt.get("beta2", 0.999)))
        eps = float(opt.get("epsilon", 1e-8))
        if kind == "adam":
            return O.Adam(groups, lr=lr, betas=betas, eps=eps)
        return O.AdamW(model.parameters(), lr=lr, betas=betas, eps=eps, weight_decay=float(opt.get("weight_decay", 1e-2)))
    raise SystemExit(f"torch twin: optimizer '{kind}' is not supported")


def lr_factor(schedule: dict, epoch: int, epochs: int) -> float:
    """bpcli's schedules (bpcli/nn/schedules.py), as a multiplier of the base lr for a 0-based epoch."""
    kind = schedule.get("type", "constant")
    w = int(schedule.get("warmup_epochs", 0))
    if epoch < w:
        return (epoch + 1) / (w + 1)
    e, n = epoch - w, max(epochs - w, 1)
    if kind == "constant":
        return 1.0
    if kind == "step":
        return float(schedule.get("gamma", 0.1)) ** (e // max(int(schedule.get("step_size", 30)), 1))
    if kind == "exponential":
        return float(schedule.get("gamma", 0.95)) ** e
    if kind == "cosine":
        m = float(schedule.get("min_factor", 0.0))
        return m + (1 - m) * 0.5 * (1 + math.cos(math.pi * e / n))
    raise SystemExit(f"torch twin: schedule '{kind}' is not supported")


SANITY_EXAMPLES = 8192  # bpcli/training/metrics.py: the initial loss on at most this many training examples


def eval_chunk(largest: int) -> int:
    """Examples per forward pass over a whole split, as bpcli's: EVAL_CHUNK, fewer where the largest
    layer output of that many float32 examples would pass EVAL_LAYER_BYTES."""
    return max(1, min(EVAL_CHUNK, EVAL_LAYER_BYTES // max(4 * largest, 1)))


def evaluate(model, X, y, torch, chunk: int = EVAL_CHUNK) -> tuple:
    """(mean data loss, accuracy) of a whole split in eval mode, `chunk` examples per forward pass."""
    model.eval()
    loss_sum, hits = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(X), chunk):
            scores, labels = model(X[i:i + chunk]), y[i:i + chunk]
            loss_sum += float(torch.nn.functional.cross_entropy(scores, labels, reduction="sum"))
            hits += int((scores.argmax(1) == labels).sum())
    model.train()
    return loss_sum / max(len(X), 1), hits / max(len(X), 1)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="PyTorch twin of a bpcli spec (Fashion-MNIST or npz data; MLP or convnet)")
    p.add_argument("spec", type=Path)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a spec entry (repeatable)")
    args = p.parse_args(argv)
    started = time.perf_counter()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    spec = apply_overrides(yaml.safe_load(args.spec.read_text(encoding="utf-8")), args.set)
    seed = int(spec.get("seed", 0))
    torch.manual_seed(seed)
    data, train = spec.get("data", {}), spec.get("train", {})
    X, y, Xte, yte = load_arrays(args.spec, data)
    input_shape = X.shape[1:]
    if data.get("max_examples"):
        X, y = X[: int(data["max_examples"])], y[: int(data["max_examples"])]
    perm = np.random.default_rng(seed).permutation(len(X))
    n_val = int(round(float(data.get("val_fraction", 0.0)) * len(X)))
    val_idx, tr_idx = perm[:n_val], perm[n_val:]
    if data.get("standardize"):
        mean, std = X[tr_idx].mean(0), X[tr_idx].std(0) + 1e-8
        X, Xte = (X - mean) / std, (Xte - mean) / std
    elif data.get("subtract_mean"):
        mean = X[tr_idx].mean(0)
        X, Xte = X - mean, Xte - mean
    if n_val:
        X_train, y_train = X[tr_idx], y[tr_idx]
    else:  # nothing held out: the arrays as read, no copy (as bpcli)
        X_train, y_train = X, y
    Xtr, ytr = torch.from_numpy(X_train), torch.from_numpy(y_train)
    Xva, yva = torch.from_numpy(X[val_idx]), torch.from_numpy(y[val_idx])
    Xte_t, yte_t = torch.from_numpy(Xte), torch.from_numpy(yte)

    model, weights, largest = build_model(spec, input_shape, torch)
    chunk = eval_chunk(largest)
    opt = make_optimizer(spec, model, weights, torch)
    base_lrs = [g["lr"] for g in opt.param_groups]
    loss_fn = torch.nn.functional.cross_entropy
    epochs, batch = int(train.get("epochs", 100)), train.get("batch_size")
    batch = int(batch) if batch else len(Xtr)
    stop = train.get("early_stopping")
    monitor = (stop or {}).get("monitor", "val_loss")
    patience = int((stop or {}).get("patience", 10))
    best, best_state, bad, epoch_done = None, None, 0, 0
    gen = torch.Generator().manual_seed(seed)
    stride = -(-len(Xtr) // SANITY_EXAMPLES)  # bpcli's initial-loss check, before its loop
    initial_loss = evaluate(model, Xtr[::stride], ytr[::stride], torch, chunk)[0]
    loop_start = time.perf_counter()
    for epoch in range(epochs):
        factor = lr_factor(spec.get("schedule") or {}, epoch, epochs)
        for g, base in zip(opt.param_groups, base_lrs):
            g["lr"] = base * factor
        order = torch.randperm(len(Xtr), generator=gen) if train.get("shuffle", True) else torch.arange(len(Xtr))
        for i in range(0, len(Xtr), batch):
            idx = order[i:i + batch]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(Xtr[idx]), ytr[idx])
            loss.backward()
            opt.step()
        epoch_done = epoch + 1
        if n_val:  # bpcli's validation pass after every epoch
            val_loss, val_accuracy = evaluate(model, Xva, yva, torch, chunk)
        if stop and n_val:
            score = val_accuracy if monitor.endswith("accuracy") else -val_loss
            if best is None or score > best + float(stop.get("min_delta", 0.0)):
                best, bad = score, 0
                best_state = {k: v.clone() for k, v in model.state_dict().items()}
            else:
                bad += 1
                if bad >= patience:
                    break
    train_seconds = time.perf_counter() - loop_start
    if best_state is not None:
        model.load_state_dict(best_state)
    result = {"epochs": epoch_done, "train_seconds": train_seconds, "initial_loss": initial_loss}
    for split, (Xs, ys) in (("train", (Xtr, ytr)), ("val", (Xva, yva)), ("test", (Xte_t, yte_t))):
        loss, acc = evaluate(model, Xs, ys, torch, chunk) if len(Xs) else (None, None)
        result.update({f"{split}_loss": loss, f"{split}_accuracy": acc})  # bpcli's final metrics, every split
    result.update({"seconds_in_script": time.perf_counter() - started, "threads": torch.get_num_threads()})
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
