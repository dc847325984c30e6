"""The params' dataclasses: one per section of params.yaml, each checking its own ranges.

Every numeric param is checked against the range its consumer accepts (a seed NumPy
takes, a count TensorFlow takes as a C integer), so a bad value is one line naming the
key, never a traceback inside a stage.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cnnbench.config.build import suggest
from cnnbench.errors import ParamsError

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
PRECISIONS = ("float32", "mixed_bfloat16")
SCHEDULES = ("constant", "cosine", "onecycle")
DISTRIBUTIONS = ("none", "data_parallel")


#: The largest count a TensorFlow or NumPy call takes as a C integer (batch sizes, epochs,
#: steps, subset sizes): above it they fail with an OverflowError deep in a stage.
MAX_COUNT = 2**31 - 1
#: The largest train.seed: NumPy's and JAX's seeds are 32-bit, and the augmentation layers
#: take seed + 1 and seed + 2.
MAX_TRAIN_SEED = 2**32 - 3


def _positive_int(key: str, value: int | None, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if value is None or not 0 < value <= MAX_COUNT:
        raise ParamsError(f"{key} must be an integer in [1, {MAX_COUNT}]"
                          f"{' or null' if allow_none else ''}, got {value!r}")


def _seed(key: str, value: int, high: int | None) -> None:
    if value < 0 or (high is not None and value > high):
        bound = f"[0, {high}]" if high is not None else "a non-negative integer"
        raise ParamsError(f"{key} must be {'in ' if high is not None else ''}{bound}, "
                          f"got {value!r}")


@dataclass(frozen=True)
class DataParams:
    """Where CIFAR-10 comes from and which part of it to use."""

    source: str
    train_limit: int | None = None
    test_limit: int | None = None
    seed: int = 0
    resize: bool = False
    validation: int = 0  # training images held out for per-epoch validation; 0: the test split

    def check(self, prefix: str) -> None:
        if not self.source.strip():
            raise ParamsError(f"{prefix}.source must be a data set name, a URL or a path, "
                              f"got {self.source!r}")
        _positive_int(f"{prefix}.train_limit", self.train_limit, allow_none=True)
        _positive_int(f"{prefix}.test_limit", self.test_limit, allow_none=True)
        _seed(f"{prefix}.seed", self.seed, None)
        if not 0 <= self.validation <= MAX_COUNT:  # the upper bound per class: prepare
            raise ParamsError(f"{prefix}.validation must be an integer in [0, {MAX_COUNT}] "
                              f"(0: validate on the test split), got {self.validation!r}")


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
    steps_per_execution: int | None = None  # None: 8 on a CPU, 32 on a GPU (train.py)
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

    @property
    def augments(self) -> bool:
        """Whether training images are augmented (crop, flip or cutout)."""
        return bool(self.crop_padding or self.flip or self.cutout)

    def check(self, prefix: str) -> None:
        if self.distribution not in DISTRIBUTIONS:
            raise ParamsError(f"{prefix}.distribution must be one of {', '.join(DISTRIBUTIONS)}"
                              f", got {self.distribution!r}"
                              f"{suggest(self.distribution, DISTRIBUTIONS)}")
        if self.schedule not in SCHEDULES:
            raise ParamsError(f"{prefix}.schedule must be one of {', '.join(SCHEDULES)}, "
                              f"got {self.schedule!r}{suggest(self.schedule, SCHEDULES)}")
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
                              f"got {self.precision!r}{suggest(self.precision, PRECISIONS)}")
        _positive_int(f"{prefix}.steps_per_execution", self.steps_per_execution,
                      allow_none=True)
        if self.optimizer not in OPTIMIZERS:
            raise ParamsError(f"{prefix}.optimizer must be one of {', '.join(OPTIMIZERS)}, "
                              f"got {self.optimizer!r}{suggest(self.optimizer, OPTIMIZERS)}")
        if not 0 < self.learning_rate <= 10:
            raise ParamsError(f"{prefix}.learning_rate must be in (0, 10], "
                              f"got {self.learning_rate!r}")
        _positive_int(f"{prefix}.batch_size", self.batch_size)
        _positive_int(f"{prefix}.epochs", self.epochs)
        _seed(f"{prefix}.seed", self.seed, MAX_TRAIN_SEED)


@dataclass(frozen=True)
class EvaluateParams:
    """How the test split is scored."""

    batch_size: int = 256
    tta_flip: bool = False  # score the mean prediction of each image and its mirror

    def check(self, prefix: str) -> None:
        _positive_int(f"{prefix}.batch_size", self.batch_size)


@dataclass(frozen=True)
class RobustnessParams:
    """The corrupted test images (corrupt) that every model is scored on (robustness)."""

    images: int = 1000          # a seeded, stratified subset of the test split
    seed: int = 0               # the subset and every corruption's random draws
    corruptions: str = "all"    # all, or names separated by commas
    max_severity: int = 5       # severities 1 to this

    @property
    def chosen(self) -> tuple[str, ...] | None:
        """The corruptions named, in order; None for all of them."""
        if self.corruptions.strip() == "all":
            return None
        return tuple(name.strip() for name in self.corruptions.split(","))

    @property
    def severities(self) -> tuple[int, ...]:
        return tuple(range(1, self.max_severity + 1))

    def check(self, prefix: str) -> None:
        _positive_int(f"{prefix}.images", self.images)
        _seed(f"{prefix}.seed", self.seed, MAX_TRAIN_SEED)
        if not 1 <= self.max_severity <= 5:
            raise ParamsError(f"{prefix}.max_severity must be in [1, 5] (CIFAR-10-C's "
                              f"severities), got {self.max_severity!r}")
        if self.chosen is not None and not all(self.chosen):
            raise ParamsError(f"{prefix}.corruptions must be all or names separated by "
                              f"commas, e.g. gaussian_noise, fog; got {self.corruptions!r}")


@dataclass(frozen=True)
class Params:
    """All of params.yaml."""

    data: DataParams
    train: TrainParams
    evaluate: EvaluateParams
    robustness: RobustnessParams = field(default_factory=RobustnessParams)
    models: dict[str, TrainParams] = field(default_factory=dict)
    #: each entry's network: the ``.py`` file its ``architecture`` names
    architectures: dict[str, str] = field(default_factory=dict)

    def train_for(self, model: str) -> TrainParams:
        """The training params of ``model``: ``train`` with its overrides applied."""
        if model not in self.models:
            raise ParamsError(f"model {model!r} is not listed under 'models' in params.yaml"
                              f"{suggest(model, self.models)}")
        return self.models[model]
