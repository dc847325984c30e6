"""Typed, validated params: ``params.yaml`` parsed into frozen dataclasses.

Each stage calls ``load_params`` first, so a mistyped key, a wrong type or an
out-of-range value stops it before any heavy work, with one line that names the
key and the value it got, for example::

    params.yaml: unknown key 'train.epoch' (did you mean 'train.epochs'?)
    params.yaml: train.batch_size must be an integer in [1, 2147483647], got 0

Sections (one per stage, as in params.yaml):

- ``data``      read by fetch and prepare
- ``train``     the training protocol shared by every model (the seed report's), and
                ``train.recipe``, the name of the entry of ``recipes`` to apply on top
- ``recipes``   named sets of ``train`` overrides: ``seed`` (none) and ``modern``
- ``models``    the models to run, each naming its network's ``.py`` file by
                ``architecture``, with overrides of ``train`` keys
- ``evaluate``  read by evaluate
- ``robustness`` the corrupted test images (corrupt) every model is scored on

A section no stage reads is an error too, and ``cnnbench check`` (``check``; ``make
repro`` runs it first) validates the whole file, the architectures' files included,
before DVC parses it.

The modules: ``params`` (the dataclasses and their ranges), ``build`` (YAML into a
dataclass, key by key), ``merge`` (train, then the recipe, then the model's entry),
``check`` (the command).
"""

from __future__ import annotations

import os

import yaml

from cnnbench.config.merge import parse_params
from cnnbench.config.params import (DISTRIBUTIONS, OPTIMIZERS, PRECISIONS, SCHEDULES,
                                    DataParams, EvaluateParams, Params, RobustnessParams,
                                    TrainParams)
from cnnbench.errors import ParamsError

__all__ = ["DISTRIBUTIONS", "OPTIMIZERS", "PRECISIONS", "SCHEDULES", "DataParams",
           "EvaluateParams", "Params", "RobustnessParams", "TrainParams", "load_params",
           "parse_params"]


def load_params(path: str | os.PathLike = "params.yaml",
                root: str | os.PathLike | None = None) -> Params:
    """Read and validate ``path``; every problem is a ``ParamsError`` naming the file.
    With ``root`` (the project's folder), each architecture's file must be there too."""
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
        return parse_params(raw, root)
    except ParamsError as err:
        raise ParamsError(f"{path}: {err}") from None
