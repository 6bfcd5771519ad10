"""The vocabulary-filtered GLUE dataset repo's plan: one vocabulary per repo, no results without their dev sets,
and a split left empty by the filter has no file and no config (its count stays in the card)."""

import json

import pytest
from conftest import export_test_filtered_dev, make_glue_summary

from hf_shrunk.artifacts import ArtifactError
from hf_shrunk.publish.glue_data import filtered_glue_sources, plan_filtered_glue_repo


def _results(tmp_path, run, tasks=("sst2", "mrpc")):
    folder = tmp_path / "glue" / run
    folder.mkdir(parents=True)
    summary = make_glue_summary(run, tasks=tasks)
    summary["vocab"] = export_test_filtered_dev(folder, tasks)
    return folder, summary


def test_results_filtered_with_different_vocabularies_are_refused(tmp_path):
    a, b = _results(tmp_path, "a"), _results(tmp_path, "b")
    b[1]["vocab"] = b[1]["vocab"] | {"fingerprint": "0123456789abcdef"}
    with pytest.raises(ArtifactError, match="filtered with different vocabularies: a .*, b \\(0123456789abcdef\\)"):
        filtered_glue_sources({"a": a, "b": b})


def test_filtered_results_without_their_dev_sets_say_how_to_get_them(tmp_path):
    folder = tmp_path / "glue" / "old"
    folder.mkdir(parents=True)
    with pytest.raises(ArtifactError, match="Run `hf-shrunk glue old` again: it reuses every stored score"):
        filtered_glue_sources({"old": (folder, make_glue_summary("old"))})
    assert filtered_glue_sources({"full-only": (folder, make_glue_summary("x", conditions=("full",)))}) is None


def test_an_empty_filtered_split_has_no_file_and_no_config(tmp_path):
    folder, summary = _results(tmp_path, "run")
    counts = folder / "filtered_dev" / "mrpc" / "counts.json"
    emptied = json.loads(counts.read_text())
    emptied["splits"]["validation"]["kept"] = 0
    counts.write_text(json.dumps(emptied))
    plan = plan_filtered_glue_repo(filtered_glue_sources({"run": (folder, summary)}), "org", ["org/shrunk-x"])
    paths = {f.path for f in plan.branches[0].files}
    assert "sst2/validation-00000-of-00001.parquet" in paths and not any(p.startswith("mrpc/") for p in paths)
    card = plan.branches[0].file("README.md").data.decode()
    assert "config_name: sst2" in card and "config_name: mrpc" not in card
    assert "| mrpc | validation | 0 | 12 |" in card  # the count stays in the card's table
    assert plan.repo_id == "org/glue-vocab-filtered" and plan.origin["key"] == summary["vocab"]["fingerprint"]
