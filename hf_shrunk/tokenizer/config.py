"""The options of `hf-shrunk tokenizer`: one dataclass, filled from a YAML file and then from flags
(:func:`hf_shrunk.config.parse_config`). Must not import torch: ``--help`` answers from it."""

import dataclasses

from hf_shrunk.config import CommonArgs, field


@dataclasses.dataclass
class TokenizerConfig(CommonArgs):
    name: str = field(
        "default", help="Output name under <root>/tokenizer/ (a name, not a path: --root chooses the folder)."
    )
    corpus: str = field("default", help="Corpus artifact to train on (name under <root>/corpus/ or a path).")
    vocab_size: int = field(19_000, help="BPE vocabulary size, special tokens included (paper: 19,000).")
    min_frequency: int = field(2, help="Minimum pair frequency for a merge.")
    model_max_length: int = field(128, help="tokenizer_config.json model_max_length.")
    lowercase: bool = field(
        True, help="Add a Lowercase normalizer (the models only ever see lower-cased text; RoBERTa itself has none)."
    )
    max_sequences: int | None = field(None, help="Train on at most this many corpus sequences (default: all).")
