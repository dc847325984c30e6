"""Known answers for ``cnnbench.report.noise``: is a change beyond run-to-run noise?

Hand-checkable cases (the VGG16 seeds, three vs five seeds, zero spread, no repeats), the
sign-flip test's ties and fixed seed, the table strings exactly, the seed-count formula, and
the false-positive rate of the paired verdict over simulated null comparisons (fixed NumPy
seeds: deterministic, a few seconds).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from cnnbench.report.noise import (
    Verdict,
    compare_runs,
    format_change,
    seeds_to_resolve,
    sign_flip_p,
)
from cnnbench.report.statistics import one_run_range

# VGG16 test accuracy over seeds 0, 1, 2: mean 0.6568, sample sd 0.02903.
VGG16 = {0: 0.6726, 1: 0.6233, 2: 0.6745}
VGG16_MEAN = sum(VGG16.values()) / 3
# Prediction half-width for one more run: t(2, 0.975) * s * sqrt(1 + 1/3).
VGG16_ONE_RUN = 4.302653 * 0.0290274 * math.sqrt(4 / 3)


# Identical distributions: within noise


def test_the_same_values_on_both_sides_are_within_noise():
    for base, new in [(VGG16, dict(VGG16)), (list(VGG16.values()), list(VGG16.values())),
                      (list(VGG16.values()), VGG16_MEAN)]:
        verdict = compare_runs(base, new)
        assert verdict.beyond is False, verdict
        assert verdict.estimate == pytest.approx(0, abs=1e-12)
        # paired, the differences are all 0: zero spread, band 0; otherwise the seeds' spread
        assert verdict.band == 0 if verdict.kind == "paired" else verdict.band > 0.05


def test_two_samples_of_the_same_normal_are_within_noise():
    rng = np.random.default_rng(7)
    base = dict(enumerate(rng.normal(0.65, 0.03, 5)))
    new = dict(enumerate(rng.normal(0.65, 0.03, 5)))
    paired = compare_runs(base, new)
    unpaired = compare_runs(list(base.values()), list(new.values()))
    assert (paired.kind, paired.beyond) == ("paired", False)
    assert (unpaired.kind, unpaired.beyond) == ("unpaired", False)
    # the band covers the observed difference, and the difference is not tiny
    assert abs(paired.estimate) < paired.band and abs(unpaired.estimate) < unpaired.band


# A large shift: beyond noise, in every kind


def test_the_vgg16_seeds_and_a_quarter_point_gain_are_beyond_noise_in_every_kind():
    new = {0: 0.9190, 1: 0.8800, 2: 0.9300}  # about +0.25 per seed, with its own jitter
    paired = compare_runs(VGG16, new)
    assert (paired.kind, paired.beyond, paired.n_base, paired.n_new) == ("paired", True, 3, 3)
    assert paired.estimate == pytest.approx((0.2464 + 0.2567 + 0.2555) / 3)
    assert paired.p_value == pytest.approx(0.25)  # the exact test's floor at 3 pairs
    unpaired = compare_runs(list(VGG16.values()), list(new.values()))
    assert (unpaired.kind, unpaired.beyond) == ("unpaired", True)
    interval = compare_runs(VGG16, {0: VGG16_MEAN + 0.25})
    assert (interval.kind, interval.beyond, interval.n_base, interval.n_new) == (
        "interval", True, 3, 1)
    assert interval.band == pytest.approx(VGG16_ONE_RUN, rel=1e-5)
    # p of t = 0.25 / (s·√(4/3)) = 7.459 with 2 df, in closed form: 1 - t / √(t² + 2)
    t = 0.25 / (0.0290274 * math.sqrt(4 / 3))
    assert interval.p_value == pytest.approx(1 - t / math.sqrt(t * t + 2), rel=1e-4)
    assert interval.difference == pytest.approx(0.25)
    assert format_change(interval.difference, interval) == "+0.2500 (noise ±0.144)"
    # the other way round: a single base run against a repeated pull request
    reverse = compare_runs(VGG16_MEAN + 0.25, VGG16)
    assert (reverse.kind, reverse.beyond) == ("interval", True)
    assert reverse.estimate == pytest.approx(-0.25)


def test_the_vgg16_seeds_and_a_fifth_of_a_point_are_within_noise_in_every_kind():
    # mean +0.002 over the seeds, each new seed moving on its own (a real rerun)
    new = {0: 0.6290, 1: 0.6760, 2: 0.6714}
    for verdict in [compare_runs(VGG16, new),
                    compare_runs(list(VGG16.values()), list(new.values())),
                    compare_runs(VGG16, [VGG16_MEAN + 0.002])]:
        assert verdict.estimate == pytest.approx(0.002, abs=1e-9), verdict
        assert verdict.beyond is False, verdict
        assert format_change(verdict.difference, verdict) == "~ +0.0020"
    # seeds that disagree in direction veto even a paired interval that excludes 0
    assert compare_runs(VGG16, new).p_value == pytest.approx(1.0)


def test_three_seeds_do_not_resolve_a_shift_that_five_seeds_do():
    # Paired differences with mean 0.02: at 3 seeds s_d = 0.015 and the 95 % half-width is
    # t(2) * 0.015 / sqrt(3) = 0.0373 > 0.02; at 5 seeds s_d = 0.0112, half-width
    # t(4) * 0.0112 / sqrt(5) = 0.0139 < 0.02, and all five agree in sign (p = 2/32).
    base = {seed: 0.60 for seed in range(5)}
    gains = [0.02, 0.005, 0.035, 0.015, 0.025]
    three = compare_runs({s: base[s] for s in range(3)}, {s: 0.60 + gains[s] for s in range(3)})
    five = compare_runs(base, {s: 0.60 + gains[s] for s in range(5)})
    assert (three.beyond, five.beyond) == (False, True)
    assert three.band == pytest.approx(4.302653 * 0.015 / math.sqrt(3), rel=1e-5)
    assert five.band == pytest.approx(2.776445 * math.sqrt(0.000125) / math.sqrt(5), rel=1e-5)
    assert five.p_value == pytest.approx(2 / 32)
    # unpaired, the same values: the band shrinks with more seeds on each side too
    rng = np.random.default_rng(3)
    noise = rng.normal(0, 0.01, (2, 5))
    small = compare_runs(list(0.6 + noise[0, :3]), list(0.6 + noise[1, :3]))
    large = compare_runs(list(0.6 + noise[0]), list(0.6 + noise[1]))
    assert large.band < small.band


def test_the_sign_flip_veto_stops_one_outlying_pair():
    # Mean 0.091, s_d 0.0548: the t(4) half-width 0.068 excludes 0, but one of five seeds
    # goes the other way, so the sign-flip p is 4/32 = 0.125, neither 2/32 nor below 0.05.
    d = np.array([0.10, 0.11, 0.12, 0.13, -0.005])
    base = {s: 0.5 for s in range(5)}
    verdict = compare_runs(base, {s: 0.5 + d[s] for s in range(5)})
    band = 2.776445 * d.std(ddof=1) / math.sqrt(5)
    assert abs(d.mean()) > band  # the t interval alone would call it
    assert verdict.p_value == pytest.approx(4 / 32)  # one seed disagrees: above 2/32, 0.05
    assert verdict.beyond is False


def test_the_rank_check_stops_welch_over_claiming():
    # Welch alone: difference 0.03125, variances 8.96e-5 and 2.25e-4, standard error 0.00887
    # with 5.06 Welch-Satterthwaite df, t(5.06, 0.975) = 2.562: half-width 0.0227 (pooled
    # variances, 6 df: 0.0217), p = 0.017. But one new run (0.606) is below a base run
    # (0.607): Mann-Whitney's exact p is 2 * 2/70 = 0.057, not below 0.05.
    base = [0.586, 0.588, 0.594, 0.607]
    verdict = compare_runs(base, [0.606, 0.620, 0.636, 0.638])
    assert verdict.kind == "unpaired"
    assert verdict.estimate == pytest.approx(0.03125)
    assert verdict.band == pytest.approx(0.0227, abs=5e-5) and "(df 5.1)" in verdict.method
    assert abs(verdict.estimate) > verdict.band and verdict.p_value < 0.05
    assert verdict.beyond is False
    # move that run above every base run: fully separated, and beyond noise
    assert compare_runs(base, [0.609, 0.620, 0.636, 0.638]).beyond is True


def test_sign_flip_p_is_exact_up_to_sixteen_pairs_and_counts_rounding_as_a_tie():
    assert sign_flip_p([1.0, 2.0, 3.0]) == 2 / 8
    # flipping the -1 makes a larger |sum|: 4 of 8 patterns reach |sum| >= 4
    assert sign_flip_p([-1.0, 2.0, 3.0]) == 4 / 8
    assert sign_flip_p([1.0] * 16) == 2 / 2 ** 16  # all 65,536 patterns, none drawn
    # Differences of 4-digit accuracies, +0.003, -0.003, +0.003 but for rounding: every
    # pattern's |sum| is 0.003 or 0.009, so p = 1 (the rounding must not break the ties)
    base = {0: 0.7717, 1: 0.7757, 2: 0.7659}
    verdict = compare_runs(base, {0: 0.7747, 1: 0.7727, 2: 0.7689})
    assert verdict.p_value == 1.0 and verdict.beyond is False


def test_sign_flip_p_above_sixteen_pairs_is_drawn_from_a_fixed_seed():
    d = np.random.default_rng(17).normal(0.002, 0.01, 17)
    signs = 1 - 2 * ((np.arange(2 ** 17)[:, None] >> np.arange(17)) & 1)
    exact = np.mean(np.abs(signs @ d) >= abs(d.sum()) - 1e-12)
    p = sign_flip_p(d)
    assert p == sign_flip_p(d)  # the same draws every time: a comment does not flicker
    assert p != exact and p == pytest.approx(exact, abs=0.01)
    # the paired verdict reads the same draws (its differences are -d, the same |sums|)
    paired = compare_runs(dict(enumerate(0.6 + d)), {seed: 0.6 for seed in range(17)})
    assert paired.p_value == pytest.approx(p)


@pytest.mark.filterwarnings("error")
def test_the_summarys_one_more_run_range_is_the_interval_verdicts_band():
    low, high = one_run_range(list(VGG16.values()))
    assert (low + high) / 2 == pytest.approx(VGG16_MEAN)
    assert (high - low) / 2 == pytest.approx(VGG16_ONE_RUN, rel=1e-5)
    assert compare_runs(VGG16, high - 1e-4).beyond is False
    assert compare_runs(VGG16, high + 1e-4).beyond is True
    assert compare_runs(VGG16, low - 1e-4).beyond is True
    # identical runs: one more run lands on them; one run: nowhere known
    assert one_run_range([0.5, 0.5, 0.5]) == (0.5, 0.5)
    assert all(math.isnan(x) for x in one_run_range([0.5, float("nan")]))


# Pairing


def test_pairing_needs_two_common_seeds_and_ignores_the_rest():
    base = {0: 0.60, 1: 0.61, 2: 0.62, 3: 0.63}
    verdict = compare_runs(base, {1: 0.71, 2: 0.72, 5: 0.10})
    assert (verdict.kind, verdict.n_base, verdict.n_new) == ("paired", 2, 2)
    assert verdict.estimate == pytest.approx(0.10)
    assert "3 unpaired runs not used" in verdict.method
    assert compare_runs(base, {1: 0.71, 7: 0.72}).kind == "unpaired"
    assert compare_runs(base, [0.70, 0.71, 0.72, 0.73]).kind == "unpaired"
    # a pandas Series is keyed by its index, the project's seed idiom
    assert compare_runs(pd.Series(base), pd.Series(base) + 0.1).kind == "paired"


def test_headline_values_are_shown_but_do_not_decide():
    new = {0: 0.6290, 1: 0.6760, 2: 0.6714}
    verdict = compare_runs(VGG16, new, base_value=0.6726, new_value=0.6290)
    assert verdict.difference == pytest.approx(-0.0436)
    assert verdict.estimate == pytest.approx(0.002, abs=1e-9)
    assert verdict.beyond is False
    assert compare_runs(VGG16, new, new_value=0.70).difference == pytest.approx(0.70 - VGG16_MEAN)


# No repeats, zero spread, bad input


def test_no_repeats_is_unknown_and_never_guessed():
    for base, new in [([0.60], [0.90]), ({0: 0.60}, {0: 0.90}), (0.60, 0.90)]:
        verdict = compare_runs(base, new)
        assert (verdict.kind, verdict.beyond, verdict.band, verdict.p_value) == (
            "unknown", None, None, None)
        assert verdict.difference == pytest.approx(0.30)
        assert verdict.label == "no repeats: noise unknown"
        assert format_change(0.004, verdict) == "+0.0040"


@pytest.mark.filterwarnings("error")  # scipy's precision warning must not reach the comment
def test_zero_spread_any_difference_is_beyond_and_none_within():
    same = [0.1, 0.1, 0.1]
    for kind, base, new in [("unpaired", same, [0.15, 0.15, 0.15]),
                            ("paired", dict(enumerate(same)), {0: 0.15, 1: 0.15, 2: 0.15}),
                            ("interval", same, 0.15)]:
        verdict = compare_runs(base, new)
        assert (verdict.kind, verdict.beyond, verdict.band) == (kind, True, 0.0), verdict
        assert format_change(verdict.difference, verdict) == "+0.0500 (noise ±0)"
        unchanged = compare_runs(base, same if kind != "paired" else dict(enumerate(same)))
        assert (unchanged.beyond, unchanged.band) == (False, 0.0)
    # paired: every seed moved by exactly the same amount is a change (zero spread of d)
    shifted = compare_runs(VGG16, {s: v + 0.002 for s, v in VGG16.items()})
    assert (shifted.kind, shifted.beyond, shifted.band) == ("paired", True, 0.0)
    # one noisy side still gives Welch an interval
    verdict = compare_runs(same, [0.1, 0.2, 0.3])
    assert verdict.band > 0 and verdict.beyond is False


def test_bad_input_is_refused():
    with pytest.raises(ValueError):
        compare_runs([], [0.5, 0.6])
    with pytest.raises(ValueError):
        compare_runs([0.5, float("nan")], [0.5, 0.6])
    with pytest.raises(ValueError):
        compare_runs([0.5, 0.6], [0.5, 0.6], level=1.0)


# The table's strings


def test_format_change_strings():
    within = compare_runs(VGG16, [VGG16_MEAN + 0.004])
    assert format_change(0.004, within) == "~ +0.0040"
    assert format_change(-0.004, within) == "~ -0.0040"
    assert format_change(-0.00001, within) == "~ +0.0000"  # no "-0.0000"
    beyond = compare_runs(VGG16, [VGG16_MEAN + 0.25])
    assert format_change(0.25, beyond) == "+0.2500 (noise ±0.144)"
    assert format_change(-0.25, beyond, digits=2) == "-0.25 (noise ±0.144)"
    small_band = Verdict("paired", True, 0.1, 0.1, 0.037317, 3, 3, 0.25, 0.015, 0.95, "")
    assert format_change(0.1, small_band) == "+0.1000 (noise ±0.0373)"
    edge = Verdict("paired", True, 0.1, 0.1, 0.099996, 3, 3, 0.25, 0.015, 0.95, "")
    assert format_change(0.1, edge) == "+0.1000 (noise ±0.100)"
    assert (within.label, beyond.label) == ("within noise", "beyond noise")


# Seeds to resolve a difference


def test_seeds_to_resolve_by_hand():
    # z_0.975 + z_0.8 = 1.959964 + 0.841621 = 2.801585; squared 7.8489
    assert seeds_to_resolve(1.0, 1.0) == 16  # 2 * 7.8489 = 15.70
    assert seeds_to_resolve(1.0, 1.0, paired=True) == 8  # 7.85
    assert seeds_to_resolve(-0.01, 0.029) == 133  # 2 * (2.801585 * 2.9)^2 = 132.02
    assert seeds_to_resolve(0.25, 0.029) == 2  # at least 2
    assert seeds_to_resolve(0.0, 0.029) is None
    assert seeds_to_resolve(0.01, None) is None
    assert seeds_to_resolve(0.01, float("nan")) is None


def test_seeds_to_resolve_grows_as_the_difference_shrinks():
    counts = [seeds_to_resolve(d, 0.029) for d in (0.2, 0.1, 0.05, 0.02, 0.01, 0.005)]
    assert counts == sorted(counts) and counts[0] < counts[-1]
    assert len(set(counts[1:])) == len(counts) - 1  # strictly more below the floor of 2
    assert seeds_to_resolve(0.01, 0.029, power=0.9) > seeds_to_resolve(0.01, 0.029)


# False positives over simulated null comparisons


def test_paired_three_seeds_call_noise_real_at_most_six_percent_of_the_time():
    # 2000 null comparisons: each seed has its own effect (shared by both sides, as pairing
    # assumes) plus per-run noise; the two sides are drawn from the same distribution.
    rng = np.random.default_rng(20251124)
    seed_effect = rng.normal(0.65, 0.03, (2000, 3))
    base = seed_effect + rng.normal(0, 0.01, (2000, 3))
    new = seed_effect + rng.normal(0, 0.01, (2000, 3))
    calls = [compare_runs(dict(enumerate(b)), dict(enumerate(n))) for b, n in zip(base, new)]
    assert {v.kind for v in calls} == {"paired"}
    rate = sum(v.beyond for v in calls) / len(calls)
    assert rate <= 0.06
    # and not by calling nothing at all: it is a 5 % test, not a blind one
    assert rate >= 0.02
    # the same draws shifted by 4 sd of the paired differences are mostly caught
    shift = 4 * 0.01 * math.sqrt(2)
    caught = sum(compare_runs(dict(enumerate(b)), dict(enumerate(n + shift))).beyond
                 for b, n in zip(base[:500], new[:500]))
    assert caught / 500 >= 0.8


def test_one_run_against_three_calls_noise_real_at_most_six_percent_of_the_time():
    rng = np.random.default_rng(11)
    runs, single = rng.normal(0.65, 0.03, (1000, 3)), rng.normal(0.65, 0.03, 1000)
    rate = sum(compare_runs(list(r), float(x)).beyond for r, x in zip(runs, single)) / 1000
    assert 0.02 <= rate <= 0.06
