"""Typed, validated params: ``params.yaml`` parsed into frozen dataclasses.

Each stage calls ``load_params`` first, so a mistyped key, a wrong type or an
out-of-range value stops it before any heavy work, with one line that names the
key and the value it got, for example::

    params.yaml: unknown key 'train.epoch' (did you mean 'train.epochs'?)
    params.yaml: train.batch_size must be a positive integer, got 0

Sections (one per stage, as in params.yaml):

- ``data``      read by fetch and prepare
- ``train``     the training protocol shared by every model (the seed report's), and
                ``train.recipe``, the name of the entry of ``recipes`` to apply on top
- ``recipes``   named sets of ``train`` overrides: ``seed`` (none) and ``modern``
- ``models``    the models to run, each a module of ``cnnbench.models`` by key, with
                overrides of ``train`` keys
- ``variants``  more entries, each naming its network by ``architecture:`` (a ``.py``
                file in the project) with overrides of ``train`` keys: a second setting
                of a package model, or a network outside the package
- ``evaluate``  read by evaluate

A model's training params are ``train``, then its recipe, then ``models.<name>`` (or
``variants.<name>``); the later wins.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import types
import typing
from dataclasses import dataclass, field
from typing import Any

import yaml

from cnnbench.errors import ParamsError
from cnnbench import models as registry

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
PRECISIONS = ("float32", "mixed_bfloat16")
SCHEDULES = ("constant", "cosine", "onecycle")
DISTRIBUTIONS = ("none", "data_parallel")


def _positive_int(key: str, value: int | None, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if value is None or value <= 0:
        raise ParamsError(f"{key} must be a positive integer{' or null' if allow_none else ''}, "
                          f"got {value!r}")


@dataclass(frozen=True)
class DataParams:
    """Where CIFAR-10 comes from and which part of it to use."""

    source: str
    train_limit: int | None = None
    test_limit: int | None = None
    seed: int = 0
    resize: bool = False

    def check(self, prefix: str) -> None:
        if not self.source.strip():
            raise ParamsError(f"{prefix}.source must be a URL or a path, got {self.source!r}")
        _positive_int(f"{prefix}.train_limit", self.train_limit, allow_none=True)
        _positive_int(f"{prefix}.test_limit", self.test_limit, allow_none=True)


@dataclass(frozen=True)
class TrainParams:
    """The training protocol (the seed report's by default)."""

    recipe: str = "seed"
    optimizer: str = "adam"
    learning_rate: float = 0.001
    batch_size: int = 32
    epochs: int = 5
    seed: int = 0
    precision: str = "float32"
    jit_compile: bool | None = None
    steps_per_execution: int | None = None  # None: 1 on a CPU, 32 on a GPU (train.py)
    distribution: str = "none"
    # the training recipe's knobs; these defaults are the seed's (all off)
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 0.0
    schedule: str = "constant"
    warmup: float = 0.0
    label_smoothing: float = 0.0
    crop_padding: int = 0
    flip: bool = False
    cutout: float = 0.0
    tta_flip: bool = False

    @property
    def augments(self) -> bool:
        """Whether training images are augmented (crop, flip or cutout)."""
        return bool(self.crop_padding or self.flip or self.cutout)

    def check(self, prefix: str) -> None:
        if self.distribution not in DISTRIBUTIONS:
            raise ParamsError(f"{prefix}.distribution must be one of {', '.join(DISTRIBUTIONS)}"
                              f", got {self.distribution!r}"
                              f"{_suggest(self.distribution, DISTRIBUTIONS)}")
        if self.schedule not in SCHEDULES:
            raise ParamsError(f"{prefix}.schedule must be one of {', '.join(SCHEDULES)}, "
                              f"got {self.schedule!r}{_suggest(self.schedule, SCHEDULES)}")
        for key, low, high in (("momentum", 0.0, 1.0), ("label_smoothing", 0.0, 1.0),
                               ("cutout", 0.0, 1.0), ("warmup", 0.0, 1.0)):
            value = getattr(self, key)
            if not low <= value < high:
                raise ParamsError(f"{prefix}.{key} must be in [{low:g}, {high:g}), got {value!r}")
        if not 0 <= self.weight_decay <= 1:
            raise ParamsError(f"{prefix}.weight_decay must be in [0, 1], "
                              f"got {self.weight_decay!r}")
        if not 0 <= self.crop_padding <= 16:
            raise ParamsError(f"{prefix}.crop_padding must be in [0, 16] pixels, "
                              f"got {self.crop_padding!r}")
        if self.precision not in PRECISIONS:
            raise ParamsError(f"{prefix}.precision must be one of {', '.join(PRECISIONS)}, "
                              f"got {self.precision!r}{_suggest(self.precision, PRECISIONS)}")
        _positive_int(f"{prefix}.steps_per_execution", self.steps_per_execution,
                      allow_none=True)
        if self.optimizer not in OPTIMIZERS:
            raise ParamsError(f"{prefix}.optimizer must be one of {', '.join(OPTIMIZERS)}, "
                              f"got {self.optimizer!r}{_suggest(self.optimizer, OPTIMIZERS)}")
        if not 0 < self.learning_rate <= 10:
            raise ParamsError(f"{prefix}.learning_rate must be in (0, 10], "
                              f"got {self.learning_rate!r}")
        _positive_int(f"{prefix}.batch_size", self.batch_size)
        _positive_int(f"{prefix}.epochs", self.epochs)


@dataclass(frozen=True)
class EvaluateParams:
    """How the test split is scored."""

    batch_size: int = 256

    def check(self, prefix: str) -> None:
        _positive_int(f"{prefix}.batch_size", self.batch_size)


@dataclass(frozen=True)
class Params:
    """All of params.yaml."""

    data: DataParams
    train: TrainParams
    evaluate: EvaluateParams
    models: dict[str, TrainParams] = field(default_factory=dict)
    #: each entry's network: its key for ``models``, its ``architecture`` for ``variants``
    architectures: dict[str, str] = field(default_factory=dict)

    def train_for(self, model: str) -> TrainParams:
        """The training params of ``model``: ``train`` with its overrides applied."""
        if model not in self.models:
            raise ParamsError(f"model {model!r} is not listed under 'models' in params.yaml"
                              f"{_suggest(model, self.models)}")
        return self.models[model]


def _suggest(word: str, choices: typing.Iterable[str], prefix: str = "") -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean '{prefix}{close[0]}'?)" if close else ""


def _type_ok(value: Any, hint: Any) -> tuple[bool, Any]:
    """Check ``value`` against a simple type hint; ints are accepted as floats."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return True, None
        hint = next(a for a in args if a is not type(None))
    if hint is float and isinstance(value, int | float) and not isinstance(value, bool):
        return True, float(value)
    if hint is int and isinstance(value, int) and not isinstance(value, bool):
        return True, value
    if hint is str and isinstance(value, str):
        return True, value
    if hint is bool and isinstance(value, bool):
        return True, value
    return False, value


_TYPE_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}


def _build(cls: type, raw: Any, prefix: str) -> Any:
    """Build dataclass ``cls`` from mapping ``raw``, naming ``prefix.key`` in errors."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ParamsError(f"{prefix} must be a mapping of keys, got {raw!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    for key in raw:
        if key not in names:
            raise ParamsError(f"unknown key '{prefix}.{key}'"
                              f"{_suggest(str(key), names, prefix + '.')}")
    values = {}
    for f in dataclasses.fields(cls):
        if f.name not in raw:
            if f.default is dataclasses.MISSING:
                raise ParamsError(f"missing key '{prefix}.{f.name}'")
            continue
        ok, value = _type_ok(raw[f.name], hints[f.name])
        if not ok:
            hint = hints[f.name]
            base = next((a for a in typing.get_args(hint) if a is not type(None)), hint)
            nullable = " or null" if type(None) in typing.get_args(hint) else ""
            raise ParamsError(f"{prefix}.{f.name} must be {_TYPE_NAMES.get(base, base)}"
                              f"{nullable}, got {raw[f.name]!r}")
        values[f.name] = value
    obj = cls(**values)
    obj.check(prefix)
    return obj


def parse_params(raw: Any) -> Params:
    """Validate a params mapping (as read from params.yaml) into ``Params``."""
    if not isinstance(raw, dict):
        raise ParamsError(f"params must be a mapping of sections, got {raw!r}")
    sections = ("data", "train", "recipes", "models", "variants", "evaluate")
    for key in raw:
        if key not in sections:
            raise ParamsError(f"unknown key '{key}'{_suggest(str(key), sections)}")
    for key in ("data", "models"):
        if key not in raw:
            raise ParamsError(f"missing section '{key}'")
    train_raw = raw.get("train") or {}
    train = _build(TrainParams, train_raw, "train")
    train_raw = {**train_raw, **_recipe(raw.get("recipes"), train_raw, train.recipe)}
    train = _build(TrainParams, train_raw, "train")
    models_raw = raw["models"]
    if not isinstance(models_raw, dict) or not models_raw:
        raise ParamsError("models must map at least one model name to its overrides "
                          f"({', '.join(registry.available())}), got {models_raw!r}")
    variants_raw = raw.get("variants") or {}
    if not isinstance(variants_raw, dict):
        raise ParamsError("variants must map names to {architecture: <file.py>, overrides}, "
                          f"got {variants_raw!r}")
    models, architectures = {}, {}
    for section, entries in (("models", models_raw), ("variants", variants_raw)):
        for name, overrides in entries.items():
            where = f"{section}.{name}"
            overrides = _entry(section, name, overrides, models)
            architectures[name] = overrides.pop("architecture", name)
            models[name] = _build(TrainParams, {**train_raw, **overrides}, where)
    return Params(
        data=_build(DataParams, raw["data"], "data"),
        train=train,
        evaluate=_build(EvaluateParams, raw.get("evaluate"), "evaluate"),
        models=models,
        architectures=architectures,
    )


def _entry(section: str, name: Any, overrides: Any, earlier: dict) -> dict:
    """Check one entry of ``models`` or ``variants``; return a copy of its overrides."""
    where = f"{section}.{name}"
    if section == "models" and name not in registry.available():
        known = registry.available()
        raise ParamsError(f"unknown model '{where}'{_suggest(str(name), known)}; "
                          f"known models: {', '.join(known)}")
    if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9_]+", name):
        raise ParamsError(f"{where}: names are lowercase letters, digits and _ (they name "
                          "files and stages)")
    if name in earlier:
        raise ParamsError(f"{where}: {name!r} is already an entry of models")
    if overrides is not None and not isinstance(overrides, dict):
        raise ParamsError(f"{where} must be a mapping of train overrides "
                          f"(for example {{epochs: 10}}), got {overrides!r}")
    overrides = dict(overrides or {})
    if "recipe" in overrides:
        raise ParamsError(f"{where}.recipe: a recipe is chosen for all models by "
                          "train.recipe; override single keys here instead")
    if section == "models" and "architecture" in overrides:
        raise ParamsError(f"{where}.architecture: a model's network is its key; list an "
                          "entry with its own architecture under 'variants'")
    if section == "variants":
        _check_variant_architecture(where, overrides.get("architecture"))
    return overrides


def _check_variant_architecture(where: str, spec: Any) -> None:
    """A variant's architecture must be a .py file inside the project (its train dep)."""
    if not isinstance(spec, str) or not spec.endswith(".py"):
        raise ParamsError(f"{where}.architecture must be the path of a .py file in the "
                          f"project (e.g. src/cnnbench/models/resnet18.py), got {spec!r}")
    try:
        registry.check_architecture(spec)
    except ValueError as err:
        raise ParamsError(f"{where}.architecture: {err}") from None


def _recipe(recipes: Any, train_raw: dict, name: str) -> dict:
    """The overrides of recipe ``name`` (``train.recipe``), checked key by key."""
    if recipes is None:
        recipes = {}
    if not isinstance(recipes, dict):
        raise ParamsError(f"recipes must map recipe names to train overrides, got {recipes!r}")
    for recipe, overrides in recipes.items():
        if overrides is not None and not isinstance(overrides, dict):
            raise ParamsError(f"recipes.{recipe} must be a mapping of train overrides "
                              f"(for example {{optimizer: sgd}}), got {overrides!r}")
        if "recipe" in (overrides or {}):
            raise ParamsError(f"recipes.{recipe}.recipe: a recipe cannot select another")
        _build(TrainParams, {**train_raw, **(overrides or {})}, f"recipes.{recipe}")
    if name == "seed" and name not in recipes:
        return {}  # the seed protocol is train's own keys
    if name not in recipes:
        raise ParamsError(f"train.recipe must name an entry of 'recipes' "
                          f"({', '.join(recipes) or 'none defined'}), got {name!r}"
                          f"{_suggest(name, recipes)}")
    return dict(recipes[name] or {})


def load_params(path: str | os.PathLike = "params.yaml") -> Params:
    """Read and validate ``path``; every problem is a ``ParamsError`` naming the file."""
    try:
        with open(path) as fh:
            raw = yaml.safe_load(fh)
    except FileNotFoundError:
        raise ParamsError(f"{path}: no such file; run from the project root "
                          "or pass --params") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise ParamsError(f"{path}: not valid YAML{where}: "
                          f"{getattr(err, 'problem', err)}") from None
    try:
        return parse_params(raw)
    except ParamsError as err:
        raise ParamsError(f"{path}: {err}") from None
