"""The model grid and both model families (``hf-shrunk sizes``).

``grid`` (sizes, parameter counts, FLOPs) is plain Python and imported eagerly; the names that need torch
(``modeling``) are imported on first use, so ``hf-shrunk sizes --help`` stays instant. ``modeling_shrunk.py``
and ``configuration_shrunk.py`` are uploaded to every factorized repo and import only torch and transformers.
"""

from hf_shrunk.config import lazy_attribute
from hf_shrunk.models.config import SizesConfig
from hf_shrunk.models.grid import (
    FAMILIES,
    PAPER_VOCAB,
    Grid,
    Size,
    flops_per_sequence,
    load_grid,
    main,
    parameter_counts,
)

_LAZY = {
    name: "hf_shrunk.models.modeling"
    for name in (
        "build_config",
        "build_model",
        "check_config_matches_tokenizer",
        "count_model_parameters",
        "register_auto_classes",
        "save_model",
        "size_of_config",
        "unwrap_model",
    )
} | {"use_fast_dropout": "hf_shrunk.models.dropout"}

__all__ = [
    "FAMILIES",
    "PAPER_VOCAB",
    "Grid",
    "Size",
    "SizesConfig",
    "flops_per_sequence",
    "load_grid",
    "main",
    "parameter_counts",
    *_LAZY,
]


def __getattr__(name: str):
    return lazy_attribute(__name__, _LAZY, name)
