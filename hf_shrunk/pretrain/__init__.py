"""The pretraining stage: MLM with ``transformers.Trainer`` under ``accelerate launch``.

``hf-shrunk pretrain`` is :func:`main` (the launcher); ``python -m hf_shrunk.pretrain`` is :func:`train_main`,
the training process that ``accelerate launch`` starts on every device. Names that need torch (the Trainer, the
masking collator) are imported on first use, so ``hf-shrunk pretrain --help`` stays instant.
"""

from hf_shrunk.config import lazy_attribute
from hf_shrunk.pretrain.config import PretrainConfig
from hf_shrunk.pretrain.launch import gpu_count, main, with_allocator
from hf_shrunk.pretrain.records import perplexity
from hf_shrunk.pretrain.schedule import (
    evaluation_steps,
    parse_snapshot_steps,
    sequences_in_update,
    sequences_seen,
    updates_for,
)
from hf_shrunk.pretrain.train import choose_precision
from hf_shrunk.pretrain.train import main as train_main

_LAZY = {
    "MaskSeedDataset": "hf_shrunk.pretrain.data",
    "SeededMaskingCollator": "hf_shrunk.pretrain.data",
    "RunInfo": "hf_shrunk.pretrain.trainer",
    "ShrunkTrainer": "hf_shrunk.pretrain.trainer",
    "set_cpu_threads": "hf_shrunk.pretrain.trainer",
    "use_masked_positions_head": "hf_shrunk.pretrain.trainer",
}

__all__ = [
    "PretrainConfig",
    "choose_precision",
    "evaluation_steps",
    "gpu_count",
    "main",
    "parse_snapshot_steps",
    "perplexity",
    "sequences_in_update",
    "sequences_seen",
    "train_main",
    "updates_for",
    "with_allocator",
    *_LAZY,
]


def __getattr__(name: str):
    return lazy_attribute(__name__, _LAZY, name)
