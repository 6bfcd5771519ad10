"""The GLUE stage: model resolution, task selection, filtering, fine-tuning, results, summary
(docs/paper.md#glue-protocol)."""

import json

import pytest
from conftest import TEST_GRID, make_glue_dir, make_training_root

from hf_shrunk.config import CONFIG_DIR, ConfigError, UserError
from hf_shrunk.glue import GlueConfig
from hf_shrunk.glue.data import TASKS, main_score, selected_tasks
from hf_shrunk.glue.run import resolve_model, result_path, run_glue
from hf_shrunk.glue.summary import summarize


@pytest.fixture(scope="module")
def trained_root(tmp_path_factory):
    from hf_shrunk.pretrain import train_main as pretrain_main

    root = tmp_path_factory.mktemp("glue")
    make_training_root(root, n_train=800, n_eval=80)
    args = ["--root", str(root), "--grid", str(TEST_GRID), "--size", "factorized-e32-h32-i128-a4-l2",
            "--config", str(CONFIG_DIR / "pretrain_demo.yaml"), "--effective_batch_size", "16",
            "--max_steps", "6", "--eval_steps", "3", "--save_steps", "3", "--eval_max_sequences", "32",
            "--disable_tqdm", "true"]  # fmt: skip
    assert pretrain_main(args) == 0
    return root


@pytest.fixture(scope="module")
def glue_dir(tmp_path_factory):
    return make_glue_dir(tmp_path_factory.mktemp("gluedata"))


def test_resolve_model_kinds(trained_root, tmp_path):
    ref = resolve_model("factorized-e32-h32-i128-a4-l2", root=str(trained_root))
    assert ref.kind == "run" and ref.location.endswith("model") and ref.perplexity > 1
    assert resolve_model(str(trained_root / "pretrain" / "factorized-e32-h32-i128-a4-l2" / "model")).kind == "dir"
    hub = resolve_model("some-org/shrunk-roberta-h64-i256-a2-l2@step8", root=str(tmp_path))
    assert (hub.kind, hub.location, hub.revision, hub.name) == (
        "hub",
        "some-org/shrunk-roberta-h64-i256-a2-l2",
        "step8",
        "some-org--shrunk-roberta-h64-i256-a2-l2@step8",
    )
    with pytest.raises(ConfigError, match="two revisions"):
        resolve_model("a/b@x", revision="y", root=str(tmp_path))
    with pytest.raises(ConfigError, match="neither a finished pretrain run"):
        resolve_model("no-such-run", root=str(tmp_path))


def test_task_selection():
    tasks, notes = selected_tasks(["all"], ["sst2", "cola"])
    assert tasks == ["cola", "sst2"] and any(n.startswith("mnli") for n in notes)
    assert selected_tasks(["rte"], ["rte"]) == (["rte"], [])
    with pytest.raises(UserError, match="not available"):
        selected_tasks(["mnli"], ["sst2"])
    with pytest.raises(ConfigError, match="unknown GLUE task"):
        selected_tasks(["squad"], ["sst2"])


def test_undefined_correlations_count_as_zero():
    from hf_shrunk.glue import load_glue_metric
    from hf_shrunk.glue.run import finite_metrics

    values = load_glue_metric("stsb").compute(predictions=[1.0, 1.0, 1.0], references=[0.5, 2.0, 4.0])
    assert all(v != v for v in values.values())  # scipy: NaN for a constant input
    assert finite_metrics(values) == ({"pearson": 0.0, "spearmanr": 0.0}, ["pearson", "spearmanr"])
    assert finite_metrics({"accuracy": 0.5}) == ({"accuracy": 0.5}, [])


def test_summary_math():
    mnli = TASKS["mnli"]
    assert main_score(
        mnli, {"validation_matched": {"accuracy": 0.6}, "validation_mismatched": {"accuracy": 0.8}}
    ) == pytest.approx(0.7)
    records = []
    for seed, (acc, f1, sst) in enumerate([(0.7, 0.8, 0.9), (0.5, 0.6, 0.7)]):
        common = {
            "variant": "pretrained",
            "condition": "full",
            "seed": seed,
            "n_train": 10,
            "n_eval": {"validation": 5},
        }
        records.append(
            common | {"task": "mrpc", "splits": {"validation": {"accuracy": acc, "f1": f1}}, "score": (acc + f1) / 2}
        )
        records.append(common | {"task": "sst2", "splits": {"validation": {"accuracy": sst}}, "score": sst})
    block = summarize(records)["pretrained"]["full"]
    assert block["tasks"]["mrpc"]["score"]["mean"] == pytest.approx(0.65)
    assert block["tasks"]["mrpc"]["splits"]["validation"]["f1"]["std"] == pytest.approx(0.1414213, rel=1e-5)
    # aggregate per seed: (0.75 + 0.9) / 2 and (0.55 + 0.7) / 2, then mean and std over seeds
    assert block["aggregate"]["mean"] == pytest.approx(0.725) and block["aggregate"]["std"] == pytest.approx(
        0.1414214, rel=1e-5
    )


@pytest.mark.slow
def test_run_glue_end_to_end_and_resume(trained_root, glue_dir, capsys):
    cfg = dict(model="factorized-e32-h32-i128-a4-l2", root=str(trained_root), data_dir=str(glue_dir), seeds=["0", "1"],
               baseline="random-init", num_epochs=2.0, vocab="wordfreq:20000")  # fmt: skip
    summary = run_glue(GlueConfig(**cfg))
    folder = trained_root / "glue" / "factorized-e32-h32-i128-a4-l2"
    for variant in ("pretrained", "random-init"):
        for condition in ("filtered", "full"):
            for task in ("sst2", "mrpc", "stsb"):
                for seed in (0, 1):
                    record = json.loads(result_path(folder, variant, condition, task, seed).read_text())
                    assert record["task"] == task and set(record["splits"]["validation"]) == set(TASKS[task].metrics)
    full = summary["variants"]["pretrained"]["full"]
    assert full["tasks"]["sst2"]["n_eval"] == {"validation": 100}
    filtered = summary["variants"]["pretrained"]["filtered"]
    assert 0 < filtered["tasks"]["sst2"]["n_eval"]["validation"] <= 100
    # RTE: every example has an out-of-vocabulary word -> reported as empty, not a crash; full RTE is scored
    assert any("rte (filtered)" in n and "empty" in n for n in summary["notes"])
    assert "rte" in full["tasks"] and "rte" not in filtered["tasks"]
    assert summary["perplexity"] > 1 and summary["data_tiers"]["sst2"] == "explicit"
    saved = json.loads((folder / "summary.json").read_text())
    assert saved["variants"] == summary["variants"]
    # the filtered dev sets themselves, exported for the glue-vocab-filtered dataset repo: the examples scored
    import pyarrow.parquet as pq

    for task in ("sst2", "mrpc", "stsb", "rte"):
        counts = json.loads((folder / "filtered_dev" / task / "counts.json").read_text())
        dev = pq.read_table(folder / "filtered_dev" / task / "validation-00000-of-00001.parquet").to_pylist()
        assert (
            counts["splits"]["validation"]["kept"] == len(dev)
            and counts["vocab"]["fingerprint"] == summary["vocab"]["fingerprint"]
        )
        assert counts["splits"]["validation"]["total"] == full["tasks"][task]["n_eval"]["validation"]
        if task in filtered["tasks"]:
            assert len(dev) == filtered["tasks"][task]["n_eval"]["validation"]
        else:
            assert len(dev) == 0
    # a re-run scores nothing again
    before = {p: p.stat().st_mtime_ns for p in (folder / "results").rglob("*.json")}
    again = run_glue(GlueConfig(**cfg))
    assert again["variants"] == summary["variants"]
    assert {p: p.stat().st_mtime_ns for p in (folder / "results").rglob("*.json")} == before


def test_requested_missing_task_is_a_clear_error(trained_root, glue_dir):
    with pytest.raises(UserError, match=r"\['cola'\] are not available"):
        run_glue(
            GlueConfig(
                model="factorized-e32-h32-i128-a4-l2", root=str(trained_root), data_dir=str(glue_dir), tasks=["cola"]
            )
        )


@pytest.mark.slow
def test_workers_score_exactly_what_one_process_scores(trained_root, glue_dir):
    """--num_workers 2: two one-thread processes share the jobs; the stored results and the summary equal a
    one-process run's, and the manifest does not depend on the worker count."""
    cfg = dict(model="factorized-e32-h32-i128-a4-l2", root=str(trained_root), data_dir=str(glue_dir), tasks=["sst2"],
               seeds=["0", "1"], condition="full", num_epochs=1.0, vocab="wordfreq:20000")  # fmt: skip
    one = run_glue(GlueConfig(**cfg, name="one", num_threads=1))
    two = run_glue(GlueConfig(**cfg, name="two", num_workers=2))
    assert one["data_tiers"] == two["data_tiers"] == {"sst2": "explicit"}  # the parent read the workers' results
    assert (
        two["variants"] == one["variants"]
        and len(one["variants"]["pretrained"]["full"]["tasks"]["sst2"]["score"]["values"]) == 2
    )
    folder = trained_root / "glue"
    for seed in (0, 1):
        a = json.loads(result_path(folder / "one", "pretrained", "full", "sst2", seed).read_text())
        b = json.loads(result_path(folder / "two", "pretrained", "full", "sst2", seed).read_text())
        assert a["splits"] == b["splits"] and a["score"] == b["score"]
    manifests = [json.loads((folder / n / "manifest.json").read_text())["config"] for n in ("one", "two")]
    assert {k: v for k, v in manifests[0].items() if k != "name"} == {
        k: v for k, v in manifests[1].items() if k != "name"
    }


def test_a_second_writer_is_refused_and_overwrite_clears(trained_root, glue_dir):
    """The results folder's lock and --overwrite hold for every run but a --num_workers worker (which writes under
    its parent's lock)."""
    from hf_shrunk.artifacts import WriteError, artifact_lock

    common = dict(
        model="factorized-e32-h32-i128-a4-l2", root=str(trained_root), data_dir=str(glue_dir), condition="full"
    )
    folder = trained_root / "glue" / "held"
    with artifact_lock(folder), pytest.raises(WriteError):
        run_glue(GlueConfig(**common, name="held", tasks=["sst2"]))
    stale = trained_root / "glue" / "again" / "results" / "stale.json"
    stale.parent.mkdir(parents=True)
    stale.write_text("{}")
    with pytest.raises(UserError, match="not available"):  # stops after the lock: cola is not in glue_dir
        run_glue(GlueConfig(**common, name="again", tasks=["cola"], overwrite=True))
    assert not stale.exists()
