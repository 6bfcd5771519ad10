"""Model and dataset cards: Jinja templates (``cards/templates``) plus card data that emits ``model-index``."""

from hf_shrunk.cards.dataset import dataset_card_context, render_dataset_card
from hf_shrunk.cards.glue import glue_eval_result_files
from hf_shrunk.cards.glue_dataset import filtered_glue_context, render_filtered_glue_card
from hf_shrunk.cards.model import (
    MIN_TRANSFORMERS,
    PAPER_BIBTEX,
    PAPER_URL,
    PROGRESS_KEYS,
    CardError,
    load_run,
    model_card_context,
    render_checkpoint_card,
    render_model_card,
)

__all__ = [
    "MIN_TRANSFORMERS",
    "PAPER_BIBTEX",
    "PAPER_URL",
    "PROGRESS_KEYS",
    "CardError",
    "dataset_card_context",
    "filtered_glue_context",
    "glue_eval_result_files",
    "load_run",
    "model_card_context",
    "render_checkpoint_card",
    "render_dataset_card",
    "render_filtered_glue_card",
    "render_model_card",
]
