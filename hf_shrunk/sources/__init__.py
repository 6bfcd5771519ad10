"""Where inputs come from: explicit paths, the local mirror, the Hugging Face Hub, the offline fallback.

Other packages import from here only. Every resolved input records its tier (see ``docs/design.md``, "Data tiers").
``hf-shrunk data`` (``python -m hf_shrunk.sources``) writes and inspects mirrors.
"""

from hf_shrunk.sources.corpus import CorpusSource, resolve_sources
from hf_shrunk.sources.glue import GLUE_TASKS, GlueTask, available_glue_tasks, load_glue_task, task_info
from hf_shrunk.sources.mirror import main
from hf_shrunk.sources.tiers import (
    DATA_DIR_ENV,
    GLUE_REPO,
    OFFLINE_VOCAB,
    MissingDataError,
    Resolved,
    hub_errors,
    hub_unavailable,
    mirror_dir,
    resolve_vocab,
)

__all__ = [
    "DATA_DIR_ENV",
    "GLUE_REPO",
    "GLUE_TASKS",
    "OFFLINE_VOCAB",
    "CorpusSource",
    "GlueTask",
    "MissingDataError",
    "Resolved",
    "available_glue_tasks",
    "hub_errors",
    "hub_unavailable",
    "load_glue_task",
    "main",
    "mirror_dir",
    "resolve_sources",
    "resolve_vocab",
    "task_info",
]
