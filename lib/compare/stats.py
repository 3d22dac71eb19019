"""Statistics for comparing prompt versions: paired bootstrap, McNemar, sample size, Bradley-Terry.

numpy only (it comes with pandas); the chi-square and normal tails use math.erfc and
statistics.NormalDist, so no scipy is needed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

_N = NormalDist()


@dataclass
class Interval:
    """A point estimate with a confidence interval."""

    estimate: float
    low: float
    high: float
    n: int
    level: float = 0.95


def paired_bootstrap(diffs: Sequence[float], n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> Interval:
    """Percentile bootstrap CI of the mean of paired differences (resampling cases with replacement)."""
    d = np.asarray(diffs, dtype="float64")
    d = d[~np.isnan(d)]
    n = len(d)
    if n == 0:
        return Interval(float("nan"), float("nan"), float("nan"), 0, level)
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    step = max(1, 2_000_000 // n)  # bound memory: at most ~2M indices at a time
    for start in range(0, n_boot, step):
        k = min(step, n_boot - start)
        means[start:start + k] = d[rng.integers(0, n, size=(k, n))].mean(axis=1)
    alpha = (1 - level) / 2
    lo, hi = np.quantile(means, [alpha, 1 - alpha])
    mean = float(d.mean())
    # A constant difference gives identical resamples; keep the interval exactly on it (no float noise).
    if np.all(d == d[0]):
        lo = hi = mean
    return Interval(mean, float(lo), float(hi), n, level)


def chi2_sf_1df(x: float) -> float:
    """Upper tail of the chi-square distribution with 1 degree of freedom."""
    return math.erfc(math.sqrt(max(x, 0.0) / 2))


def binom_two_sided(k: int, n: int) -> float:
    """Exact two-sided p-value of k successes in n fair coin flips (doubling the smaller tail, capped at 1)."""
    if n == 0:
        return 1.0
    k = min(k, n - k)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def mcnemar(b: int, c: int, exact: bool | None = None, correction: bool = False) -> dict:
    """McNemar's test on the discordant pairs b (A passed, B failed) and c (A failed, B passed).

    Exact binomial test when b + c < 25 (or exact=True), else the chi-square statistic
    (b - c)^2 / (b + c), with Edwards' continuity correction if asked.
    """
    n = b + c
    if exact is None:
        exact = n < 25
    if n == 0:
        return {"b": b, "c": c, "statistic": 0.0, "p_value": 1.0, "method": "no discordant pairs"}
    if exact:
        return {"b": b, "c": c, "statistic": float(min(b, c)), "p_value": binom_two_sided(min(b, c), n),
                "method": "exact binomial"}
    stat = ((abs(b - c) - (1 if correction else 0)) ** 2) / n
    return {"b": b, "c": c, "statistic": stat, "p_value": chi2_sf_1df(stat),
            "method": "chi-square" + (" (corrected)" if correction else "")}


def sample_size_mean(sd: float, delta: float, alpha: float = 0.05, power: float = 0.8) -> int | None:
    """Cases needed to detect a mean paired difference `delta` with difference SD `sd` (two-sided z test)."""
    if not delta or not math.isfinite(sd) or sd <= 0:
        return None
    z = _N.inv_cdf(1 - alpha / 2) + _N.inv_cdf(power)
    return math.ceil((z * sd / abs(delta)) ** 2)


def sample_size_mcnemar(p10: float, p01: float, alpha: float = 0.05, power: float = 0.8) -> int | None:
    """Pairs needed for McNemar's test given discordant proportions p10 and p01 (Connor 1987)."""
    psi, delta = p10 + p01, p10 - p01
    if delta == 0 or psi <= 0 or psi ** 2 < delta ** 2:
        return None
    za, zb = _N.inv_cdf(1 - alpha / 2), _N.inv_cdf(power)
    return math.ceil((za * math.sqrt(psi) + zb * math.sqrt(psi - delta ** 2)) ** 2 / delta ** 2)


def bradley_terry(wins: np.ndarray, prior: float = 0.0, iters: int = 50, tol: float = 1e-10,
                  ridge: float = 1e-6) -> np.ndarray:
    """Bradley-Terry strengths by Newton's method on log-strengths (players who never played get NaN).

    wins[i, j] = times i beat j (a tie counts half to each).  `prior` adds that many pseudo-wins
    each way between every pair that met, which keeps an unbeaten player finite; a tiny ridge
    pins the scale's free offset (and separate groups of players that never met).
    Returned strengths have geometric mean 1 over the players who played.
    """
    w = np.asarray(wins, dtype="float64").copy()
    k = len(w)
    if k == 0:
        return np.zeros(0)
    met = (w + w.T) > 0
    w = w + prior * met
    games = w + w.T
    played = games.sum(axis=1) > 0
    theta = np.zeros(k)
    won = w.sum(axis=1)
    for _ in range(iters):
        pr = 1 / (1 + np.exp(theta[None, :] - theta[:, None]))  # P(i beats j)
        grad = won - (games * pr).sum(axis=1) - ridge * theta
        curv = games * pr * (1 - pr)
        hess = curv - np.diag(curv.sum(axis=1) + ridge)
        step = np.linalg.solve(hess, grad)
        theta = theta - step
        if np.max(np.abs(step)) < tol:
            break
    theta = theta - theta[played].mean() if played.any() else theta
    return np.where(played, np.exp(theta), np.nan)


def to_elo(p: np.ndarray, base: float = 1000.0) -> np.ndarray:
    """Strengths to an Elo-like scale: 400 points = 10:1 odds, centred on `base` (geometric mean)."""
    with np.errstate(divide="ignore"):
        lg = np.log10(np.asarray(p, dtype="float64"))
    finite = np.isfinite(lg)
    centre = lg[finite].mean() if finite.any() else 0.0
    return base + 400 * (lg - centre)


def bt_bootstrap(pairs: list[tuple[int, int, float]], k: int, n_boot: int = 200, level: float = 0.95,
                 prior: float = 0.5, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Elo-scale ratings with a bootstrap CI (resampling votes). pairs = (i, j, score of i: 1, 0.5 or 0)."""
    arr = np.asarray(pairs, dtype="float64").reshape(-1, 3)
    i, j, s = arr[:, 0].astype(int), arr[:, 1].astype(int), arr[:, 2]

    def fit(weights: np.ndarray) -> np.ndarray:
        w = np.zeros((k, k))
        np.add.at(w, (i, j), s * weights)
        np.add.at(w, (j, i), (1 - s) * weights)
        return to_elo(bradley_terry(w, prior=prior))

    est = fit(np.ones(len(arr)))
    if not len(arr):
        return est, est.copy(), est.copy()
    rng = np.random.default_rng(seed)
    # A resample is the same votes with multinomial counts: no list rebuilding per replicate.
    counts = rng.multinomial(len(arr), np.full(len(arr), 1 / len(arr)), size=n_boot).astype("float64")
    boots = np.array([fit(c) for c in counts])
    alpha = (1 - level) / 2
    lo, hi = np.nanquantile(boots, [alpha, 1 - alpha], axis=0)
    return est, lo, hi
