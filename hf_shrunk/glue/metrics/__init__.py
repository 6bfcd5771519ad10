"""Metrics shipped with hf_shrunk as ``evaluate`` modules, loadable by path without the Hub.

``GLUE_METRIC_PATH`` is the folder of the GLUE metric; load it with
``evaluate.load(GLUE_METRIC_PATH, "cola")`` (any GLUE task name: cola, sst2, mrpc, qqp, stsb, mnli, mnli_matched,
mnli_mismatched, qnli, rte, wnli, ax). It works with ``HF_EVALUATE_OFFLINE=1``.
"""

from pathlib import Path

GLUE_METRIC_PATH = str(Path(__file__).resolve().parent / "glue_metric")


def load_glue_metric(task: str, **kwargs):
    """``evaluate.load`` of the packaged GLUE metric for ``task`` (extra ``kwargs`` go to ``evaluate.load``)."""
    import evaluate

    return evaluate.load(GLUE_METRIC_PATH, task, **kwargs)
