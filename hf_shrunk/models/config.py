"""The options of `hf-shrunk sizes`: one dataclass, filled from a YAML file and then from flags
(:func:`hf_shrunk.config.parse_config`). Must not import torch: ``--help`` answers from it."""

import dataclasses

from hf_shrunk.config import field


@dataclasses.dataclass
class SizesConfig:
    grid: str = field("paper", help="'paper', 'demo' or a grid YAML file.")
    vocab_size: int | None = field(
        None, help="Model vocabulary size (default: the grid's; paper 19,010 = 19,000 + 10)."
    )
    json: bool = field(False, help="Print JSON instead of a table.")
    markdown: bool = field(False, help="Print a Markdown table (as in the README).")
