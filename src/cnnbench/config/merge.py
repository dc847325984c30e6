"""The merge rules: a model's training params are ``train``, then its recipe, then its own
entry under ``models``; the later wins.

- ``train.recipe`` names an entry of ``recipes`` (``seed``, the default, needs none);
  a recipe may not choose another recipe, and a model may not choose its own.
- Each entry of ``models`` names its network by ``architecture``: a ``.py`` file inside
  the project defining ``build(num_classes, input_shape)``. The file is a dependency of the
  entry's train and evaluate stages in dvc.yaml (both import it), so editing one network
  reruns that model only. Two entries may share a file (a second setting of one network,
  compared side by side).
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath
from typing import Any

from cnnbench.config.build import build, suggest
from cnnbench.config.params import (DataParams, EvaluateParams, Params, RobustnessParams,
                                    TrainParams)
from cnnbench.errors import ParamsError

SECTIONS = ("data", "train", "recipes", "models", "evaluate", "robustness")
EXAMPLE = "{architecture: src/cnnbench/models/lenet5.py}"


def parse_params(raw: Any, root: str | os.PathLike | None = None) -> Params:
    """Validate a params mapping (as read from params.yaml) into ``Params``; with ``root``,
    the project's folder, each architecture's file must also be there."""
    if not isinstance(raw, dict):
        raise ParamsError(f"params must be a mapping of sections, got {raw!r}")
    for key in raw:
        if key not in SECTIONS:  # no stage would read it, so nothing else would say so
            raise ParamsError(f"unknown section '{key}'{suggest(str(key), SECTIONS)}; the "
                              f"sections are {', '.join(SECTIONS)}: move its keys into one "
                              "of them or delete it")
    for key in ("data", "models"):
        if key not in raw:
            raise ParamsError(f"missing section '{key}'")
    train_raw = raw.get("train") or {}
    train = build(TrainParams, train_raw, "train")
    train_raw = {**train_raw, **_recipe(raw.get("recipes"), train_raw, train.recipe)}
    train = build(TrainParams, train_raw, "train")
    entries = raw["models"]
    if not isinstance(entries, dict) or not entries:
        raise ParamsError(f"models must map at least one model name to its architecture and "
                          f"overrides, e.g. lenet5: {EXAMPLE}, got {entries!r}")
    models, architectures = {}, {}
    for name, overrides in entries.items():
        overrides = _entry(name, overrides, root)
        architectures[name] = overrides.pop("architecture")
        models[name] = build(TrainParams, {**train_raw, **overrides}, f"models.{name}")
    return Params(
        data=build(DataParams, raw["data"], "data"),
        train=train,
        evaluate=build(EvaluateParams, raw.get("evaluate"), "evaluate"),
        robustness=build(RobustnessParams, raw.get("robustness"), "robustness"),
        models=models,
        architectures=architectures,
    )


def _entry(name: Any, overrides: Any, root: str | os.PathLike | None) -> dict:
    """Check one entry of ``models``; return a copy of its overrides with its architecture."""
    where = f"models.{name}"
    if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9_]+", name):
        raise ParamsError(f"{where}: names are lowercase letters, digits and _ (they name "
                          "files and stages)")
    if not isinstance(overrides, dict):
        raise ParamsError(f"{where} must be a mapping with its architecture and any train "
                          f"overrides, e.g. {name}: {EXAMPLE}, got {overrides!r}")
    overrides = dict(overrides)
    if "recipe" in overrides:
        raise ParamsError(f"{where}.recipe: a recipe is chosen for all models by "
                          "train.recipe; override single keys here instead")
    if "architecture" not in overrides:
        raise ParamsError(f"{where}.architecture: missing; name the network's .py file, "
                          f"e.g. {name}: {{architecture: src/cnnbench/models/{name}.py}}")
    check_architecture(f"{where}.architecture", overrides["architecture"], root)
    return overrides


def check_architecture(where: str, spec: Any,
                       root: str | os.PathLike | None = None) -> Path | None:
    """An architecture is the path of a ``.py`` file inside the project, from its root: it
    is a train stage's dependency, and importing it runs the user's own network. With
    ``root``, the file must also be there, links resolved (checked before importing it and
    by ``cnnbench check``); returns its resolved path then."""
    if not isinstance(spec, str) or not spec.endswith(".py"):
        raise ParamsError(f"{where} must be the path of a .py file in the project "
                          f"(e.g. src/cnnbench/models/resnet18.py), got {spec!r}")
    if PurePosixPath(spec).is_absolute() or os.path.normpath(spec).startswith(".."):
        raise ParamsError(f"{where}: {spec!r} is outside the project")
    if root is None:
        return None
    path = (Path(root) / spec).resolve()
    if not path.is_relative_to(Path(root).resolve()):
        raise ParamsError(f"{where}: {spec!r} is outside the project (a link out of it)")
    if not path.is_file():
        raise ParamsError(f"{where}: {spec!r}: no such file in {Path(root).resolve()} (write "
                          "the path from the project root, and run from there)")
    return path


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
        build(TrainParams, {**train_raw, **(overrides or {})}, f"recipes.{recipe}")
    if name == "seed" and name not in recipes:
        return {}  # the seed protocol is train's own keys
    if name not in recipes:
        raise ParamsError(f"train.recipe must name an entry of 'recipes' "
                          f"({', '.join(recipes) or 'none defined'}), got {name!r}"
                          f"{suggest(name, recipes)}")
    return dict(recipes[name] or {})
