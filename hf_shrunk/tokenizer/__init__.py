"""The tokenizer stage (``hf-shrunk tokenizer``): byte-level BPE in RoBERTa's layout, trained on the corpus."""

from hf_shrunk.tokenizer.config import TokenizerConfig
from hf_shrunk.tokenizer.train import (
    SPECIAL_TOKEN_IDS,
    SPECIAL_TOKENS,
    TOKENIZER_CLASS,
    clean_tokenizer_config,
    load_tokenizer,
    main,
    public_tokenizer_config,
    save_tokenizer,
    train_tokenizer,
)

__all__ = [
    "SPECIAL_TOKENS",
    "SPECIAL_TOKEN_IDS",
    "TOKENIZER_CLASS",
    "TokenizerConfig",
    "clean_tokenizer_config",
    "load_tokenizer",
    "main",
    "public_tokenizer_config",
    "save_tokenizer",
    "train_tokenizer",
]
