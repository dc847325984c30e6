"""Robustness and calibration: the corruptions, the corrupt stage's errors and ECE (the
rows they add to `cnnbench compare` are tested in test_noise_review.py).

- Every corruption is deterministic for a seed, keeps shape and dtype, works at other image
  sizes, and changes the image more at a higher severity by a statistic suited to it.
- Seven corruptions reproduce CIFAR-10-C's constants (make_cifar_c.py) exactly on
  synthetic images: Gaussian noise's std, shot noise's photon count, impulse noise's
  amount, brightness's value shift, contrast's factor, JPEG's quality, pixelate's size.
- ECE, Brier score and NLL against hand-computed cases.
- Bad params (an unknown corruption, severity 0 or 6, a subset larger than the test split)
  are one-line errors with a non-zero exit.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from helpers import ROOT, run, write_params

from cnnbench.config import load_params
from cnnbench.data import corrupt
from cnnbench.errors import ParamsError
from cnnbench.robustness import brier_score, calibration, expected_calibration_error, reliability

RNG = np.random.default_rng(0)
#: smooth synthetic images (random walks), mid-range, and white-noise images
SMOOTH = np.clip(np.cumsum(np.cumsum(RNG.normal(size=(12, 32, 32, 3)), 1), 2) * 3 + 128,
                 0, 255).astype(np.uint8)
NOISE = RNG.integers(0, 256, size=(12, 32, 32, 3)).astype(np.uint8)
#: corruptions that draw nothing at random: the same images whatever the seed
FIXED = {"defocus_blur", "zoom_blur", "brightness", "contrast", "pixelate",
         "jpeg_compression"}


def _decorrelation(clean, out) -> float:
    """1 - the mean correlation of each corrupted image with its clean one."""
    return float(np.mean([1 - np.corrcoef(a.ravel(), b.ravel().astype(float))[0, 1]
                          for a, b in zip(clean.astype(float), out)]))


def _detail_lost(clean, out) -> float:
    """The share of the image's fine detail (variance of its Laplacian) that is gone."""
    def detail(x):
        return np.mean([np.var(ndimage.laplace(i.astype(float).mean(-1))) for i in x])
    return 1 - detail(out) / detail(clean)


#: per corruption: the statistic that grows with severity, and the images it is read on
STATISTICS = {name: (_decorrelation, SMOOTH) for name in corrupt.CORRUPTIONS}
STATISTICS.update({name: (_detail_lost, NOISE) for name in
                   ("glass_blur", "motion_blur", "elastic_transform")})
#: neighbouring severities (0-based) whose constants do not order them: glass blur's sigma
#: is 0.4 at severity 3 and 0.25 at 4; elastic's affine jitter shrinks as its local warp
#: grows (4 -> 5); motion blur's severities 3 and 4 differ in taps past the 13th only,
#: which sigma 2 weighs at about 1 % (each image's random angle matters more); frost's
#: severities 3 and 4 differ only in the image's weight (0.9, 0.85), less than the texture
UNORDERED = {"glass_blur": {(2, 3)}, "elastic_transform": {(3, 4)}, "motion_blur": {(2, 3)},
             "frost": {(2, 3)}}


@pytest.mark.parametrize("name", corrupt.CORRUPTIONS)
def test_each_corruption_is_deterministic_and_keeps_shape_and_dtype(name):
    images = SMOOTH[:3]
    first = corrupt.apply(images, name, 3, seed=7)
    assert first.shape == images.shape and first.dtype == np.uint8
    assert np.array_equal(first, corrupt.apply(images, name, 3, seed=7))
    assert not np.array_equal(first, images)
    if name not in FIXED:
        assert not np.array_equal(first, corrupt.apply(images, name, 3, seed=8))
    odd = RNG.integers(0, 256, size=(2, 24, 40, 3)).astype(np.uint8)  # any image size
    assert corrupt.apply(odd, name, 5, seed=0).shape == odd.shape


@pytest.mark.parametrize("name", corrupt.CORRUPTIONS)
def test_a_higher_severity_changes_the_image_more(name):
    statistic, images = STATISTICS[name]
    values = [statistic(images, corrupt.apply(images, name, s, seed=0))
              for s in corrupt.SEVERITIES]
    assert values[-1] > values[0], values
    for i in range(4):
        if (i, i + 1) not in UNORDERED.get(name, ()):
            assert values[i + 1] > values[i], (name, i + 2, values)


def test_gaussian_noise_has_cifar_10_cs_standard_deviation():
    grey = np.full((40, 32, 32, 3), 128, np.uint8)
    for severity, std in enumerate([0.04, 0.06, .08, .09, .10], 1):
        noise = corrupt.apply(grey, "gaussian_noise", severity, 0) - 128.0 + 0.5  # truncation
        assert np.std(noise) / 255 == pytest.approx(std, rel=0.02)


def test_shot_noise_and_impulse_noise_have_cifar_10_cs_constants():
    grey = np.full((40, 32, 32, 3), 128, np.uint8)
    for severity, photons in enumerate([500, 250, 100, 75, 50], 1):
        out = corrupt.apply(grey, "shot_noise", severity, 0) / 255
        # Poisson(x c) / c has variance x / c
        assert np.var(out) == pytest.approx(128 / 255 / photons, rel=0.05)
    for severity, amount in enumerate([.01, .02, .03, .05, .07], 1):
        out = corrupt.apply(grey, "impulse_noise", severity, 0)
        assert np.isin(out, (0, 255)).mean() == pytest.approx(amount, rel=0.08)


def test_contrast_and_brightness_have_cifar_10_cs_factors():
    images = (SMOOTH // 2 + 64).astype(np.uint8)  # no clipping
    for severity, factor in enumerate([.75, .5, .4, .3, 0.15], 1):
        out = corrupt.apply(images, "contrast", severity, 0).astype(float)
        for clean, low in zip(images.astype(float), out):
            means = clean.mean(axis=(0, 1))
            fitted = np.polyfit((clean - means).ravel(), (low - means).ravel(), 1)[0]
            assert fitted == pytest.approx(factor, abs=0.01)
    dark = np.full((2, 8, 8, 3), (40, 80, 120), np.uint8)
    for severity, shift in enumerate([.05, .1, .15, .2, .3], 1):
        out = corrupt.apply(dark, "brightness", severity, 0).astype(float)
        # HSV value (the channel maximum) + shift, hue and saturation kept
        assert out[..., 2].max() == pytest.approx(120 + shift * 255, abs=1)
        assert out[0, 0, 0, 0] / out[0, 0, 0, 2] == pytest.approx(40 / 120, abs=0.01)


def test_jpeg_and_pixelate_reproduce_cifar_10_cs_quality_and_size():
    images = SMOOTH[:4]
    for severity, quality in enumerate([80, 65, 58, 50, 40], 1):
        out = corrupt.apply(images, "jpeg_compression", severity, 0)
        for clean, got in zip(images, out):
            buffer = io.BytesIO()
            Image.fromarray(clean).save(buffer, "JPEG", quality=quality)
            assert np.array_equal(got, np.asarray(Image.open(buffer)))
    for severity, size in enumerate([30, 28, 27, 24, 20], 1):  # int(32 * c)
        out = corrupt.apply(images, "pixelate", severity, 0)
        for clean, got in zip(images, out):
            small = Image.fromarray(clean).resize((size, size), Image.BOX)
            assert np.array_equal(got, np.asarray(small.resize((32, 32), Image.BOX)))


def test_motion_blur_kernel_is_imagemagicks_one_sided_line():
    weights, rows, cols = corrupt.motion_blur_kernel(6, 1.5, 0)
    assert len(weights) == 13 and weights.sum() == pytest.approx(1)  # 2 * radius + 1 taps
    assert np.all(np.diff(weights) < 0) and list(cols) == list(range(13)) and not rows.any()
    _, rows, cols = corrupt.motion_blur_kernel(9, 2.5, 90)
    assert list(rows) == list(range(19)) and not cols.any()


def test_ece_brier_and_nll_against_hand_computed_cases():
    y = np.array([0, 0, 0, 0])
    sure = np.eye(3)[y]
    assert expected_calibration_error(sure, y) == 0
    # one bin at confidence 0.8, three of four right: |0.75 - 0.8|
    probs = np.array([[0.8, 0.1, 0.1]] * 3 + [[0.1, 0.8, 0.1]])
    assert expected_calibration_error(probs, y) == pytest.approx(0.05)
    # two bins: 0.9 confident and wrong (gap 0.9), 0.5 confident and right (gap 0.5)
    probs = np.array([[0.05, 0.9, 0.05]] * 2 + [[0.5, 0.3, 0.2]] * 2)
    assert expected_calibration_error(probs, y) == pytest.approx((2 * 0.9 + 2 * 0.5) / 4)
    # Guo et al.'s bins are (k/15, (k+1)/15]: confidence 0.4 = 6/15 is in bin 5
    edge = np.array([[0.4, 0.3, 0.3]])
    assert reliability(edge, np.array([0]))["count"].tolist()[5] == 1
    probs = np.array([[1.0, 0, 0], [0.5, 0.5, 0]])
    assert brier_score(probs, np.array([0, 0])) == pytest.approx((0 + 0.25 + 0.25) / 2)
    scores = calibration(probs, np.array([0, 0]))
    assert scores["nll"] == pytest.approx(-np.log(0.5) / 2, abs=1e-6)
    assert scores["images"] == 2


@pytest.mark.parametrize("severity", [0, 6])
def test_a_severity_outside_1_to_5_is_one_line(tmp_path, severity):
    path = write_params(tmp_path / "params.yaml", robustness__max_severity=severity)
    with pytest.raises(ParamsError, match=r"robustness.max_severity must be in \[1, 5\]") as err:
        load_params(path)
    assert "\n" not in str(err.value)


def _prepared(path: Path, test_per_class: int = 5) -> Path:
    y = np.repeat(np.arange(3), test_per_class).astype(np.int32)
    x = RNG.integers(0, 256, size=(len(y), 32, 32, 3)).astype(np.uint8)
    np.savez(path, x_train=x, y_train=y, x_test=x, y_test=y,
             class_names=np.array(["a", "b", "c"]))
    return path


@pytest.mark.parametrize("changes, message", [
    ({"robustness__corruptions": "gaussian_noise, frosty"},
     "robustness.corruptions: unknown corruption 'frosty'; choose from gaussian_noise"),
    ({"robustness__images": 16}, "robustness.images is 16, larger than the 15 images"),
])
def test_bad_corrupt_params_are_one_line_and_write_nothing(tmp_path, changes, message):
    data = _prepared(tmp_path / "prepared.npz")
    params = write_params(tmp_path / "params.yaml", **changes)
    out = tmp_path / "corrupted.npz"
    result = run([sys.executable, str(ROOT / "stages" / "corrupt.py"), "--params", str(params),
                  "--data", str(data), "--out", str(out)], tmp_path, check=False)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert not out.exists()


def test_corrupted_set_is_a_stratified_subset_under_every_corruption(tmp_path):
    data = _prepared(tmp_path / "prepared.npz")
    out = tmp_path / "corrupted.npz"
    corrupt.build_corrupted(data, out, 6, 0, ("fog", "contrast"), (1, 2))
    with np.load(out) as npz:
        assert npz["x"].shape == (2, 2, 6, 32, 32, 3) and npz["x"].dtype == np.uint8
        assert np.bincount(npz["y"]).tolist() == [2, 2, 2]
        assert list(npz["corruptions"]) == ["fog", "contrast"]
        clean = np.load(data)["x_test"][npz["indices"]]
        assert np.array_equal(npz["x"][1, 0], corrupt.apply(clean, "contrast", 1, 0))
        # a corruption's images do not depend on which others are built beside it
        assert np.array_equal(npz["x"][0, 1], corrupt.apply(clean, "fog", 2, 0))
