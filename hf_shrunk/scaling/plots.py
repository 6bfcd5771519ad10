"""Plots of `hf-shrunk fit`: loss vs compute with the frontier and fitted segments (paper Figure 1), and GLUE vs
pre-training perplexity. Uses matplotlib's object API with the Agg canvas (no pyplot, no display needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

X_LABELS = {
    "flops_paper": "Training compute C (cumulative FLOPs, paper convention)",
    "flops_corrected": "Training compute C (cumulative FLOPs, corrected convention)",
    "flops_kaplan": "Training compute C (cumulative FLOPs, Kaplan 6ND convention)",
}
Y_LABEL = "Dev MLM loss (nats per predicted token)"
SEGMENT_COLORS = {"below": "#1f77b4", "above": "#d62728"}
MAX_RUN_LEGEND = 14


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _log_axes(ax) -> None:
    from matplotlib import ticker

    ax.set_xscale("log")
    ax.set_yscale("log")
    # Loss spans less than a decade: label the 1-9 multiples, not only powers of ten.
    ax.yaxis.set_major_locator(
        ticker.LogLocator(base=10, subs=(1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0))
    )
    ax.yaxis.set_major_formatter(ticker.FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(ticker.NullFormatter())
    ax.grid(True, which="major", alpha=0.3)
    ax.grid(True, which="minor", axis="x", alpha=0.1)


def _save(fig, stem: Path) -> list[Path]:
    paths = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
    fig.savefig(paths[0], dpi=150)
    fig.savefig(paths[1])
    return paths


def _fmt_eq(fit: dict[str, Any]) -> str:
    a, b = fit["params"]["a"], fit["params"]["b"]
    return f"L = {a:.4g}·C$^{{{b:.3f}}}$, R² = {fit['r2']:.3f}"


def _draw_fits(ax, fits: dict[str, Any], lo: float, hi: float) -> None:
    single = fits.get("compute_linear")
    if single:
        grid = np.geomspace(lo, hi, 200)
        a, b = single["params"]["a"], single["params"]["b"]
        ax.plot(grid, a * grid**b, "--", color="0.45", lw=1.2, label=f"single power law: {_fmt_eq(single)}")
    broken = fits.get("compute_broken")
    if not broken:
        return
    brk = broken["break"]
    edges = {"below": (lo, brk["value"]), "above": (brk["value"], hi)}
    for name, seg in broken["segments"].items():
        a, b = seg["params"]["a"], seg["params"]["b"]
        start, stop = edges[name]
        inside = np.geomspace(start, stop, 100)
        everywhere = np.geomspace(lo, hi, 200)
        ax.plot(everywhere, a * everywhere**b, ":", color=SEGMENT_COLORS[name], lw=1, alpha=0.5)
        label = f"{name} the break ({seg['n_points']} pts): {_fmt_eq(seg)}"
        ax.plot(inside, a * inside**b, "-", color=SEGMENT_COLORS[name], lw=2.2, label=label)
    how = "found from data" if brk["method"] == "auto" else "fixed"
    label = f"break C = {brk['value']:.3g} ({how})"
    if brk.get("ci"):
        ax.axvspan(*brk["ci"], color="0.5", alpha=0.08, lw=0)
        label += f"\n  {100 * (brk.get('ci_level') or 0.95):.0f}% bootstrap CI {brk['ci'][0]:.2g}–{brk['ci'][1]:.2g}"
    ax.axvline(brk["value"], color="k", ls="-.", lw=1, label=label)


def plot_loss_vs_compute(
    points: Sequence[dict[str, Any]],
    frontier: Sequence[dict[str, Any]],
    fits: dict[str, Any],
    x: str,
    stem: str | Path,
    title: str = "Compute-optimal frontier of MLM loss",
) -> list[Path]:
    """Loss vs compute, log-log: every run's curve faded (one colour per run), the frontier highlighted, the
    single and broken power-law fits (fit.json dicts) and the break. Writes ``stem``.png and ``stem``.svg."""
    from matplotlib import colormaps

    fig = _figure(10.5, 6.2)
    ax = fig.add_subplot()
    runs: dict[str, list[dict[str, Any]]] = {}
    for p in points:
        if p.get(x) is not None:
            runs.setdefault(str(p["run"]), []).append(p)
    # Distinct colours while they last (tab20, its dark half first), then a continuous map.
    tab = [colormaps["tab20"](i) for i in (*range(0, 20, 2), *range(1, 20, 2))]
    for i, (run, pts) in enumerate(sorted(runs.items())):
        pts = sorted(pts, key=lambda p: p[x])
        color = tab[i] if len(runs) <= len(tab) else colormaps["viridis"](i / (len(runs) - 1))
        label = run if len(runs) <= MAX_RUN_LEGEND else None
        ax.plot(
            [p[x] for p in pts], [p["loss"] for p in pts], "-o", color=color, alpha=0.35, lw=1, ms=2.5, label=label
        )
    fx, fy = [p[x] for p in frontier], [p["loss"] for p in frontier]
    ax.scatter(fx, fy, s=34, color="black", edgecolor="white", lw=0.6, zorder=5, label=f"frontier ({len(fx)} points)")
    lo, hi = min(p[x] for p in frontier), max(p[x] for p in frontier)
    _draw_fits(ax, fits, lo, hi)
    _log_axes(ax)
    ax.set_xlabel(X_LABELS.get(x, x))
    ax.set_ylabel(Y_LABEL)
    ax.set_title(f"{title} ({len(runs)} runs, {len(points)} eval points)")
    handles, labels = ax.get_legend_handles_labels()
    n_runs_shown = len(runs) if len(runs) <= MAX_RUN_LEGEND else 0
    main = ax.legend(handles[n_runs_shown:], labels[n_runs_shown:], loc="lower left", fontsize=8, framealpha=0.9)
    if n_runs_shown:
        ax.add_artist(main)
        fig.legend(handles[:n_runs_shown], labels[:n_runs_shown], loc="outside right center", fontsize=7, title="runs")
    else:
        ax.text(
            0.99,
            0.99,
            f"{len(runs)} runs, faded, one colour each",
            transform=ax.transAxes,
            ha="right",
            va="top",
            fontsize=8,
        )
    return _save(fig, Path(stem))


def plot_glue_vs_perplexity(
    rows: Sequence[dict[str, Any]], correlation: dict[str, Any], stem: str | Path
) -> list[Path]:
    """GLUE aggregate (pretrained, per condition) vs pre-training perplexity with Pearson/Spearman in the
    legend. ``rows`` as from :func:`hf_shrunk.scaling.points.collect_glue`. Writes ``stem``.png and ``stem``.svg."""
    fig = _figure(7.5, 5.2)
    ax = fig.add_subplot()
    styles = {"filtered": ("o", "#2ca02c"), "full": ("s", "#9467bd")}
    for condition, (marker, color) in styles.items():
        pts = sorted((r["perplexity"], r[condition], r["name"]) for r in rows if r.get(condition) is not None)
        if not pts:
            continue
        stats = (correlation.get("conditions") or {}).get(condition) or {}
        label = f"{condition} GLUE"
        if "pearson" in stats:
            p, s = stats["pearson"], stats["spearman"]
            label += f": Pearson r = {p['r']:.2f} (p = {p['p']:.2g}), Spearman ρ = {s['rho']:.2f} (p = {s['p']:.2g})"
        elif stats.get("skipped"):
            label += f" (no correlation: {stats['skipped']})"
        xs, ys, names = zip(*pts, strict=True)
        ax.plot(xs, ys, marker=marker, color=color, ls="none", ms=7, alpha=0.85, label=label)
        for px, py, name in pts:
            ax.annotate(name, (px, py), textcoords="offset points", xytext=(4, 3), fontsize=6, color=color)
    from matplotlib import ticker

    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(ticker.FormatStrFormatter("%g"))
    ax.xaxis.set_minor_formatter(ticker.FormatStrFormatter("%g"))
    ax.tick_params(axis="x", which="minor", labelsize=7)
    ax.grid(True, alpha=0.3)
    ax.set_xlabel("Pre-training dev perplexity (log scale)")
    ax.set_ylabel("GLUE aggregate score, pretrained (mean over tasks)")
    ax.set_title(f"GLUE vs pre-training perplexity ({len(rows)} models)")
    ax.legend(loc="best", fontsize=8)
    return _save(fig, Path(stem))
