"""The options of `hf-shrunk corpus`: one dataclass, filled from a YAML file and then from flags
(:func:`hf_shrunk.config.parse_config`). Must not import torch: ``--help`` answers from it."""

import dataclasses

from hf_shrunk.config import CommonArgs, ConfigError, field, split_list


@dataclasses.dataclass
class CorpusConfig(CommonArgs):
    name: str = field(
        "default", help="Output name under <root>/corpus/ (a name, not a path: --root chooses the folder)."
    )
    sources: list[str] = field(
        ["auto"],
        help="Raw text to filter: 'auto' (mirror, else Hub, else offline fallback), 'mirror' or 'mirror:NAME' "
        "(HF_SHRUNK_DATA_DIR/corpus/NAME.parquet), txt/jsonl/parquet files or globs, 'hub:OWNER/NAME[:CONFIG]' "
        "(streamed), 'text-machine-lab/constrained_language' (the paper's corpus, verified and passed through), "
        "'fallback' (Wikipedia text shipped in the gensim wheel on PyPI).",
    )
    vocab: str = field(
        "auto",
        help="Vocabulary: 'auto' (mirror, else Hub, else wordfreq:21000), the paper's CSV, a one-word-per-line "
        "file, or 'wordfreq:N'.",
    )
    text_column: str = field("text", help="Column holding the text in jsonl/parquet/Hub sources.")
    passes: list[str] = field(
        ["sentence", "span"], help="Unit passes whose union forms the corpus (docs/paper.md#corpus-filter)."
    )
    sentence_min_tokens: int = field(5, help="Sentence pass: keep a sentence with more than this many counted tokens.")
    span_words: int = field(110, help="Span pass: window length in whitespace words.")
    span_stride: int = field(30, help="Span pass: stride between window starts.")
    span_min_tokens: int = field(40, help="Span pass: keep a window with more than this many counted tokens.")
    max_oov_fraction: float = field(
        0.0, help="Largest fraction of out-of-vocabulary counted tokens a unit may have (paper: 0; follow-up: 0.01)."
    )
    dedup: bool = field(True, help="Remove exact duplicate units.")
    max_seq_len: int = field(128, help="Target training sequence length in tokens.")
    tokens_per_word: float = field(1.2, help="Grouping ratio: a sequence closes before words*ratio >= max_seq_len.")
    validation_size: str = field(
        "auto", help="Held-out sequences: a count, a fraction, or 'auto' = min(100000, 5%% of the sequences)."
    )
    test_size: str = field("auto", help="Like --validation_size, for the test split.")
    seed: int = field(0, help="Seed of the sequence shuffle.")
    split_by: str = field(
        "unit",
        help="How validation and test are held out: 'unit' (paper: shuffle the grouped sequences, so held-out text "
        "can share a source document, even a span window, with train) or 'document' (whole source documents go to "
        "one split; held-out sizes are then approximate).",
    )
    contamination: bool = field(
        True,
        help="Write a contamination report into stats.json: n-gram overlap of validation, test and GLUE dev "
        "sets with train, with --examples_per_reason examples each (beyond the paper; docs/paper.md#differences).",
    )
    contamination_ngram: int = field(13, help="Contamination report: n of the word n-grams compared (13).")
    contamination_glue: str = field(
        "auto",
        help="GLUE dev sets the contamination report checks: 'auto' (those in the data mirror), 'hub' (also from "
        "the Hub), 'none', or a GLUE folder (<task>/<split>.parquet or the TSV layout).",
    )
    max_docs: int | None = field(None, help="Read at most this many documents per source (Hub sources need it).")
    max_doc_chars: int = field(
        10_000_000, help="Refuse a document/line longer than this many characters (names file and line)."
    )
    num_proc: int = field(1, help="Worker processes for filtering.")
    executor: str = field(
        "local",
        help="'local' (a process pool over document batches) or 'datatrove' (the same predicates as a datatrove "
        "pipeline; needs the 'scale' extra).",
    )
    examples_per_reason: int = field(3, help="Dropped units kept per reason in stats.json for inspection.")

    def _check_split_and_report(self):
        if self.split_by not in ("unit", "document"):
            raise ConfigError(f"--split_by must be 'unit' or 'document', got {self.split_by!r}")
        if self.contamination_ngram < 1:
            raise ConfigError(f"--contamination_ngram must be positive, got {self.contamination_ngram}")

    def __post_init__(self):
        if self.executor not in ("local", "datatrove"):
            raise ConfigError(f"--executor must be 'local' or 'datatrove', got {self.executor!r}")
        self.sources = split_list(self.sources)
        self.passes = split_list(self.passes)
        if not self.sources:
            raise ConfigError("--sources is empty; give at least one source (or 'auto')")
        for flag, value in (("--validation_size", self.validation_size), ("--test_size", self.test_size)):
            text = str(value).strip().lower()
            try:
                ok = text == "auto" or float(text) >= 0
            except ValueError:
                ok = False
            if not ok:
                raise ConfigError(f"{flag} must be a count, a fraction (e.g. 0.05) or 'auto', got {value!r}")
        if self.max_docs is not None and self.max_docs < 1:
            raise ConfigError(f"--max_docs must be positive, got {self.max_docs}")
        if self.max_doc_chars < 1:
            raise ConfigError(f"--max_doc_chars must be positive, got {self.max_doc_chars}")
        unknown = set(self.passes) - {"sentence", "span"}
        if unknown or not self.passes:
            raise ConfigError(f"--passes takes 'sentence' and/or 'span', got {self.passes}")
        if not 0.0 <= self.max_oov_fraction < 1.0:
            raise ConfigError(f"--max_oov_fraction must be in [0, 1), got {self.max_oov_fraction}")
        if self.span_stride <= 0 or self.span_words <= 0:
            raise ConfigError("--span_words and --span_stride must be positive")
        self._check_split_and_report()
        if self.num_proc < 1:
            raise ConfigError(f"--num_proc must be >= 1, got {self.num_proc}")
