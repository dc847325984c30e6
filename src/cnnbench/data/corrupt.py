"""CIFAR-10-C-style corruptions of the prepared test split, made here (nothing downloaded).

The 15 corruptions of Hendrycks & Dietterich (ICLR 2019) at severities 1-5, with the
CIFAR-specific constants of their ``make_cifar_c.py`` (hendrycks/robustness), written with
NumPy, SciPy and Pillow. Three differ from the original, because it calls tools that are
no Python package or photographs that are not at hand (docs/guide/robustness.md):

- ``motion_blur`` and ``snow``'s streaks: ImageMagick's motion blur redone (the same
  one-sided Gaussian line kernel of 2*radius+1 taps at integer offsets, the same radius,
  sigma and angle range), edges repeated; the original rounds through an 8-bit PNG.
- ``frost``: a procedural ice texture (a plasma fractal, bluish white) blended with the
  original's weights, in place of six photographs of frost on glass.

Each (corruption, severity) draws from its own random stream, seeded by ``seed`` and its
position in ``CORRUPTIONS``, so one corruption's images do not depend on which others
are built. Images are uint8 (N, H, W, 3); every size is taken from them.

``build_corrupted`` writes the set (``x``: corruption x severity x image) for the
robustness stages; ``apply`` corrupts a batch.
"""

from __future__ import annotations

import io
import os

import numpy as np
from PIL import Image
from scipy import ndimage

from cnnbench.data.dataset import load_prepared
from cnnbench.data.prepare import stratified_indices
from cnnbench.errors import DataError
from cnnbench.files import atomic_path

#: Per corruption, its CIFAR-10-C constants for severities 1-5 (make_cifar_c.py).
CONSTANTS = {
    "gaussian_noise": [0.04, 0.06, .08, .09, .10],
    "shot_noise": [500, 250, 100, 75, 50],
    "impulse_noise": [.01, .02, .03, .05, .07],
    "defocus_blur": [(0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1, 0.2), (1.5, 0.1)],
    "glass_blur": [(0.05, 1, 1), (0.25, 1, 1), (0.4, 1, 1), (0.25, 1, 2), (0.4, 1, 2)],
    "motion_blur": [(6, 1), (6, 1.5), (6, 2), (8, 2), (9, 2.5)],
    "zoom_blur": [np.arange(1, 1.06, 0.01), np.arange(1, 1.11, 0.01),
                  np.arange(1, 1.16, 0.01), np.arange(1, 1.21, 0.01),
                  np.arange(1, 1.26, 0.01)],
    "snow": [(0.1, 0.2, 1, 0.6, 8, 3, 0.95), (0.1, 0.2, 1, 0.5, 10, 4, 0.9),
             (0.15, 0.3, 1.75, 0.55, 10, 4, 0.9), (0.25, 0.3, 2.25, 0.6, 12, 6, 0.85),
             (0.3, 0.3, 1.25, 0.65, 14, 12, 0.8)],
    "frost": [(1, 0.2), (1, 0.3), (0.9, 0.4), (0.85, 0.4), (0.75, 0.45)],
    "fog": [(.2, 3), (.5, 3), (0.75, 2.5), (1, 2), (1.5, 1.75)],
    "brightness": [.05, .1, .15, .2, .3],
    "contrast": [.75, .5, .4, .3, 0.15],
    # (displacement scale, its smoothing sigma, affine jitter), as fractions of the size
    "elastic_transform": [(0, 0, 0.08), (0.05, 0.2, 0.07), (0.08, 0.06, 0.06),
                          (0.1, 0.04, 0.05), (0.1, 0.03, 0.03)],
    "pixelate": [0.95, 0.9, 0.85, 0.75, 0.65],
    "jpeg_compression": [80, 65, 58, 50, 40],
}
CORRUPTIONS = tuple(CONSTANTS)
SEVERITIES = (1, 2, 3, 4, 5)
#: The corruptions that are equivalents of the original, not the same process.
EQUIVALENTS = ("motion_blur", "snow", "frost")
GREY = np.array([0.299, 0.587, 0.114])  # ITU-R 601 luma, as OpenCV's RGB2GRAY


def _gaussian(x: np.ndarray, sigma: float, mode: str = "nearest", truncate: float = 4.0
              ) -> np.ndarray:
    """Gaussian blur of one image over its two spatial axes (scikit-image's defaults)."""
    return ndimage.gaussian_filter(x, sigma=(sigma, sigma, 0)[:x.ndim], mode=mode,
                                   truncate=truncate)


def _clipped_zoom(img: np.ndarray, factor: float) -> np.ndarray:
    """Zoom into the centre of ``img`` by ``factor`` (bilinear), cropped to its size."""
    h, w = img.shape[:2]
    ch, cw = int(np.ceil(h / factor)), int(np.ceil(w / factor))
    top, left = (h - ch) // 2, (w - cw) // 2
    zoomed = ndimage.zoom(img[top:top + ch, left:left + cw], (factor, factor, 1), order=1)
    trim_h, trim_w = (zoomed.shape[0] - h) // 2, (zoomed.shape[1] - w) // 2
    return zoomed[trim_h:trim_h + h, trim_w:trim_w + w]


def plasma_fractal(size: int, decay: float, rng: np.random.Generator) -> np.ndarray:
    """A diamond-square height map in [0, 1], ``size`` x ``size`` (a power of two)."""
    grid = np.zeros((size, size))
    step, wibble = size, 100.0

    def wibbled(total: np.ndarray) -> np.ndarray:
        return total / 4 + wibble * rng.uniform(-wibble, wibble, total.shape)

    while step >= 2:
        half = step // 2
        corners = grid[0:size:step, 0:size:step]
        squares = corners + np.roll(corners, -1, axis=0)
        squares += np.roll(squares, -1, axis=1)
        grid[half:size:step, half:size:step] = wibbled(squares)
        centres = grid[half:size:step, half:size:step]
        corners = grid[0:size:step, 0:size:step]
        grid[0:size:step, half:size:step] = wibbled(
            centres + np.roll(centres, 1, axis=0) + corners + np.roll(corners, -1, axis=1))
        grid[half:size:step, 0:size:step] = wibbled(
            centres + np.roll(centres, 1, axis=1) + corners + np.roll(corners, -1, axis=0))
        step //= 2
        wibble /= decay
    grid -= grid.min()
    return grid / grid.max()


def _fractal(shape: tuple[int, ...], decay: float, rng: np.random.Generator) -> np.ndarray:
    size = 1 << int(np.ceil(np.log2(max(shape[:2]))))
    return plasma_fractal(size, decay, rng)[:shape[0], :shape[1], None]


def motion_blur_kernel(radius: int, sigma: float, angle: float
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ImageMagick's motion blur: weights of a one-sided Gaussian of 2*radius+1 taps and
    their integer (row, column) offsets along ``angle`` degrees."""
    taps = np.arange(2 * int(np.ceil(radius)) + 1)
    weights = np.exp(-taps ** 2 / (2 * sigma ** 2))
    theta = np.deg2rad(angle)
    rows = np.ceil(taps * np.sin(theta) - 0.5).astype(int)
    cols = np.ceil(taps * np.cos(theta) - 0.5).astype(int)
    return weights / weights.sum(), rows, cols


def _motion_blur(img: np.ndarray, radius: int, sigma: float, angle: float) -> np.ndarray:
    """Motion-blur one image (H, W, C): each pixel the weighted line of pixels behind it."""
    h, w = img.shape[:2]
    weights, rows, cols = motion_blur_kernel(radius, sigma, angle)
    r, c = np.arange(h)[:, None], np.arange(w)[None, :]
    return sum(k * img[np.clip(r + dr, 0, h - 1), np.clip(c + dc, 0, w - 1)]
               for k, dr, dc in zip(weights, rows, cols))


# Each corruption: a float image (H, W, 3) in [0, 1], its constant and a random stream
# -> a float image in [0, 255] (truncated to uint8 as the original does).

def gaussian_noise(x, c, rng):
    return np.clip(x + rng.normal(size=x.shape, scale=c), 0, 1) * 255


def shot_noise(x, c, rng):
    return np.clip(rng.poisson(x * c) / c, 0, 1) * 255


def impulse_noise(x, c, rng):
    flipped = rng.random(x.shape) <= c
    salted = rng.random(x.shape) <= 0.5
    return np.where(flipped, salted.astype(float), x) * 255


def defocus_blur(x, c, rng):
    radius, alias_blur = c
    span = np.arange(-max(8, int(radius)), max(8, int(radius)) + 1)
    disk = (span[:, None] ** 2 + span[None, :] ** 2 <= radius ** 2).astype(float)
    taps = 3 if radius <= 8 else 5
    smooth = np.exp(-(np.arange(taps) - taps // 2) ** 2 / (2 * alias_blur ** 2))
    disk /= disk.sum()
    for axis in (0, 1):  # the original anti-aliases the disk with OpenCV's Gaussian blur
        disk = ndimage.correlate1d(disk, smooth / smooth.sum(), axis=axis, mode="mirror")
    blurred = np.stack([ndimage.correlate(x[..., i], disk, mode="mirror")
                        for i in range(x.shape[2])], axis=-1)
    return np.clip(blurred, 0, 1) * 255


def glass_blur(x, c, rng):
    sigma, delta, iterations = c
    h, w = x.shape[:2]
    x = np.uint8(_gaussian(x, sigma) * 255)
    # The original "swaps" x[h, w] and x[h', w'] by a tuple assignment of NumPy views,
    # which copies the neighbour's pixel one way; so does this, on pixel indices.
    order = list(range(h * w))
    for _ in range(iterations):
        moves = rng.integers(-delta, delta, size=(h - 2 * delta, w - 2 * delta, 2))
        for i, row in enumerate(range(h - delta, delta, -1)):
            for j, col in enumerate(range(w - delta, delta, -1)):
                dx, dy = moves[i, j]
                order[row * w + col] = order[(row + dy) * w + col + dx]
    x = x.reshape(h * w, -1)[order].reshape(h, w, -1)
    return np.clip(_gaussian(x / 255, sigma), 0, 1) * 255


def motion_blur(x, c, rng):
    radius, sigma = c
    blurred = _motion_blur(np.round(x * 255), radius, sigma,
                           rng.uniform(-45, 45))
    return np.clip(np.round(blurred), 0, 255)


def zoom_blur(x, c, rng):
    out = sum(_clipped_zoom(x, factor) for factor in c)
    return np.clip((x + out) / (len(c) + 1), 0, 1) * 255


def snow(x, c, rng):
    h, w = x.shape[:2]
    layer = rng.normal(size=(h, w), loc=c[0], scale=c[1])
    layer = _clipped_zoom(layer[..., None], c[2])
    layer[layer < c[3]] = 0
    layer = np.uint8(np.clip(layer, 0, 1) * 255).astype(float)  # an 8-bit image, as the original
    layer = np.round(_motion_blur(layer, c[4], c[5], rng.uniform(-135, -45))) / 255
    grey = x @ GREY
    x = c[6] * x + (1 - c[6]) * np.maximum(x, grey[..., None] * 1.5 + 0.5)
    return np.clip(x + layer + np.rot90(layer, k=2), 0, 1) * 255


def frost(x, c, rng):
    ice = _fractal(x.shape, 1.5, rng) ** 0.7 * np.array([0.88, 0.94, 1.0])
    return np.clip(c[0] * x * 255 + c[1] * ice * 255, 0, 255)


def fog(x, c, rng):
    top = x.max()
    x = x + c[0] * _fractal(x.shape, c[1], rng)
    return np.clip(x * top / (top + c[0]), 0, 1) * 255


def brightness(x, c, rng):
    # HSV's value (the channel maximum) raised by c, hue and saturation kept
    value = x.max(axis=-1, keepdims=True)
    raised = np.clip(value + c, 0, 1)
    out = np.where(value > 0, x * raised / np.where(value > 0, value, 1), raised)
    return np.clip(out, 0, 1) * 255


def contrast(x, c, rng):
    means = x.mean(axis=(0, 1), keepdims=True)
    return np.clip((x - means) * c + means, 0, 1) * 255


def elastic_transform(x, c, rng):
    h, w = x.shape[:2]
    size = min(h, w)
    alpha, sigma, jitter = (v * size for v in c)
    # a random affine map, fixed by where three points around the centre move
    centre = np.float32([w, h]) // 2
    side = size // 3
    src = np.float32([centre + side, [centre[0] + side, centre[1] - side], centre - side])
    dst = src + rng.uniform(-jitter, jitter, size=src.shape).astype(np.float32)
    forward = np.linalg.solve(np.c_[src, np.ones(3)], dst).T  # (x, y, 1) -> (x', y')
    inverse = np.linalg.inv(np.vstack([forward, [0, 0, 1]]))[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(float)
    sx = inverse[0, 0] * xs + inverse[0, 1] * ys + inverse[0, 2]
    sy = inverse[1, 0] * xs + inverse[1, 1] * ys + inverse[1, 2]
    x = np.stack([ndimage.map_coordinates(x[..., i], [sy, sx], order=1, mode="mirror")
                  for i in range(x.shape[2])], axis=-1)
    dx, dy = (_gaussian(rng.uniform(-1, 1, size=(h, w)), sigma, "reflect", 3) * alpha
              for _ in range(2))
    x = np.stack([ndimage.map_coordinates(x[..., i], [ys + dy, xs + dx], order=1,
                                          mode="reflect") for i in range(x.shape[2])], axis=-1)
    return np.clip(x, 0, 1) * 255


def pixelate(x, c, rng):
    h, w = x.shape[:2]
    img = Image.fromarray(np.uint8(np.round(x * 255)))
    small = img.resize((int(w * c), int(h * c)), Image.BOX)
    return np.asarray(small.resize((w, h), Image.BOX))


def jpeg_compression(x, c, rng):
    buffer = io.BytesIO()
    Image.fromarray(np.uint8(np.round(x * 255))).save(buffer, "JPEG", quality=c)
    return np.asarray(Image.open(buffer).convert("RGB"))


FUNCTIONS = {name: globals()[name] for name in CORRUPTIONS}


def stream(seed: int, corruption: str, severity: int) -> np.random.Generator:
    """The random stream of one corruption at one severity."""
    return np.random.default_rng([seed, CORRUPTIONS.index(corruption), severity])


def apply(images: np.ndarray, corruption: str, severity: int, seed: int) -> np.ndarray:
    """``images`` (N, H, W, 3) uint8 under ``corruption`` at ``severity`` (1-5), uint8."""
    function, constant = FUNCTIONS[corruption], CONSTANTS[corruption][severity - 1]
    rng = stream(seed, corruption, severity)
    return np.stack([np.uint8(function(img / 255.0, constant, rng)) for img in images]
                    ) if len(images) else images.copy()


def check_choice(corruptions: tuple[str, ...], severities: tuple[int, ...]) -> None:
    """A one-line error for a corruption or severity that does not exist."""
    for name in corruptions:
        if name not in CONSTANTS:
            raise DataError(f"robustness.corruptions: unknown corruption {name!r}; "
                            f"choose from {', '.join(CORRUPTIONS)}")
    for severity in severities:
        if severity not in SEVERITIES:
            raise DataError(f"robustness.severities: {severity} is not a severity (1-5)")


def build_corrupted(data_file: str | os.PathLike, out_file: str | os.PathLike, images: int,
                    seed: int, corruptions: tuple[str, ...], severities: tuple[int, ...]
                    ) -> dict:
    """Corrupt a seeded, stratified subset of ``images`` test images; write ``out_file``.

    The ``.npz`` holds ``x`` (corruption, severity, image, H, W, 3; uint8), ``y``, the
    subset's ``indices`` into the test split, ``corruptions`` and ``severities``.
    """
    check_choice(corruptions, severities)
    test = load_prepared(data_file).test
    if test.x.ndim != 4 or test.x.shape[-1] != 3:
        raise DataError(f"{data_file}: corruptions need RGB images (N, H, W, 3), "
                        f"got shape {test.x.shape}")
    indices = stratified_indices(test.y, images, seed, "robustness.images")
    clean = test.x[indices]
    x = np.stack([np.stack([apply(clean, name, s, seed) for s in severities])
                  for name in corruptions])
    with atomic_path(out_file, suffix=".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, x=x, y=test.y[indices], indices=indices,
                     corruptions=np.array(corruptions), severities=np.array(severities))
    return {"images": len(indices), "corruptions": len(corruptions),
            "severities": len(severities)}
