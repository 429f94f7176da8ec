"""A whole spec document -> a validated Spec, or a SpecError listing every problem."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional

from bpcli.data.section import DataSection
from bpcli.errors import did_you_mean
from bpcli.spec.defaults import DEFAULT_SECTIONS
from bpcli.spec.model_spec import INPUT, NodeSpec, layer_resolver, normalize_model, parse_model
from bpcli.spec.options import describe
from bpcli.spec.overrides import apply_overrides
from bpcli.spec.problems import Problems
from bpcli.spec.sections import check_section, check_seed, check_train, normalize_section
from bpcli.spec.user_layers import is_user_layer
from bpcli.spec.yaml_loader import Where
from bpcli.training.options import TrainOptions

SECTIONS = ("seed", "data", "model", "loss", "regularization", "optimizer", "schedule", "train")
TYPED_SECTIONS = tuple(DEFAULT_SECTIONS)


# what `SECTION: null` (in a file or as an override) means: off, never the default silently
NULL_MEANS = {"regularization": {"type": "none"}, "schedule": {"type": "constant"}}


def _explicit_null(raw: dict, name: str, problems: Problems):
    """The section as given; an explicit null is NULL_MEANS[name], or a problem where null means nothing."""
    if not (isinstance(raw, dict) and name in raw and raw[name] is None):
        return raw.get(name) if isinstance(raw, dict) else None
    if name in NULL_MEANS:
        return dict(NULL_MEANS[name])
    problems.add((name,), f"null is not a {name}: give its type (or leave the section out for the default)")
    return None


@dataclass
class Spec:
    """A validated spec. Typed sections are plain dicts {"type": NAME, **every option}."""

    seed: int
    data: dict[str, Any]
    model: list[NodeSpec]  # topological order
    loss: dict[str, Any]
    regularization: dict[str, Any]
    optimizer: dict[str, Any]
    schedule: dict[str, Any]
    train: TrainOptions
    model_form: str = "list"  # "list" (a chain) or "graph" (named nodes)
    path: Optional[Path] = None  # the YAML file, None for text
    base_dir: Path = field(default_factory=Path.cwd)  # user layers and data files are relative to it
    origin: str = ""  # how to name it to the user: its path, or "built-in spec NAME"
    notes: list[str] = field(default_factory=list)  # warnings for stderr, e.g. options an override dropped

    @property
    def output_node(self) -> NodeSpec:
        return self.model[-1]

    def to_dict(self, absolute_paths: bool = False) -> dict[str, Any]:
        """The resolved spec as plain YAML-able values; loading it again gives the same Spec."""
        return _plain(
            {
                "seed": self.seed,
                "data": self.data,
                "model": self._model_dict(absolute_paths),
                "loss": self.loss,
                "regularization": self.regularization,
                "optimizer": self.optimizer,
                "schedule": self.schedule,
                "train": dataclasses.asdict(self.train),
            }
        )

    def _model_dict(self, absolute_paths: bool) -> Any:
        def item(node: NodeSpec) -> dict:
            type_name = node.type
            if absolute_paths and is_user_layer(type_name):
                where, _, cls = type_name.rpartition(":")
                if where.endswith(".py") or "/" in where:
                    type_name = f"{(self.base_dir / where).resolve()}:{cls}"
            return {"type": type_name, **node.options}

        if self.model_form == "list":
            return [({"name": n.name} if n.explicit_name else {}) | item(n) for n in self.model]
        graph = {}
        for n in self.model:
            inputs: Any = n.inputs[0] if len(n.inputs) == 1 else list(n.inputs)
            graph[n.name] = {"in": inputs} | item(n)
        return graph


def _plain(value: Any) -> Any:
    """Tuples -> lists, recursively through dicts and lists (iteratively bounded by depth)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def validate_spec(
    raw: Any,
    positions: dict[tuple, Where],
    file: str,
    base_dir: Path,
    overrides: Iterable[str] = (),
    path: Optional[Path] = None,
) -> Spec:
    """Apply overrides, check everything, raise SpecError with every problem or return a Spec."""
    problems = Problems(positions, file)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        problems.add((), f"a spec is a mapping of sections ({', '.join(SECTIONS)}), got {describe(raw)}")
        problems.raise_if_any()
    raw = _normalized(raw, problems, base_dir)
    problems.items.clear()  # shape problems are found again, with overrides applied, below
    raw = apply_overrides(raw, overrides, problems)
    raw = _normalized(raw, problems, base_dir)
    for key in raw:
        if key not in SECTIONS:
            problems.add((key,), f"unknown section '{key}'{did_you_mean(str(key), SECTIONS)}; sections: {', '.join(SECTIONS)}", at_key=True)
    seed = check_seed(raw.get("seed"), problems)
    typed = {name: check_section(name, _explicit_null(raw, name, problems), problems)
             for name in TYPED_SECTIONS}
    train = check_train(raw.get("train"), problems)
    _check_fractions(typed.get("data"), problems)
    _check_monitor(typed.get("data"), train, problems)
    model, form = parse_model(raw.get("model"), problems, base_dir)
    problems.raise_if_any()
    typed["data"] = DataSection(typed["data"], _places(problems, "data", typed["data"]))
    return Spec(seed=seed, model=model, train=train, model_form=form, path=path, base_dir=base_dir,
                notes=list(problems.notes), **typed)


def _places(problems: Problems, name: str, section: dict) -> dict[str, str]:
    """"file:line:col" of the section ("") and of each option the spec or an override wrote."""
    places = {}
    for key in ("", *section):
        path = (name, key) if key else (name,)
        where = problems.positions.get(path)
        if where is not None:
            places[key] = f"{where.file}:{where.line}:{where.col}" if where.line else where.file
    return places


def _check_fractions(data: Any, problems: Problems) -> None:
    """val_fraction + test_fraction must leave examples for training."""
    if not isinstance(data, dict):
        return
    val, test = data.get("val_fraction", 0.0), data.get("test_fraction", 0.0)
    if isinstance(val, (int, float)) and isinstance(test, (int, float)) and val + test >= 1.0:
        path = ("data", "test_fraction") if "test_fraction" in data else ("data", "val_fraction")
        problems.add(path, f"val_fraction + test_fraction must be below 1 to leave examples for training, got {val} + {test}")


def _check_monitor(data: Any, train: TrainOptions, problems: Problems) -> None:
    """Early stopping on a validation metric needs a validation split (data.val_fraction > 0)."""
    early = train.early_stopping
    if early is None or not early.monitor.startswith("val_") or not isinstance(data, dict):
        return
    if not data.get("val_fraction"):
        problems.add(
            ("train", "early_stopping", "monitor"),
            f"early stopping monitors {early.monitor} but the data has no validation split; "
            "set data.val_fraction (e.g. 0.1) or monitor train_loss",
        )


def _normalized(raw: dict, problems: Problems, base_dir: Path) -> dict:
    """String sections to {type: ...}, model items to long form."""
    out = dict(raw)
    for name in TYPED_SECTIONS:
        if name in out:
            out[name] = normalize_section(out[name], name, problems)
    if "model" in out:
        out["model"] = normalize_model(out["model"], problems, layer_resolver(base_dir))
    return out


__all__ = ["Spec", "validate_spec", "SECTIONS", "INPUT"]
