"""The packaged GLUE metric (hf_shrunk/glue/metrics/glue_metric) against scikit-learn and scipy, and its offline
loading."""

import ast
import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import subprocess_env
from scipy import stats
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

from hf_shrunk.glue import GLUE_METRIC_PATH, load_glue_metric

CLASSIFICATION = [
    "cola",
    "sst2",
    "mrpc",
    "qqp",
    "mnli",
    "mnli_matched",
    "mnli_mismatched",
    "qnli",
    "rte",
    "wnli",
    "ax",
]
NUM_LABELS = {"mnli": 3, "mnli_matched": 3, "mnli_mismatched": 3, "ax": 3}
SEEDS = [0, 1, 2, 3]


def reference_scores(task, predictions, references):
    """What the scores must be, computed with scikit-learn / scipy (float64)."""
    if task == "stsb":
        p = np.asarray(predictions, dtype=np.float64)
        r = np.asarray(references, dtype=np.float64)
        return {"pearson": stats.pearsonr(p, r)[0], "spearmanr": stats.spearmanr(p, r)[0]}
    if task in ("cola", "ax"):
        with warnings.catch_warnings():  # sklearn warns when one label is seen; its MCC is then 0
            warnings.simplefilter("ignore", UserWarning)
            return {"matthews_correlation": matthews_corrcoef(references, predictions)}
    if task in ("mrpc", "qqp"):
        return {
            "accuracy": accuracy_score(references, predictions),
            "f1": f1_score(references, predictions, zero_division=0.0),
        }
    return {"accuracy": accuracy_score(references, predictions)}


def random_labels(task, seed, n=97):
    rng = np.random.default_rng(seed)
    k = NUM_LABELS.get(task, 2)
    return rng.integers(0, k, n).tolist(), rng.integers(0, k, n).tolist()


def degenerate_cases(task):
    """All-one-class predictions and/or references, perfect and inverted predictions."""
    k = NUM_LABELS.get(task, 2)
    refs = [i % k for i in range(20)]
    return [
        ([1] * 20, refs),  # one predicted class: MCC undefined -> 0 (sklearn)
        ([0] * 20, refs),  # no positive prediction: F1 = 0
        ([0] * 20, [0] * 20),  # one class everywhere: MCC 0, F1 0 (0/0), accuracy 1
        ([1] * 20, [1] * 20),
        (refs, refs),  # perfect
        ([(r + 1) % k for r in refs], refs),  # always wrong
    ]


def assert_close(got, want):
    assert set(got) == set(want), (got, want)
    for key in want:
        assert isinstance(got[key], float), (key, type(got[key]))
        assert abs(got[key] - float(want[key])) <= 1e-12, (key, got[key], want[key])


@pytest.mark.parametrize("task", CLASSIFICATION)
def test_classification_agrees_with_sklearn(task):
    metric = load_glue_metric(task)
    cases = [random_labels(task, seed) for seed in SEEDS] + degenerate_cases(task)
    for predictions, references in cases:
        assert_close(
            metric.compute(predictions=predictions, references=references),
            reference_scores(task, predictions, references),
        )


def test_mcc_is_not_accuracy():
    """A case computed by hand: TP=1, TN=2, FP=1, FN=0 -> MCC = (1*2 - 1*0) / sqrt(2*1*3*2) = 1/sqrt(3)."""
    metric = load_glue_metric("cola")
    score = metric.compute(predictions=[0, 1, 1, 0], references=[0, 1, 0, 0])["matthews_correlation"]
    assert score == pytest.approx(1 / np.sqrt(3), abs=1e-15)


def test_stsb_agrees_with_scipy():
    metric = load_glue_metric("stsb")
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        references = rng.uniform(0, 5, 113)
        predictions = references + rng.normal(0, 1.5, 113)
        # The metric's features are float32 like the Hub metric's, so compare on float32-rounded inputs.
        p32, r32 = predictions.astype(np.float32), references.astype(np.float32)
        got = metric.compute(predictions=predictions.tolist(), references=references.tolist())
        assert_close(got, reference_scores("stsb", p32, r32))
    ties = metric.compute(predictions=[1.0, 1.0, 2.0, 3.0, 3.0], references=[0.0, 1.0, 1.0, 2.5, 4.0])
    assert_close(ties, reference_scores("stsb", [1.0, 1.0, 2.0, 3.0, 3.0], [0.0, 1.0, 1.0, 2.5, 4.0]))
    assert metric.compute(predictions=[1.0, 2.0, 3.0], references=[3.0, 2.0, 1.0])["spearmanr"] == pytest.approx(-1.0)


def test_output_keys_match_hub_glue():
    keys = {
        "cola": {"matthews_correlation"},
        "mrpc": {"accuracy", "f1"},
        "qqp": {"accuracy", "f1"},
        "stsb": {"pearson", "spearmanr"},
        "sst2": {"accuracy"},
        "rte": {"accuracy"},
    }
    for task, expected in keys.items():
        data = ([0.5, 1.5, 2.5], [1.0, 1.0, 2.0]) if task == "stsb" else ([0, 1, 1], [1, 1, 0])
        assert set(load_glue_metric(task).compute(predictions=data[0], references=data[1])) == expected


def test_unknown_task_names_the_valid_ones():
    with pytest.raises(KeyError, match="mrpc"):
        load_glue_metric("glue_all")


def test_module_does_not_import_sklearn():
    tree = ast.parse((Path(GLUE_METRIC_PATH) / "glue_metric.py").read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported and not any(name.startswith("sklearn") for name in imported), imported


def test_loads_offline_by_path_in_fresh_process(tmp_path):
    code = (
        "import evaluate, json; from hf_shrunk.glue.metrics import GLUE_METRIC_PATH; "
        "m = evaluate.load(GLUE_METRIC_PATH, 'mrpc'); "
        "print(json.dumps(m.compute(predictions=[1, 0, 1, 1], references=[1, 0, 0, 1])))"
    )
    env = subprocess_env(HF_EVALUATE_OFFLINE="1", HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf_home"))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    scores = json.loads(out.stdout.strip().splitlines()[-1])
    assert scores == {"accuracy": 0.75, "f1": 0.8}
