"""Scaling-law maths: power-law and broken power-law fits with bootstrap intervals.

The paper's fit (docs/paper.md#scaling-laws): ``L = a·C^b`` is fitted by non-linear least squares in linear space
(``scipy.optimize.curve_fit``), separately below and above a break. We also fit in log space (a straight line
through ``log L`` vs ``log C``), find the break from the data when it is not given, and give percentile bootstrap
intervals for every parameter.

scipy is imported inside the functions (``hf-shrunk fit --help`` stays cheap).
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from hf_shrunk.config import UserError

CI_LEVEL = 0.95
NEAR_OPTIMAL_TOLERANCE = 0.10  # breaks whose total SSE is within 10% of the best are "as good" (break range)


class FitError(UserError, ValueError):
    """The data cannot support the requested fit (too few points, non-positive values...)."""


def _as_xy(x: Sequence[float], y: Sequence[float], what: str = "points") -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise FitError(f"{what}: x has {x.size} values but y has {y.size}")
    bad = ~(np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise FitError(f"{what}: a power law needs positive finite values; point {i} is x={x[i]}, y={y[i]}")
    if x.size < 3:
        raise FitError(f"{what}: a power-law fit needs at least 3 points, got {x.size}")
    if np.unique(x).size < 2:
        raise FitError(f"{what}: all {x.size} points have the same x ({x[0]:.4g}); a fit needs different x values")
    return x, y


def _r2(y: np.ndarray, pred: np.ndarray) -> float:
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    ss_res = float(np.sum((y - pred) ** 2))
    return 1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan")


def _fit_once(x: np.ndarray, y: np.ndarray, space: str) -> tuple[float, float, bool]:
    """(a, b, converged) of ``y = a·x^b``. x is scaled by its geometric mean so the optimiser sees O(1) numbers."""
    x0 = math.exp(float(np.mean(np.log(x))))
    t = x / x0
    b, log_a = np.polyfit(np.log(t), np.log(y), 1)
    if space == "log":
        return float(math.exp(log_a) * x0 ** (-b)), float(b), True
    from scipy.optimize import OptimizeWarning, curve_fit

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OptimizeWarning)  # exact data: covariance cannot be estimated
            (a_t, b), _ = curve_fit(lambda t_, a_, b_: a_ * t_**b_, t, y, p0=(math.exp(log_a), b), maxfev=20000)
    except RuntimeError:
        return float(math.exp(log_a) * x0 ** (-b)), float(b), False  # keep the log-space start, flagged
    return float(a_t * x0 ** (-b)), float(b), True


@dataclasses.dataclass
class PowerLawFit:
    """``y = a·x^b`` fitted in ``space`` ('linear': least squares on y, as the paper; 'log': on log y).

    ``r2`` is measured in the space of the fit, ``r2_linear`` always on y (comparable to the paper's R²).
    ``ci`` maps each parameter to its percentile bootstrap interval at ``ci_level``.
    """

    a: float
    b: float
    space: str
    r2: float
    r2_linear: float
    sse: float
    n_points: int
    x_range: tuple[float, float]
    converged: bool = True
    ci: dict[str, list[float]] | None = None
    ci_level: float = CI_LEVEL
    bootstrap: dict[str, int] | None = None

    def predict(self, x: float | Sequence[float]) -> float | np.ndarray:
        """The fitted ``a·x^b`` at ``x``."""
        out = self.a * np.asarray(x, dtype=np.float64) ** self.b
        return float(out) if out.ndim == 0 else out

    def equation(self, x_name: str = "C", y_name: str = "L") -> str:
        return f"{y_name} = {self.a:.4g}·{x_name}^{self.b:.4f}"

    def to_dict(self) -> dict[str, Any]:
        method = (
            "non-linear least squares on L (scipy.optimize.curve_fit)"
            if self.space == "linear"
            else "linear regression of log L on log x"
        )
        return {
            "form": "y = a * x^b",
            "space": self.space,
            "method": method,
            "params": {"a": self.a, "b": self.b},
            "ci": self.ci,
            "ci_level": self.ci_level if self.ci else None,
            "bootstrap": self.bootstrap,
            "r2": self.r2,
            "r2_linear": self.r2_linear,
            "sse": self.sse,
            "n_points": self.n_points,
            "x_range": list(self.x_range),
            "converged": self.converged,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PowerLawFit:
        return cls(
            a=d["params"]["a"],
            b=d["params"]["b"],
            space=d.get("space", "linear"),
            r2=d.get("r2", float("nan")),
            r2_linear=d.get("r2_linear", d.get("r2", float("nan"))),
            sse=d.get("sse", float("nan")),
            n_points=d.get("n_points", 0),
            x_range=tuple(d.get("x_range", (float("nan"), float("nan")))),
            converged=d.get("converged", True),
            ci=d.get("ci"),
            ci_level=d.get("ci_level") or CI_LEVEL,
            bootstrap=d.get("bootstrap"),
        )


def _make_fit(x: np.ndarray, y: np.ndarray, space: str) -> PowerLawFit:
    a, b, ok = _fit_once(x, y, space)
    pred = a * x**b
    r2_lin = _r2(y, pred)
    r2 = r2_lin if space == "linear" else _r2(np.log(y), np.log(pred))
    sse = float(np.sum((y - pred) ** 2)) if space == "linear" else float(np.sum((np.log(y) - np.log(pred)) ** 2))
    return PowerLawFit(a, b, space, r2, r2_lin, sse, int(x.size), (float(x.min()), float(x.max())), ok)


def _percentiles(samples: np.ndarray, level: float) -> list[list[float]]:
    lo, hi = np.percentile(samples, [50 * (1 - level), 50 * (1 + level)], axis=0)
    return [[float(a), float(b)] for a, b in zip(np.atleast_1d(lo), np.atleast_1d(hi), strict=True)]


def _bootstrap(
    stat: Callable[[np.ndarray, np.ndarray], Sequence[float]], x: np.ndarray, y: np.ndarray, n: int, seed: int
) -> np.ndarray:
    """Statistics of ``n`` resamples (points drawn with replacement); resamples where ``stat`` fails are dropped."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        idx = rng.integers(0, x.size, x.size)
        try:
            rows.append(stat(x[idx], y[idx]))
        except FitError:
            continue
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), -1)


def fit_power_law(
    x: Sequence[float],
    y: Sequence[float],
    space: str = "linear",
    bootstrap: int = 0,
    seed: int = 0,
    ci_level: float = CI_LEVEL,
) -> PowerLawFit:
    """Fit ``y = a·x^b``.

    Args:
        x (`Sequence[float]`): positive x values (compute, parameters, tokens).
        y (`Sequence[float]`): positive y values (loss).
        space (`str`, defaults to `"linear"`): `"linear"` = non-linear least squares on y (the paper's way, started
            from the log-space solution); `"log"` = ordinary least squares of log y on log x.
        bootstrap (`int`, defaults to 0): resamples for percentile confidence intervals (0 = none).
        seed (`int`, defaults to 0): seed of the resampling.
        ci_level (`float`, defaults to 0.95): coverage of the intervals.

    Returns:
        `PowerLawFit`. Raises `FitError` on fewer than 3 points, one distinct x, or non-positive values.
    """
    if space not in ("linear", "log"):
        raise ValueError(f"space must be 'linear' or 'log', got {space!r}")
    x, y = _as_xy(x, y)
    fit = _make_fit(x, y, space)
    if bootstrap > 0:

        def stat(xs, ys):
            if np.unique(xs).size < 2:
                raise FitError("degenerate resample")
            return _fit_once(xs, ys, space)[:2]

        samples = _bootstrap(stat, x, y, bootstrap, seed)
        if len(samples):
            ci_a, ci_b = _percentiles(samples, ci_level)
            fit.ci, fit.ci_level = {"a": ci_a, "b": ci_b}, ci_level
        fit.bootstrap = {"resamples": bootstrap, "used": len(samples), "seed": seed}
    return fit


@dataclasses.dataclass
class BrokenPowerLawFit:
    """Two power laws split at ``break_value``: ``below`` for x < break, ``above`` for x >= break (the paper fits
    the two segments independently, so the curve may jump at the break)."""

    break_value: float
    break_method: str
    below: PowerLawFit
    above: PowerLawFit
    sse: float
    r2: float
    n_points: int
    break_bracket: tuple[float, float] | None = None
    break_ci: list[float] | None = None
    break_near_optimal: list[float] | None = None
    profile: list[dict[str, float]] | None = None
    ci_level: float = CI_LEVEL
    bootstrap: dict[str, int] | None = None

    def predict(self, x: float | Sequence[float]) -> float | np.ndarray:
        """The segment's ``a·x^b`` at ``x`` (the segment is chosen by ``x < break``)."""
        xs = np.asarray(x, dtype=np.float64)
        out = np.where(xs < self.break_value, self.below.a * xs**self.below.b, self.above.a * xs**self.above.b)
        return float(out) if out.ndim == 0 else out

    def to_dict(self) -> dict[str, Any]:
        return {
            "form": "y = a1 * x^b1 for x < break; y = a2 * x^b2 for x >= break",
            "space": "linear",
            "break": {
                "value": self.break_value,
                "method": self.break_method,
                "bracket": list(self.break_bracket) if self.break_bracket else None,
                "ci": self.break_ci,
                "ci_level": self.ci_level if self.break_ci else None,
                "near_optimal": self.break_near_optimal,
                "near_optimal_tolerance": NEAR_OPTIMAL_TOLERANCE if self.break_near_optimal else None,
            },
            "segments": {"below": self.below.to_dict(), "above": self.above.to_dict()},
            "sse": self.sse,
            "r2": self.r2,
            "n_points": self.n_points,
            "bootstrap": self.bootstrap,
            "profile": self.profile,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BrokenPowerLawFit:
        brk = d["break"]
        return cls(
            break_value=brk["value"],
            break_method=brk.get("method", "fixed"),
            below=PowerLawFit.from_dict(d["segments"]["below"]),
            above=PowerLawFit.from_dict(d["segments"]["above"]),
            sse=d.get("sse", float("nan")),
            r2=d.get("r2", float("nan")),
            n_points=d.get("n_points", 0),
            break_bracket=tuple(brk["bracket"]) if brk.get("bracket") else None,
            break_ci=brk.get("ci"),
            break_near_optimal=brk.get("near_optimal"),
            profile=d.get("profile"),
        )


def _segments_ok(x: np.ndarray, k: int, min_points: int) -> bool:
    """Both sides of a split before index ``k`` (x sorted) have enough points and two distinct x values."""
    n = x.size
    return (
        min_points <= k <= n - min_points
        and x[k - 1] < x[k]
        and np.unique(x[:k]).size >= 2
        and np.unique(x[k:]).size >= 2
    )


def _split_sse(x: np.ndarray, y: np.ndarray, k: int) -> float:
    sse = 0.0
    for xs, ys in ((x[:k], y[:k]), (x[k:], y[k:])):
        a, b, _ = _fit_once(xs, ys, "linear")
        sse += float(np.sum((ys - a * xs**b) ** 2))
    return sse


def _search_break(x: np.ndarray, y: np.ndarray, min_points: int) -> tuple[int, list[tuple[int, float]]]:
    """Index k (split x[:k] | x[k:], x sorted) with the least total linear-space SSE, and every candidate's SSE."""
    profile = [(k, _split_sse(x, y, k)) for k in range(1, x.size) if _segments_ok(x, k, min_points)]
    if not profile:
        raise FitError(
            f"cannot search a break: {x.size} points ({np.unique(x).size} distinct x) leave no split with "
            f"{min_points}+ points on each side; pass --break_at none or a value, or add points"
        )
    best = min(profile, key=lambda kv: kv[1])[0]
    return best, profile


def _near_optimal(profile: list[dict[str, float]]) -> list[float]:
    """[min, max] of the candidate breaks whose total SSE is within NEAR_OPTIMAL_TOLERANCE of the best."""
    best = min(p["sse"] for p in profile)
    near = [p["break"] for p in profile if p["sse"] <= best * (1 + NEAR_OPTIMAL_TOLERANCE) + 1e-300]
    return [min(near), max(near)]


def _split_at(x: np.ndarray, break_at: float, min_points: int) -> int:
    k = int(np.searchsorted(x, break_at, side="left"))
    if not (min_points <= k <= x.size - min_points) or np.unique(x[:k]).size < 2 or np.unique(x[k:]).size < 2:
        raise FitError(
            f"a break at {break_at:.4g} leaves {k} points below and {x.size - k} above; each segment needs at "
            f"least {min_points} points with 2+ distinct x (points span {x.min():.4g} to {x.max():.4g})"
        )
    return k


def fit_broken_power_law(
    x: Sequence[float],
    y: Sequence[float],
    break_at: float | None = None,
    min_points: int = 3,
    bootstrap: int = 0,
    seed: int = 0,
    ci_level: float = CI_LEVEL,
) -> BrokenPowerLawFit:
    """Fit two power laws (linear-space least squares) on either side of a break.

    Args:
        x (`Sequence[float]`): positive x values (compute).
        y (`Sequence[float]`): positive y values (loss).
        break_at (`float`, *optional*): the break; `None` searches it: every split between two neighbouring x
            values that leaves `min_points` on each side is fitted and the one with the least total SSE wins; the
            break is reported at the geometric midpoint of the two points (`bracket`), with the range of breaks
            within 10% of the best SSE (`near_optimal`) and a bootstrap interval.
        min_points (`int`, defaults to 3): fewest points per segment.
        bootstrap (`int`, defaults to 0): resamples of all points (the break is searched again in each one when
            `break_at` is `None`); gives percentile intervals for the break and the four parameters.
        seed (`int`, defaults to 0): seed of the resampling.
        ci_level (`float`, defaults to 0.95): coverage of the intervals.

    Returns:
        `BrokenPowerLawFit`. Raises `FitError` when a segment would have too few points.
    """
    x, y = _as_xy(x, y)
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    profile = None
    if break_at is None:
        k, candidates = _search_break(x, y, min_points)
        value = math.sqrt(x[k - 1] * x[k])
        profile = [{"break": math.sqrt(x[j - 1] * x[j]), "sse": sse} for j, sse in candidates]
        near_optimal = _near_optimal(profile)
    else:
        value = float(break_at)
        k = _split_at(x, value, min_points)
        near_optimal = None
    below, above = _make_fit(x[:k], y[:k], "linear"), _make_fit(x[k:], y[k:], "linear")
    sse = below.sse + above.sse
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    fit = BrokenPowerLawFit(
        break_value=value,
        break_method="auto" if break_at is None else "fixed",
        below=below,
        above=above,
        sse=sse,
        r2=1 - sse / ss_tot if ss_tot > 0 else float("nan"),
        n_points=int(x.size),
        break_bracket=(float(x[k - 1]), float(x[k])),
        break_near_optimal=near_optimal,
        profile=profile,
        ci_level=ci_level,
    )
    if bootstrap > 0:
        _bootstrap_broken(fit, x, y, break_at, min_points, bootstrap, seed, ci_level)
    return fit


def _bootstrap_broken(fit, x, y, break_at, min_points, n, seed, ci_level) -> None:
    def stat(xs, ys):
        order = np.argsort(xs, kind="stable")
        xs, ys = xs[order], ys[order]
        if break_at is None:
            k = _search_break(xs, ys, min_points)[0]
            value = math.sqrt(xs[k - 1] * xs[k])
        else:
            k, value = _split_at(xs, break_at, min_points), break_at
        return (value, *_fit_once(xs[:k], ys[:k], "linear")[:2], *_fit_once(xs[k:], ys[k:], "linear")[:2])

    samples = _bootstrap(stat, x, y, n, seed)
    fit.bootstrap = {"resamples": n, "used": len(samples), "seed": seed}
    if not len(samples):
        return
    ci_break, ci_a1, ci_b1, ci_a2, ci_b2 = _percentiles(samples, ci_level)
    if break_at is None:
        fit.break_ci = ci_break
    fit.below.ci, fit.above.ci = {"a": ci_a1, "b": ci_b1}, {"a": ci_a2, "b": ci_b2}
    fit.below.ci_level = fit.above.ci_level = ci_level
