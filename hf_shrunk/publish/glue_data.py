"""The plan of ``<org>/glue-vocab-filtered``: the vocabulary-filtered GLUE dev sets that the filtered results in the
model cards are scored on (exported by ``hf-shrunk glue`` under ``<results>/filtered_dev/``; see
:mod:`hf_shrunk.glue.export`). One repo holds one vocabulary: results filtered with different word lists are refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hf_shrunk.artifacts import ArtifactError
from hf_shrunk.cards import filtered_glue_context, render_filtered_glue_card
from hf_shrunk.hub import FILTERED_GLUE_REPO_NAME
from hf_shrunk.publish.plan import Branch, PlanFile, RepoPlan, json_bytes

COUNTS_FILE = "filter_counts.json"  # on main: the vocabulary, the counts, and the repo's identity for --overwrite


def _has_filtered(summary: dict[str, Any] | None) -> bool:
    return bool((((summary or {}).get("variants") or {}).get("pretrained") or {}).get("filtered"))


def filtered_glue_sources(results: dict[str, tuple[Path, dict[str, Any]]]) -> dict[str, Any] | None:
    """What the repo will hold, from ``{run: (GLUE results folder, summary)}``: ``{"vocab", "tasks": {task: (folder,
    counts)}}``, or None when no summary has filtered results.

    Raises:
        `ArtifactError`: summaries filtered with different vocabularies, or filtered results whose dev sets were
            never exported (results from before hf_shrunk wrote them: re-running `hf-shrunk glue` reuses the scores).
    """
    from hf_shrunk.glue import exported_tasks

    fingerprints = {
        run: ((summary.get("vocab") or {}).get("fingerprint"), folder)
        for run, (folder, summary) in results.items()
        if _has_filtered(summary)
    }
    if not fingerprints:
        return None
    if len({fp for fp, _ in fingerprints.values()}) > 1:
        listed = ", ".join(f"{run} ({fp})" for run, (fp, _) in sorted(fingerprints.items()))
        raise ArtifactError(
            f"the GLUE results to publish were filtered with different vocabularies: {listed}. One "
            f"{FILTERED_GLUE_REPO_NAME} repo holds one; publish those runs separately, or re-score with --vocab model."
        )
    tasks: dict[str, tuple[Path, dict[str, Any]]] = {}
    for run, (_, folder) in sorted(fingerprints.items()):
        exported = exported_tasks(folder)
        if not exported:
            raise ArtifactError(
                f"{folder} has filtered GLUE results but not the filtered dev sets they were scored on. Run "
                f"`hf-shrunk glue {run}` again: it reuses every stored score and writes them."
            )
        for task, found in exported.items():
            tasks.setdefault(task, found)
    return {"vocab": next(iter(tasks.values()))[1]["vocab"], "tasks": tasks}


def plan_filtered_glue_repo(sources: dict[str, Any], org: str, model_repos: list[str]) -> RepoPlan:
    """``<org>/glue-vocab-filtered``: ``<task>/<split>-00000-of-00001.parquet`` per task, the card, the counts."""
    from hf_shrunk.glue import parquet_name

    repo_id = f"{org}/{FILTERED_GLUE_REPO_NAME}"
    files, layout = [], {}
    for task, (folder, counts) in sorted(sources["tasks"].items()):
        # a split with no example left has no file and no config (the card's table still counts it)
        kept = [split for split, n in counts["splits"].items() if n["kept"]]
        layout[task] = {split: f"{task}/{parquet_name(split)}" for split in kept}
        files += [PlanFile(path, source=folder / parquet_name(split)) for split, path in layout[task].items()]
    layout = {task: splits for task, splits in layout.items() if splits}
    counts = {task: counts for task, (_, counts) in sorted(sources["tasks"].items())}
    context = filtered_glue_context(repo_id, counts, layout, model_repos)
    identity = {"name": FILTERED_GLUE_REPO_NAME, "key": sources["vocab"].get("fingerprint"), "created": None}
    files.append(PlanFile("README.md", data=render_filtered_glue_card(context).encode()))
    files.append(PlanFile(COUNTS_FILE, data=json_bytes(identity | {"vocab": sources["vocab"], "tasks": counts})))
    kept = sum(r["kept"] for r in context["rows"])
    main = Branch("main", sorted(files, key=lambda f: f.path), "Publish the vocabulary-filtered GLUE dev sets")
    note = f"{kept:,} GLUE dev examples within the vocabulary: the filtered condition of the model cards"
    return RepoPlan(repo_id, "dataset", [main], note=note, origin=identity, origin_file=COUNTS_FILE)
