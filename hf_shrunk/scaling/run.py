"""`hf-shrunk fit`: scaling laws of the pretrain runs and the GLUE-perplexity correlation
(docs/paper.md#scaling-laws).

Reads ``<root>/pretrain/<run>/metrics.json`` (or ``--points_csv``) and ``<root>/glue/*/summary.json``; writes
``<root>/fit/<name>/``: ``fit.json`` (every fit with parameters, bootstrap intervals, R², break), ``points.csv``,
``frontier.csv``, ``loss_vs_compute.{png,svg}`` and, with GLUE data, ``glue_vs_perplexity.{png,svg}``.

Library use (model cards, demo)::

    from hf_shrunk.scaling.run import load_fit, predict_loss, position_on_fit
    fit = load_fit("default")
    predict_loss(fit, 8.57e15)            # loss the fitted frontier predicts at that compute
    position_on_fit(fit, 8.57e15, 2.31)   # where a model sits relative to the fit
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hf_shrunk.artifacts import (
    Manifest,
    artifact_lock,
    output_dir,
    read_json,
    require_artifact,
    should_skip,
    staged_output,
    write_json,
)
from hf_shrunk.config import UserError, parse_config, to_dict
from hf_shrunk.scaling.config import FitConfig
from hf_shrunk.scaling.fit import BrokenPowerLawFit, FitError, PowerLawFit, fit_broken_power_law, fit_power_law
from hf_shrunk.scaling.plots import X_LABELS, plot_glue_vs_perplexity, plot_loss_vs_compute
from hf_shrunk.scaling.points import (
    POINT_FIELDS,
    PointSet,
    collect_glue,
    collect_points,
    compute_frontier,
    frontier_indices,
    list_runs,
    read_points_csv,
)

__all__ = [
    "BrokenPowerLawFit",
    "FitError",
    "PointSet",
    "PowerLawFit",
    "collect_glue",
    "collect_points",
    "compute_frontier",
    "correlate",
    "fit_broken_power_law",
    "fit_power_law",
    "frontier_indices",
    "list_runs",
    "load_fit",
    "main",
    "plot_glue_vs_perplexity",
    "plot_loss_vs_compute",
    "position_on_fit",
    "predict_loss",
    "read_points_csv",
    "run_fit",
    "summary_lines",
]

SCHEMA_VERSION = 1
FIT_FILE = "fit.json"
DESCRIPTION = (
    "Fit scaling laws (docs/paper.md#scaling-laws): collect every (run, eval) point, keep the compute-optimal "
    "frontier (lowest loss "
    "in each of --bins log-spaced FLOPs bins), fit L = a*C^b by non-linear least squares in linear space (as the "
    "paper) and in log space, and a broken power law whose break is found from the data (--break_at auto), "
    "given (--break_at 2.2e15) or absent (none); L(N) and L(D) too; bootstrap intervals for every parameter; "
    "Pearson/Spearman of GLUE vs pre-training perplexity. To fit the paper's published frontier: "
    "`hf-shrunk fit --points_csv COMPUTE_OPTIMAL_RESULTS.csv` (its 'FLOP bins' column marks it as a frontier, so "
    "its points are kept as they are; --frontier bins recomputes one)."
)


EXACT_SPEARMAN_MAX_N = 8  # up to 8! = 40,320 orderings: enumerate them instead of scipy's t approximation


def _spearman_exact_p(x: np.ndarray, y: np.ndarray, rho: float) -> float:
    """Two-sided p of Spearman's rho by enumerating every pairing (the t approximation fails for tiny n)."""
    import itertools

    from scipy import stats

    rx = stats.rankdata(x) - (x.size + 1) / 2
    ry = stats.rankdata(y) - (y.size + 1) / 2
    perms = np.array(list(itertools.permutations(ry)))
    rhos = perms @ rx / math.sqrt(np.sum(rx**2) * np.sum(ry**2))
    return float(np.mean(np.abs(rhos) >= abs(rho) - 1e-12))


def correlate(x: Sequence[float], y: Sequence[float], min_n: int = 3) -> dict[str, Any]:
    """Pearson and Spearman correlation of two equally long sequences, with two-sided p-values (scipy.stats).

    Spearman's p is exact (all orderings enumerated) for n <= 8, where scipy's t approximation would say p = 0
    for a perfect ranking of 4 models. Returns ``{"n", "pearson": {"r", "p"}, "spearman": {"rho", "p",
    "p_method"}}``, or ``{"n", "skipped": reason}`` for fewer than ``min_n`` pairs or a constant side.
    """
    from scipy import stats

    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n = int(x.size)
    if n < min_n:
        return {"n": n, "skipped": f"correlation needs at least {min_n} models, got {n}"}
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return {"n": n, "skipped": "one of the two variables is constant; correlation is undefined"}
    pearson = stats.pearsonr(x, y)
    rho, p_rho = stats.spearmanr(x, y)
    exact = n <= EXACT_SPEARMAN_MAX_N
    return {
        "n": n,
        "pearson": {"r": float(pearson[0]), "p": float(pearson[1])},
        "spearman": {
            "rho": float(rho),
            "p": _spearman_exact_p(x, y, float(rho)) if exact else float(p_rho),
            "p_method": "exact permutation" if exact else "t approximation (scipy)",
        },
    }


def _tag(fit: dict[str, Any], x: str, y: str, points: str) -> dict[str, Any]:
    return {"x": x, "y": y, "points": points, **fit}


def _select_frontier(data: PointSet, cfg: FitConfig) -> tuple[list[dict[str, Any]], str]:
    usable = [p for p in data.points if p.get(cfg.x) is not None]
    if cfg.frontier_evals == "cadence":
        usable = [p for p in usable if p.get("evaluation") != "snapshot"]
    if len(usable) < 3:
        raise UserError(
            f"only {len(usable)} point(s) with {cfg.x} from {data.origin}; the fits need at least 3. "
            "Evaluate more often during pretraining (eval every N steps) or add runs."
        )
    if cfg.frontier == "none" or (cfg.frontier == "auto" and data.is_frontier):
        mode = "input" if cfg.frontier == "auto" else "none"
        return sorted(usable, key=lambda p: p[cfg.x]), mode
    return compute_frontier(usable, bins=cfg.bins, x=cfg.x), "bins"


def _compute_fits(frontier: list[dict[str, Any]], cfg: FitConfig, fits: dict, skipped: dict) -> None:
    x = [p[cfg.x] for p in frontier]
    y = [p["loss"] for p in frontier]
    if len(frontier) < 3:
        raise UserError(
            f"the frontier has only {len(frontier)} point(s) (from {cfg.bins} bins); the fits need at least 3. "
            "Add runs or eval points at other compute budgets, or use --frontier none."
        )
    boot = {"bootstrap": cfg.bootstrap, "seed": cfg.seed}
    for space in ("linear", "log"):
        fits[f"compute_{space}"] = _tag(fit_power_law(x, y, space=space, **boot).to_dict(), cfg.x, "loss", "frontier")
    if cfg.break_at == "none":
        skipped["compute_broken"] = "--break_at none"
        return
    try:
        break_at = None if cfg.break_at == "auto" else float(cfg.break_at)
        broken = fit_broken_power_law(x, y, break_at=break_at, min_points=cfg.min_segment_points, **boot)
        fits["compute_broken"] = _tag(broken.to_dict(), cfg.x, "loss", "frontier")
    except FitError as e:
        skipped["compute_broken"] = str(e)


def _params_and_tokens_fits(data: PointSet, cfg: FitConfig, fits: dict, skipped: dict) -> None:
    boot = {"bootstrap": cfg.bootstrap, "seed": cfg.seed}
    best: dict[str, dict[str, Any]] = {}
    for p in data.points:
        if p.get("non_embedding_params") and (p["run"] not in best or p["loss"] < best[p["run"]]["loss"]):
            best[p["run"]] = p
    try:
        if not data.has_runs:
            raise FitError("the CSV has no run column, so each run's best point is unknown")
        pts = sorted(best.values(), key=lambda p: p["non_embedding_params"])
        fit = fit_power_law([p["non_embedding_params"] for p in pts], [p["loss"] for p in pts], **boot)
        fits["params"] = _tag(fit.to_dict(), "non_embedding_params", "loss", "best eval point of each run")
    except FitError as e:
        skipped["params"] = f"L(N): {e} ({len(best)} run(s) with non-embedding parameter counts)"
    with_tokens = [p for p in data.points if p.get("tokens")]
    try:
        # L(D): the lowest loss any run reached after D tokens (token frontier, same binning as compute).
        front = compute_frontier(with_tokens, bins=cfg.bins, x="tokens")
        fit = fit_power_law([p["tokens"] for p in front], [p["loss"] for p in front], **boot)
        fits["tokens"] = _tag(fit.to_dict(), "tokens", "loss", "token frontier: lowest loss per log-spaced token bin")
    except FitError as e:
        skipped["tokens"] = f"L(D): {e} ({len(with_tokens)} point(s) with a token count)"


def _correlation(glue: PointSet) -> dict[str, Any]:
    rows = glue.points
    if not rows:
        return {"skipped": glue.notes[-1] if glue.notes else "no GLUE summaries (--glue none)"}
    out: dict[str, Any] = {"x": "perplexity", "y": "pretrained GLUE aggregate mean", "n_models": len(rows)}
    out["conditions"] = {}
    for condition in ("filtered", "full"):
        pairs = [(r["perplexity"], r[condition], r["name"]) for r in rows if r.get(condition) is not None]
        if not pairs:
            continue
        ppl, score, names = zip(*pairs, strict=True)
        out["conditions"][condition] = {**correlate(ppl, score), "models": list(names)}
    return out


def _write_points(path: Path, points: Sequence[dict[str, Any]]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=POINT_FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(points)


def _analyse(data: PointSet, glue: PointSet, cfg: FitConfig) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    frontier, mode = _select_frontier(data, cfg)
    fits: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    _compute_fits(frontier, cfg, fits, skipped)
    _params_and_tokens_fits(data, cfg, fits, skipped)
    notes = list(data.notes) + list(glue.notes)
    if mode == "input":
        notes.append("the input CSV is already a frontier (one point per bin): its points are fitted as given")
    result = {
        "schema_version": SCHEMA_VERSION,
        "name": cfg.name,
        "x": cfg.x,
        "x_label": X_LABELS[cfg.x],
        "y": "loss",
        "data": {
            "origin": data.origin,
            "n_points": len(data.points),
            "n_runs": len({p["run"] for p in data.points}),
            "frontier": {"mode": mode, "bins": cfg.bins if mode == "bins" else None, "n_points": len(frontier)},
            "notes": notes,
        },
        "fits": fits,
        "skipped": skipped,
        "correlation": _correlation(glue),
    }
    return result, frontier


def _run(cfg: FitConfig) -> tuple[dict[str, Any], Path, bool]:
    data = collect_points(cfg.runs, cfg.root, cfg.points_csv, x=cfg.x)
    glue = collect_glue(cfg.glue, cfg.root)
    folder = output_dir("fit", cfg.name, cfg.root)
    config = to_dict(cfg, exclude=("root", "overwrite"))
    manifest = Manifest("fit", cfg.name, config, inputs=data.inputs + glue.inputs)
    if should_skip(folder, manifest, cfg.overwrite):
        return read_json(folder / FIT_FILE), folder, True
    result, frontier = _analyse(data, glue, cfg)
    with artifact_lock(folder), staged_output(folder) as staging:
        _write_points(staging / "points.csv", data.points)
        _write_points(staging / "frontier.csv", frontier)
        files = ["points.csv", "frontier.csv"]
        plots = plot_loss_vs_compute(data.points, frontier, result["fits"], cfg.x, staging / "loss_vs_compute")
        if glue.points:
            plots += plot_glue_vs_perplexity(glue.points, result["correlation"], staging / "glue_vs_perplexity")
        result["files"] = files + [p.name for p in plots] + [FIT_FILE]
        result["summary"] = summary_lines(result)
        write_json(staging / FIT_FILE, result)
        manifest.extra = {"summary": result["summary"]}
        manifest.write(staging)
    return result, folder, False


def run_fit(cfg: FitConfig) -> dict[str, Any]:
    """Run the fit stage for ``cfg`` and return the content of ``fit.json`` (read back when the same fit exists)."""
    return _run(cfg)[0]


def _fmt_fit(fit: dict[str, Any], x_name: str) -> str:
    a, b = fit["params"]["a"], fit["params"]["b"]
    text = f"L = {a:.4g}·{x_name}^{b:.4f}  (R² {fit['r2']:.3f}, {fit['n_points']} points"
    if fit.get("ci"):
        text += f"; b {100 * fit['ci_level']:.0f}% CI [{fit['ci']['b'][0]:.4f}, {fit['ci']['b'][1]:.4f}]"
    return text + ")"


def summary_lines(result: dict[str, Any]) -> list[str]:
    """Short human summary of a fit.json dict: fit lines, R², break, correlations."""
    data, fits = result["data"], result["fits"]
    lines = [
        f"{data['n_points']} points from {data['origin']}; frontier: {data['frontier']['n_points']} points "
        f"({data['frontier']['mode']})"
    ]
    names = {
        "compute_linear": "L(C) linear-space",
        "compute_log": "L(C) log-space",
        "params": "L(N)",
        "tokens": "L(D)",
    }
    for key, label in names.items():
        if key in fits:
            lines.append(f"{label}: {_fmt_fit(fits[key], {'params': 'N', 'tokens': 'D'}.get(key, 'C'))}")
    if "compute_broken" in fits:
        brk = fits["compute_broken"]["break"]
        ci = f", {100 * brk['ci_level']:.0f}% CI {brk['ci'][0]:.3g}–{brk['ci'][1]:.3g}" if brk.get("ci") else ""
        lines.append(f"broken power law, break at C = {brk['value']:.3g} ({brk['method']}{ci}):")
        for name, seg in fits["compute_broken"]["segments"].items():
            lines.append(f"  {name:<5}: {_fmt_fit(seg, 'C')}")
    for key, reason in result.get("skipped", {}).items():
        lines.append(f"skipped {key}: {reason}")
    corr = result.get("correlation", {})
    for condition, stats in (corr.get("conditions") or {}).items():
        if "pearson" in stats:
            lines.append(
                f"GLUE ({condition}) vs perplexity over {stats['n']} models: Pearson r = {stats['pearson']['r']:.3f} "
                f"(p = {stats['pearson']['p']:.2g}), Spearman ρ = {stats['spearman']['rho']:.3f} "
                f"(p = {stats['spearman']['p']:.2g})"
            )
        else:
            lines.append(f"GLUE ({condition}) correlation skipped: {stats.get('skipped')}")
    if corr.get("skipped"):
        lines.append(f"GLUE correlation skipped: {corr['skipped']}")
    return lines


def load_fit(name: str = "default", root: str | Path | None = None) -> dict[str, Any]:
    """The fit.json of a finished fit artifact (``name`` under ``<root>/fit/`` or a folder path)."""
    folder, _ = require_artifact("fit", name, root)
    return read_json(folder / FIT_FILE)


def _model(fit: dict[str, Any] | str | Path, which: str) -> tuple[PowerLawFit | BrokenPowerLawFit, str]:
    if not isinstance(fit, dict):
        path = Path(fit)
        fit = read_json(path / FIT_FILE if path.is_dir() else path)
    fits = fit["fits"]
    if which == "auto":
        which = "compute_broken" if "compute_broken" in fits else "compute_linear"
    if which not in fits:
        raise KeyError(f"fit {which!r} is not in this fit.json; available: {', '.join(fits)}")
    d = fits[which]
    return (BrokenPowerLawFit.from_dict(d) if "segments" in d else PowerLawFit.from_dict(d)), which


def predict_loss(
    fit: dict[str, Any] | str | Path, x: float | Sequence[float], which: str = "auto"
) -> float | np.ndarray:
    """The loss a fitted law predicts at ``x``.

    Args:
        fit (`dict` or path): a fit.json dict (e.g. from :func:`load_fit`), a fit.json path or its folder.
        x (`float` or sequence): compute in the fit's convention (``fit["x"]``, FLOPs), or parameters/tokens
            with ``which="params"``/``"tokens"``.
        which (`str`, defaults to `"auto"`): a key of ``fit["fits"]``; `"auto"` = the broken power law if
            present, else the linear-space single power law.
    """
    return _model(fit, which)[0].predict(x)


def position_on_fit(fit: dict[str, Any] | str | Path, x: float, loss: float, which: str = "auto") -> dict[str, Any]:
    """Where a model with ``loss`` at compute ``x`` sits relative to the fit: predicted loss, residual, ratio, the
    segment (below/above the break) and whether ``x`` lies inside the fitted range (else it is extrapolation)."""
    model, which = _model(fit, which)
    predicted = float(model.predict(x))
    if isinstance(model, BrokenPowerLawFit):
        segment = "below" if x < model.break_value else "above"
        lo, hi = model.below.x_range[0], model.above.x_range[1]
    else:
        segment, (lo, hi) = None, model.x_range
    return {
        "fit": which,
        "x": x,
        "loss": loss,
        "predicted_loss": predicted,
        "residual": loss - predicted,
        "ratio": loss / predicted,
        "segment": segment,
        "in_fitted_range": bool(lo <= x <= hi),
    }


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    (cfg,) = parse_config([FitConfig], argv, prog=prog, description=DESCRIPTION)
    result, folder, skipped = _run(cfg)
    if skipped:
        print(f"fit {cfg.name!r} is up to date in {folder} (same config and inputs; --overwrite to redo it)")
    for line in result.get("summary") or summary_lines(result):
        print(line)
    print(f"{'files in' if skipped else 'wrote'} {folder}: {', '.join(result.get('files', []))}")
    return 0
