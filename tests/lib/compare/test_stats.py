"""Statistics against known results."""

from __future__ import annotations

import numpy as np
import pytest

from lib.compare import stats


def test_bootstrap_constant_difference_is_zero_width():
    ci = stats.paired_bootstrap([0.06] * 40)
    assert ci.estimate == pytest.approx(0.06) and ci.low == ci.high == pytest.approx(0.06) and ci.n == 40


def test_bootstrap_covers_the_mean_and_shrinks_with_n():
    rng = np.random.default_rng(1)
    small = stats.paired_bootstrap(rng.normal(0.1, 1, 50))
    big = stats.paired_bootstrap(rng.normal(0.1, 1, 5000))
    assert small.low < small.estimate < small.high
    assert big.low < 0.1 < big.high
    assert (big.high - big.low) < (small.high - small.low) / 5
    # Normal theory: half-width about 1.96 / sqrt(5000) = 0.0277
    assert (big.high - big.low) / 2 == pytest.approx(1.96 / np.sqrt(5000), rel=0.15)
    assert stats.paired_bootstrap([]).n == 0


def test_mcnemar_textbook_agresti():
    """Agresti (2007), presidential approval: 794, 150 / 86, 570 -> z^2 = 17.36, p < 0.0001."""
    r = stats.mcnemar(86, 150)
    assert r["method"] == "chi-square" and r["statistic"] == pytest.approx(17.356, abs=1e-3)
    assert r["p_value"] == pytest.approx(3.1e-5, rel=0.05)
    corrected = stats.mcnemar(86, 150, correction=True)
    assert corrected["statistic"] == pytest.approx(63 ** 2 / 236)  # Edwards: (|b - c| - 1)^2 / (b + c)


def test_mcnemar_exact():
    r = stats.mcnemar(1, 9)
    assert r["method"] == "exact binomial" and r["p_value"] == pytest.approx(2 * 11 / 1024)
    assert stats.mcnemar(5, 5)["p_value"] == 1.0
    assert stats.mcnemar(0, 0)["p_value"] == 1.0


def test_chi2_tail_known_values():
    assert stats.chi2_sf_1df(3.841458820694124) == pytest.approx(0.05, abs=1e-9)
    assert stats.chi2_sf_1df(6.634896601021214) == pytest.approx(0.01, abs=1e-9)


def test_sample_sizes():
    # z-test: (1.96 + 0.8416)^2 * (1/0.2)^2 = 196.2 -> 197
    assert stats.sample_size_mean(1.0, 0.2) == 197
    assert stats.sample_size_mean(1.0, 0.0) is None
    # Connor (1987) formula by hand: psi = 0.3, delta = 0.1
    za, zb = 1.959964, 0.841621
    want = int(np.ceil((za * np.sqrt(0.3) + zb * np.sqrt(0.3 - 0.01)) ** 2 / 0.01))
    assert stats.sample_size_mcnemar(0.2, 0.1) == want


def test_bradley_terry_recovers_known_strengths():
    true = np.array([4.0, 2.0, 1.0])
    n = 100
    w = np.array([[n * true[i] / (true[i] + true[j]) if i != j else 0 for j in range(3)] for i in range(3)])
    p = stats.bradley_terry(w)
    assert p / p[2] == pytest.approx(true, rel=1e-6)
    elo = stats.to_elo(p)
    assert elo[0] - elo[1] == pytest.approx(400 * np.log10(2), rel=1e-6)
    assert elo.mean() == pytest.approx(1000)


def test_bt_bootstrap_orders_and_brackets():
    votes = [(0, 1, 1.0)] * 30 + [(0, 1, 0.0)] * 10 + [(1, 2, 1.0)] * 25 + [(1, 2, 0.5)] * 10 + [(0, 2, 1.0)] * 20
    est, lo, hi = stats.bt_bootstrap(votes, 3, n_boot=100)
    assert est[0] > est[1] > est[2]
    assert np.all(lo <= est + 1e-9) and np.all(est <= hi + 1e-9) and np.all(hi - lo > 0)
