"""The hostile-input catalogue: broken specs and broken data files, each with the exit code
and the place its message must name (a `file:line` or a file and row). Every case runs under
a memory limit and a timeout (tests/test_hostile_inputs.py)."""

from __future__ import annotations

import gzip
import io
import struct
import zipfile
from dataclasses import dataclass, field
from typing import Callable, Dict, Optional, Union

import numpy as np

Content = Union[str, bytes, Callable[[], bytes]]


@dataclass
class Case:
    id: str
    files: Dict[str, Content]              # name -> text, bytes, or a function making bytes
    command: str = "show"                  # show (specs) or train (data: nothing may be written)
    exit: int = 2
    place: str = "spec.yaml:1"             # a fragment the message must contain: file:line or file + row
    says: Optional[str] = None             # and, when given, this fragment of the message
    args: tuple = ()
    special: Optional[str] = None          # "fifo": spec.yaml is a named pipe


def spec(id, text, place, says=None, **kw) -> Case:
    return Case(id, {"spec.yaml": text}, place=place, says=says, **kw)


def laughs(levels: int = 9) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    return "\n".join(lines) + "\n"


GOOD_TAIL = "model: [{dense: 3}]\n"
DATA = "data: {type: spiral, points_per_class: 10}\n"

SPECS = [
    spec("recursive-alias", "model: &m [dense: 3, *m]\n", "spec.yaml:1", "recursive alias"),
    spec("recursive-alias-mapping", "train: &t {epochs: 3, more: *t}\n", "spec.yaml:1", "recursive alias"),
    spec("alias-bomb", laughs(), "spec.yaml", "too large"),
    spec("alias-bomb-in-model", laughs(6) + "model: [*a5]\n", "spec.yaml", "too large"),
    spec("ten-megabytes", "model: [relu]\n#" + "x" * 10_000_000 + "\n", "spec.yaml", "the limit is 1,000,000"),
    spec("nul-in-comment", DATA + "# a \0 comment\n" + GOOD_TAIL, "spec.yaml:2:5", "U+0000"),
    spec("nul-in-value", "data: {type: spir\0al}\n" + GOOD_TAIL, "spec.yaml:1:18", "U+0000"),
    spec("bell-in-key", DATA + "mo\x07del: [relu]\n", "spec.yaml:2:3", "U+0007"),
    spec("escape-char", DATA + "model: [relu]\x1b[31m\n", "spec.yaml:2:14", "U+001B"),
    spec("delete-char", "\x7f" + DATA + GOOD_TAIL, "spec.yaml:1:1", "U+007F"),
    spec("lone-surrogate", DATA + "model: [{dense: 3, name: \"\\ud800\"}]\n", "spec.yaml:2"),
    spec("not-utf8", b"data: {type: spiral}\nmodel: [\xff]\n", "spec.yaml:2:9", "not UTF-8"),
    spec("utf16", "model: [relu]\n".encode("utf-16"), "spec.yaml:1", "not UTF-8"),
    spec("float-tag-on-key", DATA + GOOD_TAIL + "train: {!!float epochs: 300}\n", "spec.yaml:3", "plain name"),
    spec("python-tag-on-key", DATA + GOOD_TAIL + "train: {!!python/object:os.system epochs: 1}\n", "spec.yaml:3", "plain name"),
    spec("python-tag-on-value", DATA + "model: !!python/object/apply:os.system [echo hi]\n", "spec.yaml:2", "unsupported tag"),
    spec("python-name-tag", DATA + GOOD_TAIL + "seed: !!python/name:os.system\n", "spec.yaml:3"),
    spec("set-tag", DATA + GOOD_TAIL + "train: !!set {a, b}\n", "spec.yaml:3", "unsupported tag"),
    spec("binary-tag-key", DATA + GOOD_TAIL + "!!binary aGVsbG8=: 1\n", "spec.yaml:3"),
    spec("complex-key", DATA + GOOD_TAIL + "? [a, b]\n: 1\n", "spec.yaml:3", "plain name"),
    spec("undefined-alias", DATA + "model: [*nothing]\n", "spec.yaml:2", "alias"),
    spec("merge-of-a-list", DATA + GOOD_TAIL + "train: {<<: [1, 2]}\n", "spec.yaml:3"),
    spec("tab-indent", DATA + "model:\n\t- relu\n", "spec.yaml:3"),
    spec("two-documents", DATA + GOOD_TAIL + "---\nseed: 1\n", "spec.yaml:3"),
    spec("bad-directive", "%YAML 9.9\n---\n" + DATA + GOOD_TAIL, "spec.yaml:1"),
    spec("unclosed-flow", "data: {type: spiral\n" + GOOD_TAIL, "spec.yaml:2"),
    spec("deep-lists", "model: " + "[" * 50_000 + "]" * 50_000 + "\n", "spec.yaml", "too deep"),
    spec("deep-block-lists", "model:\n" + "".join(" " * i + "-\n" for i in range(0, 1200)), "spec.yaml", "too deep"),
    spec("deep-mappings", "model: " + "{a: " * 20_000 + "1" + "}" * 20_000 + "\n", "spec.yaml", "too deep"),
    spec("lr-inf", DATA + GOOD_TAIL + "optimizer: {type: sgd, lr: .inf}\n", "spec.yaml:3", "finite"),
    spec("lr-1e400", DATA + GOOD_TAIL + "optimizer: {type: sgd, lr: 1e400}\n", "spec.yaml:3", "finite"),
    spec("lr-minus-inf", DATA + GOOD_TAIL + "optimizer: {type: sgd, lr: -.inf}\n", "spec.yaml:3"),
    spec("lr-nan", DATA + GOOD_TAIL + "optimizer: {type: sgd, lr: .nan}\n", "spec.yaml:3", "nan"),
    spec("lr-underflows-to-zero", DATA + GOOD_TAIL + "optimizer: {type: sgd, lr: 1e-400}\n", "spec.yaml:3", "positive"),
    spec("strength-inf", DATA + GOOD_TAIL + "regularization: {type: l2, strength: .inf}\n", "spec.yaml:3", "finite"),
    spec("clip-norm-inf", DATA + GOOD_TAIL + "train: {clip_norm: .inf}\n", "spec.yaml:3", "finite"),
    spec("momentum-inf", DATA + GOOD_TAIL + "optimizer: {type: momentum, momentum: .inf}\n", "spec.yaml:3"),
    spec("noise-inf", "data: {type: spiral, noise: .inf}\n" + GOOD_TAIL, "spec.yaml:1", "finite"),
    spec("dropout-nan", DATA + "model: [{dropout: .nan}, {dense: 3}]\n", "spec.yaml:2", "nan"),
    spec("units-inf", DATA + "model: [{dense: .inf}]\n", "spec.yaml:2"),
    spec("units-float", DATA + "model: [{dense: 3.5}]\n", "spec.yaml:2"),
    spec("units-huge-int", DATA + "model: [{dense: 99999999999999999999999999999}]\n", "spec.yaml:2"),
    spec("epochs-bool", DATA + GOOD_TAIL + "train: {epochs: true}\n", "spec.yaml:3"),
    spec("epochs-timestamp", DATA + GOOD_TAIL + "train: {epochs: 2001-12-14}\n", "spec.yaml:3"),
    spec("seed-negative", DATA + GOOD_TAIL + "seed: -1\n", "spec.yaml:3"),
    spec("patience-inf", DATA + GOOD_TAIL + "train: {early_stopping: {patience: .inf}}\n", "spec.yaml:3"),
    spec("min-delta-nan", DATA + GOOD_TAIL + "train: {early_stopping: {min_delta: .nan}}\n", "spec.yaml:3"),
    spec("fractions-sum-over-one", "data: {type: spiral,\n  val_fraction: 0.6,\n  test_fraction: 0.6}\n" + GOOD_TAIL,
         "spec.yaml:3", "below 1"),
    spec("val-fraction-one", "data: {type: spiral, val_fraction: 1.0}\n" + GOOD_TAIL, "spec.yaml:1"),
    spec("huge-dense", DATA + "model: [{dense: 1000000}, {dense: 1000000}, {dense: 3}]\n", "spec.yaml:2", "would take"),
    spec("huge-conv", "data: {type: bars, size: 64}\nmodel: [{conv2d: {filters: 1000000, kernel: 64}}, {dense: 3}]\n",
         "spec.yaml:2", "would take"),
    spec("long-layer-name", DATA + "model: [{type: " + "r" * 500_000 + "}]\n", "spec.yaml:2", "more characters"),
    spec("long-node-name", DATA + "model:\n  " + "n" * 300_000 + ": {type: dense, units: 3, in: input}\n", "spec.yaml:3"),
    spec("long-unknown-section", DATA + GOOD_TAIL + "x" * 400_000 + ": 1\n", "spec.yaml:3"),
    spec("long-unknown-key", DATA + GOOD_TAIL + "train: {" + "x" * 900 + ": 1}\n", "spec.yaml:3", "options: epochs"),
    spec("self-loop", DATA + "model:\n  a: {type: relu, in: a}\n", "spec.yaml"),
    spec("unknown-input", DATA + "model:\n  a: {type: dense, units: 3, in: nowhere}\n", "spec.yaml:3"),
    spec("top-level-list", "- model\n- data\n", "spec.yaml:1"),
    spec("top-level-scalar", "hello\n", "spec.yaml:1"),
    spec("empty-file", "", "spec.yaml", "model"),
    spec("only-comments", "# nothing\n", "spec.yaml", "model"),
    spec("model-null", DATA + "model: null\n", "spec.yaml:2"),
    spec("user-layer-outside", DATA + "model: [{type: ../../../etc/passwd:Evil}]\n", "spec.yaml:2"),
    spec("user-layer-os-system", DATA + "model: [{type: 'os:system'}]\n", "spec.yaml:2"),
    spec("expr-nul", DATA + "model: [{dense: 3}, {expr: \"x\\0\"}]\n", "spec.yaml:2"),
    spec("expr-huge-max", DATA + "model: [{dense: 3}, {expr: \"max(" + ", ".join(["x"] * 20000) + ")\"}]\n",
         "spec.yaml", None, exit=0),
    spec("points-times-classes-huge", "data: {type: spiral, points_per_class: 100000000, classes: 1000000}\n" + GOOD_TAIL,
         "spiral", "would take"),
    Case("spec-is-a-fifo", {}, place="spec.yaml", says="FIFO", special="fifo"),
    Case("spec-is-dev-zero", {}, place="/dev/zero", says="character device", special="/dev/zero"),
    Case("spec-is-a-directory", {"spec.yaml/x": "a"}, place="spec.yaml", says="directory"),
]


# ---------------------------------------------------------------- data files
def csv_spec(extra_model: str = "{dense: 3}", options: str = "") -> str:
    return f"data: {{type: csv, path: data.csv{options}}}\nmodel: [{extra_model}]\ntrain: {{epochs: 1}}\n"


def data(id, files, place, says=None, **kw) -> Case:
    return Case(id, files, command="train", place=place, says=says, **kw)


CSV_OK = "x1,x2,y\n0.1,0.2,0\n0.3,0.1,1\n0.5,0.5,2\n"


def csv_case(id, body, place, says=None, **kw):
    return data(id, {"spec.yaml": csv_spec(), "data.csv": body}, place, says, **kw)


def npy_bytes(shape, descr="<f4", body=b"") -> bytes:
    header = "{'descr': '%s', 'fortran_order': False, 'shape': %r, }" % (descr, tuple(shape))
    header = header + " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + body


def npz_of(**members: bytes) -> Callable[[], bytes]:
    def make() -> bytes:
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as z:
            for name, blob in members.items():
                z.writestr(f"{name}.npy", blob)
        return out.getvalue()
    return make


def npz_arrays(**arrays) -> Callable[[], bytes]:
    def make() -> bytes:
        out = io.BytesIO()
        np.savez(out, **arrays)
        return out.getvalue()
    return make


NPZ_SPEC = "data: {type: npz, path: data.npz}\nmodel: [{dense: 3}]\ntrain: {epochs: 1}\n"
IDX_SPEC = "data: {type: idx, images: images.idx, labels: labels.idx, flatten: true}\nmodel: [{dense: 3}]\ntrain: {epochs: 1}\n"


def idx(type_code: int, shape, body: bytes) -> bytes:
    return bytes([0, 0, type_code, len(shape)]) + b"".join(struct.pack(">I", d) for d in shape) + body


GOOD_IMAGES = idx(0x08, (3, 2, 2), bytes(12))
GOOD_LABELS = idx(0x08, (3,), bytes([0, 1, 2]))


def gzip_bomb() -> bytes:
    """An IDX file whose header claims 3 images of 2x2 followed by ~2.5 GB of zeros, gzipped to
    a few MB (gzip members concatenate, so one compressed block is repeated)."""
    block = gzip.compress(bytes(64 * 2**20), compresslevel=9)
    return gzip.compress(GOOD_IMAGES) + block * 40


def gzip_bomb_claimed() -> bytes:
    """A gzipped IDX header claiming 2.5e9 bytes, then the same zeros: refused before reading."""
    block = gzip.compress(bytes(64 * 2**20), compresslevel=9)
    return gzip.compress(idx(0x08, (40 * 64 * 2**20 // 4, 2, 2), b"")) + block * 40


def idx_case(id, images, labels, place, says=None, **kw):
    return data(id, {"spec.yaml": IDX_SPEC, "images.idx": images, "labels.idx": labels}, place, says, **kw)


DATA_FILES = [
    csv_case("csv-trailing-nul", "x1,x2,y\n0.1,0.2,0\n0.3\0,0.1,1\n", "data.csv: row 3", "not a number"),
    csv_case("csv-nul-alone", "x1,x2,y\n0.1,\0,0\n0.3,0.1,1\n", "data.csv: row 2"),
    csv_case("csv-inf", "x1,x2,y\n0.1,inf,0\n0.3,0.1,1\n", "data.csv: row 2", "NaN and inf"),
    csv_case("csv-nan", "x1,x2,y\n0.1,0.2,0\n0.3,NaN,1\n", "data.csv: row 3", "NaN and inf"),
    csv_case("csv-1e400", "x1,x2,y\n0.1,1e400,0\n0.3,0.1,1\n", "data.csv: row 2"),
    csv_case("csv-underscore-number", "x1,x2,y\n0.1,1_000,0\n0.3,0.1,1\n", "data.csv: row 2", "not a number"),
    csv_case("csv-arabic-digit", "x1,x2,y\n0.1,\u0663,0\n0.3,0.1,1\n", "data.csv: row 2", "not a number"),
    csv_case("csv-hex", "x1,x2,y\n0.1,0x10,0\n0.3,0.1,1\n", "data.csv: row 2", "not a number"),
    csv_case("csv-label-out-of-range", CSV_OK + "0.2,0.2,7\n", "data.csv: row 5", "out of range"),
    csv_case("csv-label-negative", CSV_OK + "0.2,0.2,-1\n", "data.csv: row 5"),
    csv_case("csv-label-fraction", CSV_OK + "0.2,0.2,1.5\n", "data.csv: row 5"),
    csv_case("csv-label-nan", CSV_OK + "0.2,0.2,nan\n", "data.csv: row 5"),
    csv_case("csv-label-control-char", "x1,x2,y\n0.1,0.2,cat\n0.3,0.1,d\x01og\n", "data.csv: row 3", "control character"),
    csv_case("csv-ragged", "x1,x2,y\n0.1,0.2,0\n0.3,1\n", "data.csv"),
    csv_case("csv-empty", "", "data.csv"),
    csv_case("csv-header-only", "x1,x2,y\n", "data.csv"),
    csv_case("csv-not-utf8", b"x1,x2,y\n0.1,0.2,0\n\xff,0.1,1\n", "data.csv"),
    csv_case("csv-huge-field", "x1,x2,y\n0.1,0.2,0\n0.3," + "9" * 200_000 + ",1\n", "data.csv"),
    csv_case("csv-unclosed-quote", 'x1,x2,y\n0.1,0.2,0\n"0.3,0.1,1\n' + "1,2,0\n" * 1000, "data.csv"),
    data("csv-is-a-fifo", {"spec.yaml": csv_spec()}, "data.csv", "FIFO", special="fifo-data"),
    data("csv-is-dev-zero", {"spec.yaml": csv_spec().replace("data.csv", "/dev/zero")}, "/dev/zero", "character device"),
    data("npz-claims-1e12-elements", {"spec.yaml": NPZ_SPEC,
                                      "data.npz": npz_of(X=npy_bytes((10**12, 2)), y=npy_bytes((10**12,), "<i8"))},
         "data.npz", "would take"),
    data("npz-claims-more-than-it-holds", {"spec.yaml": NPZ_SPEC,
                                           "data.npz": npz_of(X=npy_bytes((10**6, 2)), y=npy_bytes((10**6,), "<i8"))},
         "data.npz", "holds"),
    data("npz-object-array", {"spec.yaml": NPZ_SPEC,
                              "data.npz": npz_arrays(X=np.array([[1, "a"]], dtype=object), y=np.array([0]))},
         "data.npz", "pickle"),
    data("npz-not-a-zip", {"spec.yaml": NPZ_SPEC, "data.npz": b"PK\x03\x04" + b"\x00" * 100}, "data.npz"),
    data("npz-nan", {"spec.yaml": NPZ_SPEC, "data.npz": npz_arrays(X=np.array([[np.nan, 1.0]] * 3), y=np.array([0, 1, 2]))},
         "data.npz"),
    data("npz-lengths-differ", {"spec.yaml": NPZ_SPEC, "data.npz": npz_arrays(X=np.zeros((3, 2)), y=np.array([0, 1]))},
         "data.npz"),
    data("npz-label-out-of-range", {"spec.yaml": NPZ_SPEC,
                                    "data.npz": npz_arrays(X=np.zeros((4, 2)), y=np.array([0, 1, 2, 9]))},
         "data.npz[y]: example 3", "out of range"),
    idx_case("idx-dimensions-overflow-int64", idx(0x08, (2**32 - 1,) * 4, b""), GOOD_LABELS, "images.idx", "would take"),
    idx_case("idx-claims-1e12", idx(0x08, (10**6, 1000, 1000), bytes(100)), GOOD_LABELS, "images.idx", "would take"),
    idx_case("idx-truncated", idx(0x08, (3, 2, 2), bytes(5)), GOOD_LABELS, "images.idx", "truncated"),
    idx_case("idx-bad-magic", b"\x01\x02\x03\x04" + bytes(20), GOOD_LABELS, "images.idx", "magic"),
    idx_case("idx-zero-dims", bytes([0, 0, 8, 0]), GOOD_LABELS, "images.idx"),
    idx_case("idx-gzip-bomb", gzip_bomb, GOOD_LABELS, "images.idx", "longer than its header"),
    idx_case("idx-gzip-claims-too-much", gzip_bomb_claimed, GOOD_LABELS, "images.idx"),
    idx_case("idx-gzip-corrupt", gzip.compress(GOOD_IMAGES)[:-12] + b"garbage!", GOOD_LABELS, "images.idx"),
    idx_case("idx-label-out-of-range", GOOD_IMAGES, idx(0x08, (3,), bytes([0, 1, 200])), "labels.idx: example 2", "out of range"),
    idx_case("idx-counts-differ", GOOD_IMAGES, idx(0x08, (2,), bytes([0, 1])), "labels.idx"),
    idx_case("idx-float-nan-images", idx(0x0D, (3, 2, 2), np.full(12, np.nan, ">f4").tobytes()), GOOD_LABELS, "images.idx", "NaN"),
]
