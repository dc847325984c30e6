"""Is a change beyond run-to-run noise? Seed-aware verdicts for a base and a new side.

``compare_runs`` takes a metric per training seed on each side and picks one of scipy's t
tests by the runs there are: paired (``ttest_1samp`` of the per-seed differences, vetoed by
a sign-flip ``permutation_test`` unless every seed moves the same way or its p < 1 - level),
one run against repeats (``cnnbench.report.statistics.one_more_run``: the prediction
interval), unpaired (Welch's ``ttest_ind``, vetoed by Mann-Whitney unless the sides fully
separate or its p < 1 - level), or unknown (one run a side: no verdict). The band is the
test's confidence interval's half-width; zero spread makes any difference a change.
``format_change`` marks a table cell the way Go's benchstat does. The method, its reasons
and its assumptions are explained for users in docs/guide/review.md ("Is the change beyond
run-to-run noise?").
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from cnnbench.report.statistics import half_width, one_more_run

#: Spreads and differences below this times the values' scale are rounding, taken as zero.
RELATIVE_TOLERANCE = 1e-12
#: Up to this many pairs the sign-flip test enumerates all 2^k sign patterns; above, it
#: draws 2^EXACT_PAIRS random ones from a fixed seed (deterministic).
EXACT_PAIRS = 16

KINDS = ("paired", "interval", "unpaired", "unknown")


@dataclass(frozen=True)
class Verdict:
    """What ``compare_runs`` found.

    kind: 'paired', 'interval', 'unpaired' or 'unknown' (module docstring).
    beyond: True beyond run-to-run noise, False within it, None unknown (no repeats).
    difference: the headline difference, new minus base (``compare_runs``).
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


def sign_flip_p(differences, tolerance: float = RELATIVE_TOLERANCE) -> float:
    """Two-sided sign-flip permutation p of the sum of paired ``differences``: the share of
    sign patterns whose |sum| reaches the observed one. Exact up to ``EXACT_PAIRS`` pairs
    (smallest value 2 / 2^k); above, estimated from 2^EXACT_PAIRS random patterns drawn
    from a fixed seed. The differences are counted in whole units of ``tolerance``, so that
    sums equal but for rounding tie (scipy's own tie margin, relative to the observed sum,
    is too narrow for differences of nearby values such as 0.7776 - 0.7756).
    """
    units = np.rint(np.asarray(differences, dtype=float) / tolerance)
    return float(stats.permutation_test((units,), np.sum, permutation_type="samples",
                                        vectorized=True, n_resamples=2 ** EXACT_PAIRS,
                                        rng=0).pvalue)


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
    ``base_value``/``new_value``: headline values for ``Verdict.difference``, e.g. the main
    runs' metrics (default: the sides' means, paired: the mean paired difference); they do
    not enter the test, which uses ``Verdict.estimate``. Raises ValueError for an empty side
    or a value that is not finite.
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
        p = sign_flip_p(d, tolerance=tol)
        agree = bool(np.all(d > tol) or np.all(d < -tol))
        unused = len(b) + len(n) - 2 * k
        note = f"; {unused} unpaired run{'s' if unused != 1 else ''} not used" if unused else ""
        if sd <= tol:
            band, beyond = 0.0, abs(estimate) > tol
            why = "the paired differences do not vary (zero spread)"
        else:
            band = half_width(stats.ttest_1samp(d, 0.0), level)
            beyond = abs(estimate) > band and (agree or p < alpha)
            why = f"Student-t {pct} interval of the mean difference ±{_significant(band)}"
        direction = "all seeds move the same way" if agree else "not all seeds move the same way"
        method = f"paired over {k} seeds: {why}; exact sign-flip p = {p:.3g} ({direction}){note}"
        return Verdict("paired", bool(beyond), headline(estimate), estimate, band, k, k, p,
                       sd, level, method)

    if len(b) >= 2 and len(n) >= 2:
        vb, vn = float(b.var(ddof=1)), float(n.var(ddof=1))
        estimate = float(n.mean() - b.mean())
        spread = math.sqrt((vb + vn) / 2)
        separated = bool(n.min() > b.max()) if estimate > 0 else bool(n.max() < b.min())
        if math.sqrt(vb) <= tol and math.sqrt(vn) <= tol:
            band, beyond, p = 0.0, abs(estimate) > tol, None
            method = "unpaired: both sides' runs are identical (zero spread)"
        else:
            with warnings.catch_warnings():  # one side's identical runs: a variance of 0 is right
                warnings.filterwarnings("ignore", "Precision loss", RuntimeWarning)
                welch = stats.ttest_ind(n, b, equal_var=False)
            band, p, df = half_width(welch, level), float(welch.pvalue), float(welch.df)
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
            band, p = one_more_run(repeated, single, level)
            beyond = abs(estimate) > band
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
