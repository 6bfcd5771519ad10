"""Inputs of `hf-shrunk fit`: (run, eval point) rows from pretrain folders or a CSV, the compute-optimal frontier
of those points, and GLUE summaries.

A point is a dict with the keys of :data:`POINT_FIELDS` (missing values are ``None``). Pretrain runs provide
them from ``<root>/pretrain/<run>/metrics.json``; a CSV lets people fit published logs, e.g. the paper's own
results tables (headers such as ``run_name``, ``eval/loss``, ``FLOPS Hoffman total`` are understood).
"""

from __future__ import annotations

import csv
import dataclasses
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hf_shrunk.artifacts import (
    artifact_root,
    file_fingerprint,
    finished,
    read_json,
    require_artifact,
    stage_dir,
)
from hf_shrunk.config import UserError
from hf_shrunk.pretrain import perplexity
from hf_shrunk.scaling.fit import FitError

POINT_FIELDS = (
    "run",
    "step",
    "family",
    "params",
    "non_embedding_params",
    "tokens",
    "flops_paper",
    "flops_corrected",
    "flops_kaplan",
    "loss",
    "frontier_bin",
    "evaluation",
    "source",
)
X_AXES = ("flops_paper", "flops_corrected", "flops_kaplan")

# Field -> accepted CSV headers, compared after lower-casing and dropping everything but letters and digits
# ("eval/loss" == "evalloss"). The first header present wins.
CSV_ALIASES: dict[str, tuple[str, ...]] = {
    "run": ("run", "runname", "name", "model", "modelname", "runid"),
    "step": ("step", "evalstep", "globalstep", "trainstep", "updates", "evalupdates"),
    "family": ("family", "modelfamily"),
    "params": ("params", "totalparams", "totalparameters", "parameters", "numparams", "nparams", "paramstotal"),
    "non_embedding_params": (
        "nonembeddingparams",
        "nonembeddingparameters",
        "paramsnonembedding",
        "nonembedding",
        "numnonembeddingparams",
    ),
    "tokens": ("tokens", "traintokens", "tokensseen", "numtokens", "ntokens", "tokenstotal"),
    # "FLOPS Hoffman total" is the paper's cumulative FLOPs (paper convention, docs/paper.md#flops).
    "flops_paper": ("flopspaper", "flopshoffmantotal", "flopshoffman", "paperflops", "cumulativeflopspaper"),
    "flops_corrected": ("flopscorrected", "correctedflops", "cumulativeflopscorrected"),
    "flops_kaplan": ("flopskaplantotal", "flopskaplan", "kaplanflops"),
    "loss": ("loss", "evalloss", "devloss", "validationloss", "valloss", "validloss", "evallossmean"),
    "frontier_bin": ("flopbins", "flopbin", "frontierbin", "computebin", "bin"),
}
GENERIC_FLOPS = ("flops", "flopstotal", "totalflops", "compute", "cumulativeflops")
TEXT_FIELDS = {"run", "family", "frontier_bin", "evaluation", "source"}
NUMERIC = set(POINT_FIELDS) - TEXT_FIELDS


@dataclasses.dataclass
class PointSet:
    """Points plus what the manifest and the messages need: ``origin`` says where they came from."""

    points: list[dict[str, Any]]
    origin: str
    inputs: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    is_frontier: bool = False  # the input declares itself a frontier (one point per compute bin)
    has_runs: bool = True  # points carry real run names (a CSV without a run column does not)


def _norm(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", header.lower())


def _point(**values: Any) -> dict[str, Any]:
    return {name: values.get(name) for name in POINT_FIELDS}


def _check_positive(point: dict[str, Any], fields: Sequence[str], where: str) -> None:
    for name in fields:
        value = point.get(name)
        if value is not None and not (math.isfinite(value) and value > 0):
            raise UserError(
                f"{where}: {name} = {value} but it must be a positive number (run {point.get('run')!r}). "
                "Fix or drop that row; scaling fits work on log scales."
            )


# ------------------------------------------------------------------------------------------------ pretrain runs


def list_runs(root: str | Path | None = None) -> list[Path]:
    """Finished pretrain run folders under ``<root>/pretrain`` (those with a manifest.json), sorted by name."""
    return finished("pretrain", root)


def _run_folders(runs: Sequence[str], root: str | Path | None) -> list[Path]:
    if not runs or list(runs) == ["all"]:
        folders = list_runs(root)
        if not folders:
            raise UserError(
                f"no pretrain runs found in {artifact_root(root) / 'pretrain'}. Create one with "
                "`hf-shrunk pretrain --size SLUG` (sizes: `hf-shrunk sizes`), point --root at your artifacts, "
                "or fit a CSV of published points with --points_csv FILE."
            )
        return folders
    return [require_artifact("pretrain", name, root)[0] for name in runs]


def evaluation_cadence(metrics: dict[str, Any]) -> int | None:
    """The run's regular evaluation interval in updates: ``eval_steps`` in metrics.json or, for older runs, the
    smallest step d with at least 3 multiples, all of them evaluated up to the last evaluation. ``None`` if none."""
    if metrics.get("eval_steps"):
        return int(metrics["eval_steps"])
    steps = sorted({e["step"] for e in metrics.get("eval_history") or [] if e.get("step")})
    if not steps:
        return None
    present = set(steps)
    for d in steps:
        if steps[-1] >= 3 * d and all(k in present for k in range(d, steps[-1] + 1, d)):
            return d
    return None


def _evaluation_kind(step: int | None, cadence: int | None, last_step: int | None) -> str:
    # Paper §8 / Figure 1: only the evaluations every 1,000 updates (and the last one) make the frontier; the
    # extra evaluations at snapshot steps (1, 2, 4, ...) are warm-up samples that would flood the low-FLOPs bins.
    if step is not None and (step == last_step or (cadence and step % cadence == 0)):
        return "cadence"
    return "snapshot"


def read_run_points(folder: str | Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The eval points of one pretrain run folder, and its metrics.json.

    Cumulative FLOPs come from each eval entry (``flops_paper``/``flops_corrected``) or, when absent, from
    ``flops_per_sequence`` × ``sequences``. An evaluation at step 0 (no compute yet) is left out. Each point's
    ``evaluation`` is ``"cadence"`` (the run's regular evaluations and its last step) or ``"snapshot"`` (an extra
    evaluation at a snapshot step); the frontier uses only the former unless asked otherwise.
    """
    path = Path(folder) / "metrics.json"
    if not path.is_file():
        raise UserError(f"{path} is missing: the run in {folder} recorded no evaluations. Re-run its pretraining.")
    metrics = read_json(path)
    run = metrics.get("run") or Path(folder).name
    params = metrics.get("params") or {}
    per_seq = metrics.get("flops_per_sequence") or {}
    points = []
    cadence = evaluation_cadence(metrics)
    last_step = (metrics.get("final") or {}).get("step") or max(
        (e.get("step") or 0 for e in metrics.get("eval_history") or []), default=None
    )
    for entry in metrics.get("eval_history") or []:
        sequences = entry.get("sequences")
        flops = {
            key: entry.get(f"flops_{key}")
            if entry.get(f"flops_{key}") is not None
            else (per_seq[key] * sequences if per_seq.get(key) is not None and sequences is not None else None)
            for key in ("paper", "corrected")
        }
        if entry.get("step") == 0 and not flops["paper"]:
            continue
        point = _point(
            run=run,
            step=entry.get("step"),
            family=metrics.get("family"),
            params=params.get("total"),
            non_embedding_params=params.get("non_embedding"),
            tokens=entry.get("tokens") if entry.get("tokens") is not None else entry.get("token_positions"),
            flops_paper=flops["paper"],
            flops_corrected=flops["corrected"],
            loss=entry.get("eval_loss"),
            evaluation=_evaluation_kind(entry.get("step"), cadence, last_step),
            source=str(path),
        )
        where = f"{path} (eval at step {entry.get('step')})"
        if point["loss"] is None:
            raise UserError(f"{where}: no eval_loss; every eval_history entry needs one")
        _check_positive(point, ("loss", "flops_paper", "flops_corrected", "tokens"), where)
        points.append(point)
    return points, metrics


def collect_points(
    runs: Sequence[str] = ("all",),
    root: str | Path | None = None,
    points_csv: str | Path | None = None,
    x: str = "flops_paper",
) -> PointSet:
    """All (run, eval point) rows: from ``points_csv`` if given, else from the pretrain runs.

    Args:
        runs (`Sequence[str]`, defaults to `("all",)`): run names or folders; `"all"` = every finished run.
        root (`str`, *optional*): artifact root (default `$HF_SHRUNK_HOME`).
        points_csv (`str`, *optional*): a CSV of points (see :func:`read_points_csv`); replaces the runs.
        x (`str`, defaults to `"flops_paper"`): the compute axis (a CSV's plain `flops` column is read as it).
    """
    if points_csv:
        data = read_points_csv(points_csv, x=x)
        if list(runs) not in ([], ["all"]):
            data.notes.append(f"--runs {' '.join(runs)} ignored: --points_csv replaces the pretrain runs")
        return data
    folders = _run_folders(runs, root)
    out = PointSet(points=[], origin=f"{len(folders)} pretrain run(s) under {Path(folders[0]).parent}")
    for folder in folders:
        points, _ = read_run_points(folder)
        if not points:
            out.notes.append(f"run {folder.name}: no evaluations with compute > 0; left out")
        out.points += points
        metrics = Path(folder) / "metrics.json"
        out.inputs.append({"kind": "pretrain", "path": str(metrics), "fingerprint": file_fingerprint(metrics)})
    return out


# ------------------------------------------------------------------------------------------------------ CSV


def _csv_columns(headers: list[str], path: Path, x: str) -> dict[str, str]:
    """Field -> header actually used; errors list the headers found."""
    by_norm: dict[str, str] = {}
    for h in headers:
        by_norm.setdefault(_norm(h), h)
    columns = {
        f: next(by_norm[a] for a in aliases if a in by_norm)
        for f, aliases in CSV_ALIASES.items()
        if any(a in by_norm for a in aliases)
    }
    generic = next((by_norm[a] for a in GENERIC_FLOPS if a in by_norm), None)
    if generic and x not in columns:
        columns[x] = generic
    found = ", ".join(repr(h) for h in headers if h.strip())
    if "loss" not in columns:
        raise UserError(
            f"{path}: no loss column. Found columns: {found}. Name the dev-loss column 'loss' (also understood: "
            "eval_loss, eval/loss, dev_loss, validation_loss, val_loss)."
        )
    if x not in columns:
        have = [a for a in X_AXES if a in columns]
        hint = f" It has {', '.join(have)}: pass --x {have[0]}." if have else ""
        raise UserError(
            f"{path}: no FLOPs column for --x {x}. Found columns: {found}.{hint} Understood names: flops, "
            "flops_paper (or 'FLOPS Hoffman total'), flops_corrected, flops_kaplan (or 'FLOPS Kaplan total')."
        )
    return columns


def _parse_number(text: str, field: str, where: str) -> float | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise UserError(f"{where}: {field} = {text!r} is not a number") from None


def read_points_csv(path: str | Path, x: str = "flops_paper") -> PointSet:
    """Points from a CSV: columns run, step, params, non_embedding_params, tokens, flops..., loss (case and
    punctuation do not matter; aliases in :data:`CSV_ALIASES`). Rows without a loss or compute value are skipped
    (training-log exports interleave such rows); non-positive values are errors naming the line."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(f"--points_csv {path}: no such file")
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        headers = list(reader.fieldnames or [])
        if not headers:
            raise UserError(f"{path} is empty; expected a header row and one row per (run, eval) point")
        columns = _csv_columns(headers, path, x)
        points, skipped = [], 0
        for line, row in enumerate(reader, start=2):
            where = f"{path} line {line}"
            values = {
                f: _parse_number(row.get(h), f, where) if f in NUMERIC else (row.get(h) or "").strip() or None
                for f, h in columns.items()
            }
            if values.get("loss") is None or values.get(x) is None:
                skipped += 1
                continue
            if values.get("step") is not None:
                values["step"] = int(values["step"])
            values["run"] = values.get("run") or f"row{line}"
            point = _point(**values, source=f"{path.name}:{line}")
            _check_positive(point, ("loss", *X_AXES, "tokens"), where)
            points.append(point)
    notes = [f"{path.name}: columns used: " + ", ".join(f"{f} <- {h!r}" for f, h in columns.items())]
    if skipped:
        notes.append(f"{path.name}: {skipped} row(s) without a loss or {x} value skipped")
    bins = [p["frontier_bin"] for p in points]
    is_frontier = "frontier_bin" in columns and None not in bins and len(set(bins)) == len(bins)
    inputs = [{"kind": "points_csv", "path": str(path.resolve()), "fingerprint": file_fingerprint(path, full=True)}]
    return PointSet(
        points, f"CSV {path}", inputs=inputs, notes=notes, is_frontier=is_frontier, has_runs="run" in columns
    )


# -------------------------------------------------------------------------------------------------- frontier


def frontier_indices(x: Sequence[float], y: Sequence[float], bins: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the compute-optimal frontier and their bin numbers, sorted by x.

    The x range [min, max] is cut into ``bins`` log-spaced bins and the minimum-y point of each non-empty bin is
    kept (ties: the one with less x), as the paper built Figure 1 (docs/paper.md#scaling-laws).

    Args:
        x (`Sequence[float]`): positive x values (cumulative FLOPs).
        y (`Sequence[float]`): y values (dev loss).
        bins (`int`, defaults to 30): number of log-spaced bins.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if bins < 1:
        raise FitError(f"--bins must be at least 1, got {bins}")
    if x.size == 0:
        raise FitError("no points to build a frontier from")
    lo, hi = math.log10(x.min()), math.log10(x.max())
    if lo == hi or bins == 1:
        raise FitError(
            f"all {x.size} points fall in one compute bin (x from {x.min():.4g} to {x.max():.4g}, {bins} bin(s)); "
            "the frontier needs points at different compute: evaluate more often, add runs, or raise --bins"
        )
    edges = np.logspace(lo, hi, bins + 1)
    which = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, bins - 1)
    keep = []
    for b in np.unique(which):
        members = np.flatnonzero(which == b)
        keep.append(members[np.lexsort((x[members], y[members]))[0]])
    keep = np.asarray(sorted(keep, key=lambda i: x[i]), dtype=np.int64)
    return keep, which[keep]


def compute_frontier(
    points: Sequence[dict[str, Any]], bins: int = 30, x: str = "flops_paper", y: str = "loss"
) -> list[dict[str, Any]]:
    """The frontier of a list of point dicts (``x``/``y`` are keys; points without them are ignored).

    Returns copies of the kept points with ``frontier_bin`` set, sorted by ``x``. See :func:`frontier_indices`.
    """
    usable = [p for p in points if p.get(x) is not None and p.get(y) is not None]
    keep, which = frontier_indices([p[x] for p in usable], [p[y] for p in usable], bins)
    return [{**usable[i], "frontier_bin": int(b)} for i, b in zip(keep, which, strict=True)]


# ------------------------------------------------------------------------------------------------------ GLUE


def _glue_files(specs: Sequence[str], root: str | Path | None) -> list[Path]:
    if list(specs) == ["none"]:
        return []
    if not specs or list(specs) == ["auto"]:
        base = artifact_root(root) / "glue"
        return sorted(base.glob("*/summary.json")) if base.is_dir() else []
    files = []
    for spec in specs:
        path = Path(spec).expanduser()
        if not path.exists():
            path = stage_dir("glue", spec, root)
        if path.is_dir():
            path = path / "summary.json"
        if not path.is_file():
            raise UserError(f"--glue {spec}: no summary.json at {path}. Create it with `hf-shrunk glue MODEL`.")
        files.append(path)
    return files


def _run_perplexity(run: str | None, root: str | Path | None) -> float | None:
    if not run:
        return None
    path = stage_dir("pretrain", run, root) / "metrics.json"
    if not path.is_file():
        return None
    metrics = read_json(path)
    if metrics.get("perplexity") is not None:  # the checkpoint in model/, which GLUE scored by default
        return metrics["perplexity"]
    loss = (metrics.get("final") or {}).get("eval_loss")  # a run made before metrics.json kept its perplexity
    return perplexity(loss)


def collect_glue(specs: Sequence[str] = ("auto",), root: str | Path | None = None) -> PointSet:
    """GLUE summaries as rows ``{name, model, run, perplexity, perplexity_source, filtered, full}`` (pretrained
    aggregate mean per condition), in ``PointSet.points``. Perplexity comes from the summary, else from
    exp(final eval loss) of the matching pretrain run; a summary with neither is left out with a note."""
    out = PointSet(points=[], origin="GLUE summaries")
    files = _glue_files(specs, root)
    if not files and list(specs) != ["none"]:
        out.notes.append(f"no GLUE summaries under {artifact_root(root) / 'glue'}; run `hf-shrunk glue MODEL` first")
    for path in files:
        summary = read_json(path)
        out.inputs.append({"kind": "glue", "path": str(path), "fingerprint": file_fingerprint(path)})
        name = path.parent.name
        perplexity, source = summary.get("perplexity"), "summary"
        if perplexity is None:
            perplexity, source = _run_perplexity(summary.get("run"), root), "pretrain metrics.json"
        if perplexity is None:
            out.notes.append(f"{path}: no perplexity and no matching pretrain run; left out of the correlation")
            continue
        pretrained = (summary.get("variants") or {}).get("pretrained") or {}
        scores = {c: ((pretrained.get(c) or {}).get("aggregate") or {}).get("mean") for c in ("filtered", "full")}
        if all(v is None for v in scores.values()):
            out.notes.append(f"{path}: no pretrained GLUE aggregate (variants.pretrained.*.aggregate.mean); left out")
            continue
        row = {"name": name, "model": summary.get("model"), "run": summary.get("run"), "perplexity": perplexity}
        out.points.append({**row, "perplexity_source": source, **scores, "source": str(path)})
    return out
