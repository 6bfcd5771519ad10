"""GLUE metric as an ``evaluate`` module, shipped inside hf_shrunk so scoring works offline.

Load it by path (no Hub access needed, also with ``HF_EVALUATE_OFFLINE=1``)::

    import evaluate
    from hf_shrunk.glue.metrics import GLUE_METRIC_PATH

    metric = evaluate.load(GLUE_METRIC_PATH, "mrpc")
    metric.compute(predictions=[1, 0, 1], references=[1, 1, 1])  # {'accuracy': ..., 'f1': ...}

Config names, output keys and definitions follow ``evaluate``'s Hub ``glue`` metric (docs/paper.md#glue-protocol):
CoLA → ``matthews_correlation``; MRPC/QQP → ``accuracy`` and binary ``f1`` (positive label 1); STS-B →
``pearson`` and ``spearmanr``; the other tasks → ``accuracy``. The math is written here with numpy and scipy.stats
so that scikit-learn (a dev-only dependency of hf_shrunk) is not needed. AX, the diagnostic set, is scored with the
K-class Matthews correlation (the GLUE paper's R3 statistic).
"""

import datasets
import evaluate
import numpy as np
from scipy import stats

_CITATION = """\
@inproceedings{wang2019glue,
  title={{GLUE}: A Multi-Task Benchmark and Analysis Platform for Natural Language Understanding},
  author={Wang, Alex and Singh, Amanpreet and Michael, Julian and Hill, Felix and Levy, Omer and Bowman, Samuel R.},
  booktitle={International Conference on Learning Representations (ICLR)},
  year={2019},
  url={https://openreview.net/forum?id=rJ4km2R5t7}
}
"""

_DESCRIPTION = """\
Scores for the GLUE benchmark (General Language Understanding Evaluation, https://gluebenchmark.com/): the metric
of each task's dev set, with the same names and definitions as the `glue` metric on the Hugging Face Hub.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions: predicted labels (int class ids), or predicted similarity scores (float) for `stsb`.
    references: gold labels (int class ids), or gold similarity scores (float) for `stsb`.
Returns: depending on the config (task), one or two of
    "accuracy": fraction of predictions equal to the reference, in [0, 1];
    "f1": binary F1 of the positive class 1 (0.0 when there is no positive prediction nor reference);
    "pearson": Pearson correlation, "spearmanr": Spearman rank correlation;
    "matthews_correlation": Matthews correlation coefficient (0.0 when undefined, e.g. one predicted class).
Examples:
    >>> metric = evaluate.load(GLUE_METRIC_PATH, "cola")
    >>> metric.compute(predictions=[0, 1, 1, 0], references=[0, 1, 0, 0])["matthews_correlation"]
    0.5773502691896258
"""

# config -> scorer names, one table instead of per-task classes (as in run_glue.py's task_to_keys).
TASK_METRICS = {
    "cola": ("matthews_correlation",),
    "sst2": ("accuracy",),
    "mrpc": ("accuracy", "f1"),
    "qqp": ("accuracy", "f1"),
    "stsb": ("pearson", "spearmanr"),
    "mnli": ("accuracy",),
    "mnli_matched": ("accuracy",),
    "mnli_mismatched": ("accuracy",),
    "qnli": ("accuracy",),
    "rte": ("accuracy",),
    "wnli": ("accuracy",),
    "hans": ("accuracy",),
    "ax": ("matthews_correlation",),
}
REGRESSION_TASKS = ("stsb",)


def accuracy(predictions, references) -> float:
    """Fraction of exact matches."""
    predictions, references = np.asarray(predictions), np.asarray(references)
    return float(np.mean(predictions == references))


def binary_f1(predictions, references, positive=1) -> float:
    """F1 of the ``positive`` class: 2·TP / (2·TP + FP + FN); 0.0 when that is 0/0 (scikit-learn's convention)."""
    pred = np.asarray(predictions) == positive
    ref = np.asarray(references) == positive
    tp = np.sum(pred & ref)
    denominator = 2 * tp + np.sum(pred & ~ref) + np.sum(~pred & ref)
    return float(2 * tp / denominator) if denominator else 0.0


def matthews_correlation(predictions, references) -> float:
    """Matthews correlation for K classes (Gorodkin 2004), from the confusion matrix; 0.0 when undefined."""
    predictions, references = np.asarray(predictions), np.asarray(references)
    labels, encoded = np.unique(np.concatenate([references, predictions]), return_inverse=True)
    k, n = len(labels), len(references)
    confusion = np.zeros((k, k), dtype=np.float64)
    np.add.at(confusion, (encoded[:n], encoded[n:]), 1.0)
    true_counts, pred_counts = confusion.sum(axis=1), confusion.sum(axis=0)
    correct, total = np.trace(confusion), confusion.sum()
    covariance = correct * total - pred_counts @ true_counts
    variance_pred = total**2 - pred_counts @ pred_counts
    variance_true = total**2 - true_counts @ true_counts
    if variance_pred * variance_true == 0:
        return 0.0
    return float(covariance / np.sqrt(variance_pred * variance_true))


def pearson(predictions, references) -> float:
    """Pearson correlation, computed in float64 (scipy would stay in float32 for float32 inputs)."""
    return float(
        stats.pearsonr(np.asarray(predictions, dtype=np.float64), np.asarray(references, dtype=np.float64))[0]
    )


def spearman(predictions, references) -> float:
    """Spearman rank correlation (ties get average ranks)."""
    return float(
        stats.spearmanr(np.asarray(predictions, dtype=np.float64), np.asarray(references, dtype=np.float64))[0]
    )


SCORERS = {
    "accuracy": accuracy,
    "f1": binary_f1,
    "matthews_correlation": matthews_correlation,
    "pearson": pearson,
    "spearmanr": spearman,
}


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class GlueMetric(evaluate.Metric):
    """GLUE task metrics; the config name is the task (``cola``, ``sst2``, ... ``ax``)."""

    def _info(self):
        if self.config_name not in TASK_METRICS:
            raise KeyError(
                f"unknown GLUE config {self.config_name!r}; pass one of: {', '.join(TASK_METRICS)} "
                '(e.g. evaluate.load(GLUE_METRIC_PATH, "mrpc"))'
            )
        dtype = "float32" if self.config_name in REGRESSION_TASKS else "int64"
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value(dtype), "references": datasets.Value(dtype)}),
            homepage="https://gluebenchmark.com/",
            reference_urls=["https://arxiv.org/abs/1804.07461"],
            format="numpy",
        )

    def _compute(self, predictions, references):
        if len(predictions) == 0:
            raise ValueError(f"GLUE {self.config_name}: no predictions to score")
        return {name: SCORERS[name](predictions, references) for name in TASK_METRICS[self.config_name]}
