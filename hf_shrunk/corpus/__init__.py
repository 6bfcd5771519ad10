"""The corpus stage (``hf-shrunk corpus``): raw English filtered to the vocabulary, grouped into sequences, split.

Other packages import from here only; the modules inside are ``build`` (the stage), ``rule`` (the unit
predicate and its drop reasons), ``batch``/``executors``/``datatrove_pipeline`` (running the rule at scale),
``contamination`` (the n-gram overlap report of held-out text and GLUE dev sets with train).
"""

from hf_shrunk.corpus.build import build_corpus, main, vocab_record
from hf_shrunk.corpus.config import CorpusConfig
from hf_shrunk.corpus.contamination import contamination_report
from hf_shrunk.corpus.executors import run_local
from hf_shrunk.corpus.rule import REASONS, FilterSettings

__all__ = [
    "REASONS",
    "CorpusConfig",
    "FilterSettings",
    "build_corpus",
    "contamination_report",
    "main",
    "run_local",
    "vocab_record",
]
