"""Is a change beyond run-to-run noise? Seed-aware verdicts for a base and a new side.

A base revision and a pull request (or two experiments) each give a metric per training
seed. ``compare_runs`` decides whether their difference is larger than what reseeding
alone moves, the way benchmark tools do:

- Go's benchstat prints ``~`` for a difference it cannot tell from noise (Mann-Whitney U,
  p > 0.05); ``format_change`` uses the same mark.
- asv calls a change significant only when two criteria agree (Mann-Whitney at
  p < 0.002 *and* a ratio threshold); here too each verdict with repeats on both sides
  asks an interval *and* a distribution-free check to agree.
- arXiv 2511.19794 (2025, CIFAR-10 training) found that with three seeds unpaired t-tests
  over-claim, while paired seeds with an interval and a sign-flip permutation test did not
  call 0.6-2.0 point gains real.

Exact rank and permutation tests alone cannot decide anything at the seed counts this
benchmark affords: with 3 runs a side Mann-Whitney's smallest two-sided p is 0.1, and an
exact sign-flip test over 3 pairs cannot go below 0.25. So the verdicts below let a
Student-t interval carry the decision (it can resolve a large shift from 3 seeds) and use
the exact test as a veto that only asks the runs to *agree in direction*: its smallest
achievable p, or p below 1 - level once enough seeds make that reachable.

The four kinds of verdict (``Verdict.kind``):

``paired``
    Both sides are mappings seed -> value with at least 2 seeds in common. The paired
    differences d_i = new_i - base_i over the common seeds give the Student-t interval
    mean(d) ± t(k-1, (1+level)/2) · s_d / √k. Beyond noise when it excludes 0 *and* the
    exact sign-flip permutation test of sum(d) (all 2^k sign patterns; 20,000 fixed-seed
    random ones above 16 pairs) is at its smallest achievable value, 2/2^k, or below
    1 - level. The p-value is at 2/2^k exactly when every pair moves the same way (flipping
    any subset of same-signed d_i shrinks |sum|; flipping a d_i of the other sign grows it),
    so for up to 5 pairs the veto reads "all seeds agree", and from 6 pairs on it is an
    ordinary level-alpha permutation test. Under the null the t interval alone errs with
    probability 1 - level (normal d_i); the veto can only lower that, and it keeps one
    outlying pair from carrying a mean. Band: the interval's half-width. Seeds outside the
    common set are not used (``method`` says how many).
    Pairing assumes that the same seed means the same initialisation and data order on both
    sides, so that seed effects cancel in d_i. Where they do not (other code paths draw
    random numbers in another order; GPU nondeterminism), s_d is about √2 times a side's
    spread and pairing costs one degree of freedom but is still valid.
``interval``
    One side has n >= 2 runs, the other exactly one (e.g. a seed-repeated base and a
    pull request's single run). Beyond noise when the single value lies outside the
    Student-t prediction interval for one more run of the repeated side,
    mean ± t(n-1, (1+level)/2) · s · √(1 + 1/n) (``cnnbench.report.statistics`` uses the
    same range). Under the null the single run falls outside with probability 1 - level.
    Band: that half-width. p: the two-sided t p-value of (x - mean) / (s·√(1 + 1/n)).
``unpaired``
    Both sides have n >= 2 runs but the seeds do not pair (sequences, or mappings with
    fewer than 2 seeds in common). Welch's interval for the difference of means, with the
    Welch-Satterthwaite degrees of freedom, must exclude 0, *and* the ranks must agree:
    the two sides completely separated in the direction of the difference (Mann-Whitney's
    smallest achievable p) or Mann-Whitney p below 1 - level. Welch's test is the one the
    preprint found to over-claim at three seeds when spreads differ or are not normal; the
    rank condition is the guard. Band: Welch's half-width. p: Welch's two-sided p.
``unknown``
    One run on each side (a single common seed of two one-run mappings included): no
    spread, so no verdict. ``beyond``, ``band`` and ``p_value`` are None and the
    caller says "no repeats: noise unknown". It never guesses.

Zero spread (deterministic runs, e.g. the tiny test project on CPU): when the spread that a
verdict divides by is zero (below 1e-12 times the values' scale, i.e. rounding), there is
no noise to be beyond, so any nonzero difference (above that same tolerance) is beyond noise
and an exactly equal one within; band 0. In the paired kind that spread is the one of the
differences: a change that moves every seed by the same amount is a change. With Welch,
only *both* sides at zero spread count as zero; one noisy side still gives an interval.

Assumptions: the runs of a side are exchangeable (seeds drawn without regard to the
outcome, same protocol and machine); the t intervals assume a roughly normal seed-to-seed
spread (the distribution-free checks above guard against one outlier deciding).
With few seeds the verdicts are conservative by design: at 3 seeds, paired, a change must
exceed about 2.5 times the spread of the paired differences (t(2) = 4.30, /√3).

The headline ``difference`` is ``new_value - base_value`` when the caller gives them (e.g.
the main runs' metrics in the comparison table), else the difference of the sides' means
(in the paired kind: the mean of the paired differences). The tests always use their own
``estimate`` (the mean paired difference; the difference of means; the single run minus
the other side's mean), so a headline can be shown with the noise verdict of the runs.

This module imports only the standard library, NumPy, SciPy and pandas.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

#: Spreads and differences below this times the values' scale are rounding, taken as zero.
RELATIVE_TOLERANCE = 1e-12
#: Up to this many pairs the sign-flip test enumerates all 2^k patterns.
EXACT_PAIRS = 16
#: Above ``EXACT_PAIRS``: this many random sign patterns from a fixed seed (deterministic).
RANDOM_FLIPS = 20_000

KINDS = ("paired", "interval", "unpaired", "unknown")


@dataclass(frozen=True)
class Verdict:
    """What ``compare_runs`` found.

    kind: 'paired', 'interval', 'unpaired' or 'unknown' (module docstring).
    beyond: True beyond run-to-run noise, False within it, None unknown (no repeats).
    difference: the headline difference, new minus base (module docstring).
    estimate: the difference the test measured (mean paired difference, difference of
        means, or single run minus the other side's mean), new minus base.
    band: the noise band's half-width at ``level`` (None when unknown; 0 for zero spread).
    n_base, n_new: runs of each side the test used (the common seeds when paired).
    p_value: paired: exact sign-flip permutation p; interval: t prediction p; unpaired:
        Welch's p; None when unknown, and for zero spread in the interval and unpaired
        kinds (the paired kind still gives the permutation p).
    spread: the standard deviation that sets the band (of the paired differences; of the
        repeated side; the root mean of the two sides' variances), for ``seeds_to_resolve``;
        None when unknown.
    level: the confidence level used.
    method: one line saying which test decided and with what numbers.
    """

    kind: str
    beyond: bool | None
    difference: float
    estimate: float
    band: float | None
    n_base: int
    n_new: int
    p_value: float | None
    spread: float | None
    level: float
    method: str

    @property
    def label(self) -> str:
        """'beyond noise', 'within noise' or 'no repeats: noise unknown'."""
        if self.beyond is None:
            return "no repeats: noise unknown"
        return "beyond noise" if self.beyond else "within noise"


def _runs(values, side: str) -> tuple[dict | None, np.ndarray]:
    """(seed -> value or None when not keyed by seed, the values as float array)."""
    if isinstance(values, pd.Series):  # the project's idiom: a Series indexed by seed
        values = values.to_dict()
    if isinstance(values, Mapping):
        keyed = {seed: float(v) for seed, v in values.items()}
        array = np.array(list(keyed.values()), dtype=float)
    elif isinstance(values, (str, bytes)):
        raise TypeError(f"{side}: expected numbers, got a string")
    elif isinstance(values, (int, float, np.number)):
        keyed, array = None, np.array([float(values)])
    else:
        keyed, array = None, np.asarray(list(values), dtype=float).ravel()
    if array.size == 0:
        raise ValueError(f"{side}: no runs to compare")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{side}: a run's value is not finite ({array.tolist()})")
    return keyed, array


def _quantile(level: float, df: float) -> float:
    return float(stats.t.ppf(0.5 + level / 2, df))


@functools.cache
def _sign_patterns(k: int) -> np.ndarray:
    if k <= EXACT_PAIRS:
        return np.array(list(itertools.product((1.0, -1.0), repeat=k)))
    return np.random.default_rng(0).choice((1.0, -1.0), size=(RANDOM_FLIPS, k))


def sign_flip_p(differences, tolerance: float = 0.0) -> float:
    """Two-sided sign-flip permutation p-value of the sum of paired ``differences``: the
    share of sign patterns whose |sum| is at least the observed |sum| (ties within
    ``tolerance`` count). Exact up to ``EXACT_PAIRS`` pairs (smallest value 2 / 2^k),
    above that from ``RANDOM_FLIPS`` fixed-seed patterns, (1 + hits) / (1 + patterns).
    """
    d = np.asarray(differences, dtype=float)
    signs = _sign_patterns(d.size)
    sums = np.abs(signs @ d)
    hits = int(np.count_nonzero(sums >= abs(d.sum()) - tolerance))
    if d.size <= EXACT_PAIRS:
        return hits / len(signs)
    return (1 + hits) / (1 + len(signs))


def _significant(x: float) -> str:
    """``x`` >= 0 with 3 significant digits, in fixed notation: 0.144, 0.0373, 12.5, 1230."""
    if x == 0:
        return "0"
    r = float(f"{x:.3g}")
    return f"{r:.{max(0, 2 - math.floor(math.log10(r)))}f}"


def signed_significant(x: float) -> str:
    """``x`` with its sign and 3 significant digits: +0.250, -0.0373, +12.5 (ASCII signs)."""
    return f"{'-' if x < 0 else '+'}{_significant(abs(float(x)))}"


def compare_runs(base, new, level: float = 0.95, *, base_value: float | None = None,
                 new_value: float | None = None) -> Verdict:
    """Whether ``new`` differs from ``base`` beyond run-to-run (seed) noise.

    ``base`` and ``new``: a mapping seed -> value (a pandas Series counts as one, its index
    the seeds), a sequence of values (unkeyed: never paired), or one number (one run).
    Both mappings with >= 2 seeds in common: paired; otherwise, >= 2 runs on each side:
    unpaired; >= 2 on one side and 1 on the other: interval; else unknown (module
    docstring). ``level``: the confidence level of the intervals (0.95: alpha 0.05).
    ``base_value``/``new_value``: headline values for ``Verdict.difference`` (default:
    the sides' means); they do not enter the test. Raises ValueError for an empty side or a
    value that is not finite.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level}")
    alpha = 1 - level
    base_keyed, b = _runs(base, "base")
    new_keyed, n = _runs(new, "new")
    scale = max(1.0, float(np.max(np.abs(b))), float(np.max(np.abs(n))))
    tol = RELATIVE_TOLERANCE * scale
    common = []
    if base_keyed is not None and new_keyed is not None:
        common = [seed for seed in base_keyed if seed in new_keyed]
    pct = f"{level * 100:g} %"

    def headline(default: float) -> float:
        if base_value is None and new_value is None:
            return default
        return ((float(n.mean()) if new_value is None else float(new_value))
                - (float(b.mean()) if base_value is None else float(base_value)))

    if len(common) >= 2:
        d = np.array([new_keyed[s] - base_keyed[s] for s in common])
        k = d.size
        estimate = float(d.mean())
        sd = float(d.std(ddof=1))
        p = sign_flip_p(d, tolerance=tol * k)
        agree = bool(np.all(d > tol) or np.all(d < -tol))
        unused = len(b) + len(n) - 2 * k
        note = f"; {unused} unpaired run{'s' if unused != 1 else ''} not used" if unused else ""
        if sd <= tol:
            band, beyond = 0.0, abs(estimate) > tol
            why = "the paired differences do not vary (zero spread)"
        else:
            band = _quantile(level, k - 1) * sd / math.sqrt(k)
            beyond = abs(estimate) > band and (agree or p < alpha)
            why = f"Student-t {pct} interval of the mean difference ±{_significant(band)}"
        direction = "all seeds move the same way" if agree else "not all seeds move the same way"
        method = f"paired over {k} seeds: {why}; exact sign-flip p = {p:.3g} ({direction}){note}"
        return Verdict("paired", bool(beyond), headline(estimate), estimate, band, k, k, p,
                       sd, level, method)

    if len(b) >= 2 and len(n) >= 2:
        mb, mn = float(b.mean()), float(n.mean())
        vb, vn = float(b.var(ddof=1)), float(n.var(ddof=1))
        estimate = mn - mb
        spread = math.sqrt((vb + vn) / 2)
        separated = bool(n.min() > b.max()) if estimate > 0 else bool(n.max() < b.min())
        if math.sqrt(vb) <= tol and math.sqrt(vn) <= tol:
            band, beyond, p = 0.0, abs(estimate) > tol, None
            method = "unpaired: both sides' runs are identical (zero spread)"
        else:
            se2 = vb / len(b) + vn / len(n)
            df = se2 ** 2 / ((vb / len(b)) ** 2 / (len(b) - 1) + (vn / len(n)) ** 2 / (len(n) - 1))
            band = _quantile(level, df) * math.sqrt(se2)
            p = float(2 * stats.t.sf(abs(estimate) / math.sqrt(se2), df))
            rank_p = float(stats.mannwhitneyu(n, b, alternative="two-sided").pvalue)
            beyond = abs(estimate) > band and (separated or rank_p < alpha)
            method = (f"unpaired ({len(b)} vs {len(n)} runs, seeds do not pair): Welch {pct} "
                      f"interval ±{_significant(band)} (df {df:.1f}), p = {p:.3g}; "
                      f"Mann-Whitney p = {rank_p:.3g}"
                      f"{', sides fully separated' if separated else ''}; "
                      f"unpaired tests over-claim at few seeds")
        return Verdict("unpaired", bool(beyond), headline(estimate), estimate, band,
                       len(b), len(n), p, spread, level, method)

    if (len(b) >= 2) != (len(n) >= 2) and min(len(b), len(n)) == 1:
        repeated, single, repeated_side = (b, float(n[0]), "base") if len(b) >= 2 \
            else (n, float(b[0]), "new")
        other_side = "new" if repeated_side == "base" else "base"
        m, s, k = float(repeated.mean()), float(repeated.std(ddof=1)), len(repeated)
        estimate = single - m if repeated_side == "base" else m - single
        if s <= tol:
            band, beyond, p = 0.0, abs(estimate) > tol, None
            method = f"one run: the {repeated_side} side's {k} runs are identical (zero spread)"
        else:
            scale_one = s * math.sqrt(1 + 1 / k)
            band = _quantile(level, k - 1) * scale_one
            beyond = abs(estimate) > band
            p = float(2 * stats.t.sf(abs(single - m) / scale_one, k - 1))
            method = (f"one run: the {other_side} side's single run against the "
                      f"{repeated_side} side's {k}-run Student-t {pct} prediction interval "
                      f"for one more run, ±{_significant(band)}; p = {p:.3g}")
        return Verdict("interval", bool(beyond), headline(estimate), estimate, band,
                       len(b), len(n), p, s, level, method)

    estimate = float(n.mean() - b.mean())
    return Verdict("unknown", None, headline(estimate), estimate, None, len(b), len(n), None,
                   None, level, "no repeats: noise unknown")


def seeds_to_resolve(difference: float, spread_sd: float | None, power: float = 0.8,
                     level: float = 0.95, paired: bool = False) -> int | None:
    """Seeds per side that would resolve a true ``difference`` with probability ``power``.

    Normal-approximation sample size for a two-sided test at ``level``:
    n = 2·((z_(1+level)/2 + z_power) · sd / difference)² for two independent samples with
    per-run standard deviation ``spread_sd``, or n = ((z + z) · sd_d / difference)² paired,
    ``spread_sd`` then being the standard deviation of the paired differences (with
    unrelated pairs sd_d = √2·sd, and both formulas agree). Rounded up, at least 2.
    The t tests above need a few more at small n (the normal approximation ignores the
    uncertainty in s), so read it as a lower bound. None when the difference is 0 or not
    finite, or the spread is unknown (None, NaN, negative).
    """
    if not (0 < power < 1 and 0 < level < 1):
        raise ValueError(f"power and level must be between 0 and 1, got {power}, {level}")
    if (difference is None or spread_sd is None or not math.isfinite(difference)
            or not math.isfinite(spread_sd) or spread_sd < 0 or difference == 0):
        return None
    z = float(stats.norm.ppf(0.5 + level / 2) + stats.norm.ppf(power))
    n = (1 if paired else 2) * (z * spread_sd / difference) ** 2
    return max(2, math.ceil(round(n, 9)))


def format_change(difference: float, verdict: Verdict, digits: int = 4) -> str:
    """The change as a table cell, with benchstat's mark for noise (ASCII signs).

    Within noise: ``~ +0.0040``; beyond: ``+0.2500 (noise ±0.144)`` (the band with 3
    significant digits); unknown: the plain signed number, ``+0.0040`` (the caller says
    "no repeats: noise unknown" elsewhere). A difference that rounds to zero reads +0.0000.
    """
    rounded = round(float(difference), digits)
    number = f"{(rounded if rounded != 0 else 0.0):+.{digits}f}"
    if verdict.beyond is None:
        return number
    if not verdict.beyond:
        return f"~ {number}"
    return f"{number} (noise ±{_significant(verdict.band or 0.0)})"
