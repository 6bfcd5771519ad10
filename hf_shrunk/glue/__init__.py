"""The GLUE stage (``hf-shrunk glue``): fine-tune and score any checkpoint, vocabulary-filtered and full.

The metric is an ``evaluate`` module shipped in ``glue/metrics/glue_metric``.
"""

from hf_shrunk.glue.config import GlueConfig
from hf_shrunk.glue.data import TASKS, tokenized_task
from hf_shrunk.glue.export import exported_tasks, parquet_name
from hf_shrunk.glue.metrics import GLUE_METRIC_PATH, load_glue_metric
from hf_shrunk.glue.run import (
    evaluate_model,
    evaluate_pushed,
    format_summary,
    main,
    run_glue,
    trainable_tasks,
    training_arguments,
    worker_job,
)

__all__ = [
    "GLUE_METRIC_PATH",
    "TASKS",
    "GlueConfig",
    "evaluate_model",
    "evaluate_pushed",
    "exported_tasks",
    "format_summary",
    "load_glue_metric",
    "main",
    "parquet_name",
    "run_glue",
    "tokenized_task",
    "trainable_tasks",
    "training_arguments",
    "worker_job",
]
