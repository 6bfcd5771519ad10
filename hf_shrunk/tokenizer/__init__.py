"""The tokenizer stage (``hf-shrunk tokenizer``): byte-level BPE in RoBERTa's layout, trained on the corpus."""

from hf_shrunk.tokenizer.config import TokenizerConfig
from hf_shrunk.tokenizer.train import SPECIAL_TOKEN_IDS, SPECIAL_TOKENS, load_tokenizer, main, train_tokenizer

__all__ = ["SPECIAL_TOKENS", "SPECIAL_TOKEN_IDS", "TokenizerConfig", "load_tokenizer", "main", "train_tokenizer"]
