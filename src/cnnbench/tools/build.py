"""The build to install: the pyproject extras for this machine's device and backend.

``make setup`` runs it with the system's Python before the environment exists, so it and
what it imports need only the standard library:

    PYTHONPATH=src python3 -m cnnbench extras [--device auto|gpu|cpu] [--backend tensorflow|jax]
"""

from __future__ import annotations

from cnnbench import runner
from cnnbench.errors import CnnbenchError
from cnnbench.machine import nvidia_gpus

#: pyproject extras per (backend, device): one GPU stack per environment, as Keras advises.
EXTRAS = {
    ("tensorflow", "cpu"): "cpu",
    ("tensorflow", "gpu"): "cuda",
    ("jax", "cpu"): "cpu,jax",
    ("jax", "gpu"): "cpu,jax-cuda",
}
DEVICES = ("auto", "gpu", "cpu")
BACKENDS = ("tensorflow", "jax")


def build_extras(device: str = "auto", backend: str = "tensorflow",
                 gpu_found: bool | None = None) -> str:
    """The pyproject extras to install: ``device`` auto means gpu when ``nvidia-smi``
    lists a GPU (``gpu_found`` None asks it), else cpu."""
    if device not in DEVICES:
        raise ValueError(f"DEVICE must be one of {', '.join(DEVICES)}, got {device!r}")
    if backend not in BACKENDS:
        raise ValueError(f"BACKEND must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if device == "auto":
        found = bool(nvidia_gpus()) if gpu_found is None else gpu_found
        device = "gpu" if found else "cpu"
    return EXTRAS[backend, device]


def main(argv: list[str] | None = None) -> None:
    parser = runner.parser(__doc__, params=False, prog="cnnbench extras")
    parser.add_argument("--device", default="auto", help=f"one of {', '.join(DEVICES)} "
                        "(default: %(default)s, gpu when nvidia-smi lists one)")
    parser.add_argument("--backend", default="tensorflow",
                        help=f"one of {', '.join(BACKENDS)} (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        print(build_extras(args.device or "auto", args.backend or "tensorflow"))
    except ValueError as err:
        raise CnnbenchError(str(err)) from None
