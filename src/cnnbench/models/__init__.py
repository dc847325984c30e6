"""The networks: every module of this package with a ``build`` function is a model.

A model is a module ``cnnbench/models/<key>.py`` defining
``build(num_classes, input_shape)``, which returns a functional ``keras.Model`` whose
input is raw pixels (0-255) and whose first layer scales them to [0, 1], as the seed did
(x / 255). Its key is the module's name; an optional module-level string
``DISPLAY_NAME`` names it in tables and figures (default: the key). Helper modules
without ``build`` (``blocks``) are not models. No list is kept by hand: the models are
found by listing the package, and the order of a run is the order of ``params.yaml``.

Any network is named by an *architecture*: a ``.py`` file inside the project
(``src/cnnbench/models/lenet5.py``, ``nets/mynet.py``) defining the same ``build``, checked
by ``config.merge.check_architecture``; a package model's key (``lenet5``) is short for its
file. Importing it runs its code: it is the user's own network, named in their params;
paths outside the project are refused. ``saving`` loads a trained network and checks a new
one before it trains; ``macs`` counts its multiply-accumulates.

Listing reads the modules' source (``ast``) and imports nothing, so reading the registry
does not import Keras, and each pipeline stage imports only its own model's module. Of that
source it reads only the top-level function names and string assignments, never a
docstring, comment or line number, so an edit of those in a model file changes nothing
here; ``cnnbench refresh`` relies on that (``cnnbench.source.REVIEWED``).
"""

from __future__ import annotations

import ast
import difflib
import importlib
import importlib.util
import pkgutil
import re
import types
from pathlib import Path
from typing import TYPE_CHECKING

from cnnbench.config.merge import check_architecture
from cnnbench.errors import CnnbenchError

if TYPE_CHECKING:
    import keras

_PACKAGE_DIR = Path(__file__).resolve().parent


def _top_level(path: Path) -> tuple[set[str], dict[str, str]]:
    """The functions a module defines at top level, and its top-level string constants."""
    tree = ast.parse(path.read_text(), filename=str(path))
    functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    strings = {t.id: n.value.value for n in tree.body if isinstance(n, ast.Assign)
               and isinstance(n.value, ast.Constant) and isinstance(n.value.value, str)
               for t in n.targets if isinstance(t, ast.Name)}
    return functions, strings


def available() -> list[str]:
    """The keys of the package's models (modules with a top-level ``build``), sorted."""
    return sorted(m.name for m in pkgutil.iter_modules([str(_PACKAGE_DIR)])
                  if not m.ispkg and "build" in _top_level(_PACKAGE_DIR / f"{m.name}.py")[0])


def display_name(key: str) -> str:
    """The name shown for ``key``: its module's ``DISPLAY_NAME``, else the key itself."""
    path = _PACKAGE_DIR / f"{key}.py"
    if not re.fullmatch(r"\w+", key) or not path.is_file():
        return key
    return _top_level(path)[1].get("DISPLAY_NAME", key)


def unknown_model(key: str) -> str:
    """The one-line message for a key that is no model of the package."""
    known = available()
    close = difflib.get_close_matches(key, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown model {key!r}{hint}; known models: {', '.join(known)}"


def locate(architecture: str) -> Path:
    """The file of ``architecture``, a package model's key or a project ``.py`` file from
    the current folder; ``CnnbenchError`` when there is none."""
    if architecture in available():
        return _PACKAGE_DIR / f"{architecture}.py"
    if not architecture.endswith(".py"):
        raise CnnbenchError(unknown_model(architecture))
    return check_architecture("architecture", architecture, root=".")


def load_module(architecture: str) -> types.ModuleType:
    """Import the module of ``architecture`` (``locate``): a package model as the package's
    own module, any other file under a name of its own. Its classes registered with
    ``keras.saving.register_keras_serializable`` are then known to ``keras.saving``."""
    path = locate(architecture)
    if path.parent == _PACKAGE_DIR:
        return importlib.import_module(f"{__name__}.{path.stem}")
    name = "cnnbench_user_" + re.sub(r"\W", "_", architecture.removesuffix(".py"))
    module_spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(module_spec)
    try:
        module_spec.loader.exec_module(module)
    except (ImportError, SyntaxError) as err:
        raise CnnbenchError(f"{architecture}: {err}") from None
    return module


def build(architecture: str, num_classes: int = 10,
          input_shape: tuple[int, int, int] = (32, 32, 3)) -> keras.Model:
    """Build the network ``architecture``: a model key or a project .py file."""
    module = load_module(architecture)
    if not callable(getattr(module, "build", None)):
        raise CnnbenchError(f"{architecture}: defines no build(num_classes, input_shape)")
    return module.build(num_classes=num_classes, input_shape=input_shape)
