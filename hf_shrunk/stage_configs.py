"""The stage configs: one dataclass per ``hf-shrunk`` command, defaults from the paper (PAPER.md).

Filled by :func:`hf_shrunk.config.parse_config` from a YAML file and then from flags. Derived values (slugs,
parameter counts, FLOPs) are computed in code, never configured. Like ``config.py``, this module must not import
torch: ``--help`` answers from these dataclasses.
"""

import dataclasses

from hf_shrunk.config import ConfigError, field, split_list


@dataclasses.dataclass
class CommonArgs:
    root: str | None = field(None, help="Artifact root (default: $HF_SHRUNK_HOME or ~/.cache/hf_shrunk).")
    overwrite: bool = field(False, help="Rebuild the output even if a finished one with the same config exists.")


@dataclasses.dataclass
class CorpusConfig(CommonArgs):
    name: str = field("default", help="Output name under <root>/corpus/ (or a path).")
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
    passes: list[str] = field(["sentence", "span"], help="Unit passes whose union forms the corpus (paper §2).")
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
        if self.num_proc < 1:
            raise ConfigError(f"--num_proc must be >= 1, got {self.num_proc}")


@dataclasses.dataclass
class TokenizerConfig(CommonArgs):
    name: str = field("default", help="Output name under <root>/tokenizer/ (or a path).")
    corpus: str = field("default", help="Corpus artifact to train on (name under <root>/corpus/ or a path).")
    vocab_size: int = field(19_000, help="BPE vocabulary size, special tokens included (paper: 19,000).")
    min_frequency: int = field(2, help="Minimum pair frequency for a merge.")
    model_max_length: int = field(128, help="tokenizer_config.json model_max_length.")
    lowercase: bool = field(
        True, help="Add a Lowercase normalizer (the models only ever see lower-cased text; RoBERTa itself has none)."
    )
    max_sequences: int | None = field(None, help="Train on at most this many corpus sequences (default: all).")


@dataclasses.dataclass
class SizesConfig:
    grid: str = field("paper", help="'paper', 'demo' or a grid YAML file.")
    vocab_size: int | None = field(
        None, help="Model vocabulary size (default: the grid's; paper 19,010 = 19,000 + 10)."
    )
    json: bool = field(False, help="Print JSON instead of a table.")
    markdown: bool = field(False, help="Print a Markdown table (as in the README).")


@dataclasses.dataclass
class PretrainConfig(CommonArgs):
    """hf_shrunk's own pretraining options; ``TrainingArguments`` flags are parsed beside them."""

    size: str | None = field(None, help="Grid size to train: a slug from `hf-shrunk sizes` or a paper run name.")
    grid: str = field("paper", help="'paper', 'demo' or a grid YAML file.")
    corpus: str = field("default", help="Corpus artifact (name under <root>/corpus/ or a path).")
    tokenizer: str = field("default", help="Tokenizer artifact (name under <root>/tokenizer/ or a path).")
    name: str | None = field(None, help="Run folder name under <root>/pretrain/ (default: the slug).")
    effective_batch_size: int = field(
        256, help="Sequences per optimizer update across all processes (paper: 256); accumulation is derived."
    )
    micro_batch_size: int | None = field(
        None, help="Sequences per process per forward pass (default: 64 on CPU, up to 256 on GPU)."
    )
    max_seq_len: int = field(128, help="Sequence length in tokens (paper: 128).")
    pack: bool = field(False, help="Pack token streams into full 128-token rows instead of padding each sequence.")
    mlm_probability: float = field(0.15, help="Fraction of positions selected for prediction (paper: 0.15).")
    mask_replace_prob: float = field(1.0, help="Selected positions replaced by <mask> (paper: all of them).")
    random_replace_prob: float = field(0.0, help="Selected positions replaced by a random token (paper: 0).")
    masked_positions_head: bool = field(
        True, help="Apply the MLM head to masked positions only (same loss, far fewer FLOPs over 19K classes)."
    )
    precision: str = field(
        "auto", help="'auto' (bf16 autocast where the CPU/GPU supports it, else fp32), 'bf16' or 'fp32' (paper)."
    )
    init: str = field("paper", help="'paper' (Xavier-normal weights, 0.01 biases) or 'hf' (transformers' default).")
    dropout: float = field(0.1, help="Hidden and attention dropout (paper: 0.1).")
    warmup: str = field("paper", help="Warm-up updates: 'paper' = min(4000, 5%% of updates), or a number.")
    vocab_padding: int = field(10, help="Model vocab = len(tokenizer) + this (paper: 19,000 + 10).")
    snapshot_steps: str = field(
        "pow2:512,every:1000",
        help="Steps whose weights are kept as snapshots (Hub step{N} branches): comma list of N, 'pow2:N' "
        "(1,2,4..N) and 'every:N'. The final step is always kept.",
    )
    eval_max_sequences: int | None = field(None, help="Evaluate on at most this many validation sequences.")
    max_train_sequences: int | None = field(None, help="Train on at most this many corpus sequences.")
    resume: bool = field(False, help="Continue from the last complete checkpoint of this run.")
    num_threads: int | None = field(None, help="CPU threads per process (default: all cores / local processes).")

    def __post_init__(self):
        if self.init not in ("paper", "hf"):
            raise ConfigError(f"--init must be 'paper' or 'hf', got {self.init!r}")
        if self.precision not in ("auto", "bf16", "fp32"):
            raise ConfigError(f"--precision must be auto, bf16 or fp32, got {self.precision!r}")
        if self.effective_batch_size < 1:
            raise ConfigError("--effective_batch_size must be positive")
        if not 0.0 < self.mlm_probability < 1.0:
            raise ConfigError(f"--mlm_probability must be in (0, 1), got {self.mlm_probability}")
        if self.mask_replace_prob + self.random_replace_prob > 1.0:
            raise ConfigError("--mask_replace_prob + --random_replace_prob must be <= 1")


@dataclasses.dataclass
class GlueConfig(CommonArgs):
    model: str | None = field(
        None, help="Pretrain run name, local model directory, or Hub repo id with optional @revision."
    )
    revision: str | None = field(None, help="Hub revision (branch, tag or commit); same as MODEL@REVISION.")
    tasks: list[str] = field(["all"], help="GLUE tasks (cola sst2 mrpc qqp stsb mnli qnli rte wnli) or 'all'.")
    seeds: list[str] = field(["0", "1", "2"], help="Fine-tuning seeds (paper: 0 1 2).")
    condition: str = field("both", help="'filtered' (vocabulary-filtered GLUE), 'full' or 'both'.")
    baseline: str = field("none", help="'random-init' also scores the same architecture from random weights.")
    data_dir: str | None = field(None, help="GLUE directory: <task>/<split>.parquet or the GLUE TSV layout.")
    vocab: str = field("auto", help="Vocabulary for the filtered condition (as in `hf-shrunk corpus`).")
    learning_rate: float = field(2e-4, help="Peak learning rate (paper: 2e-4).")
    batch_size: int = field(32, help="Training batch size (paper: 32).")
    num_epochs: float = field(5.0, help="Training epochs (paper: 5).")
    max_length: int = field(128, help="Truncation length in tokens (paper: 128).")
    weight_decay: float = field(0.0, help="Weight decay (paper: 0).")
    dropout: float = field(0.1, help="Dropout while fine-tuning, whatever the checkpoint was pretrained with (0.1).")
    eval_batch_size: int = field(256, help="Evaluation batch size.")
    max_train_samples: int | None = field(None, help="Fine-tune on at most this many training examples.")
    max_eval_samples: int | None = field(None, help="Score on at most this many evaluation examples.")
    pad_to_max_length: bool = field(False, help="Pad every batch to --max_length (run_glue.py style; slower).")
    group_by_length: bool = field(
        False, help="Batch examples of similar length (faster; hurt small models on SST-2 in our tests, so off)."
    )
    bf16: bool = field(False, help="bf16 autocast (paper: fp32).")
    name: str | None = field(None, help="Results folder under <root>/glue/ (default: derived from MODEL).")
    num_threads: int | None = field(None, help="CPU threads (default: all cores).")

    def __post_init__(self):
        if self.condition not in ("filtered", "full", "both"):
            raise ConfigError(f"--condition must be filtered, full or both, got {self.condition!r}")
        if self.baseline not in ("none", "random-init"):
            raise ConfigError(f"--baseline must be 'none' or 'random-init', got {self.baseline!r}")
        self.seeds = split_list(self.seeds)
        self.tasks = [t.lower().replace("-", "") for t in split_list(self.tasks)]
        bad = [s for s in self.seeds if not s.lstrip("-").isdigit()]
        if bad:
            raise ConfigError(f"--seeds must be integers, got {bad}")


@dataclasses.dataclass
class FitConfig(CommonArgs):
    name: str = field("default", help="Output name under <root>/fit/ (or a path).")
    runs: list[str] = field(["all"], help="Pretrain runs to collect points from (names or paths), or 'all'.")
    points_csv: str | None = field(
        None,
        help="CSV of points instead of runs: run, step, params, non_embedding_params, tokens, flops (or flops_paper / "
        "flops_corrected / flops_kaplan), loss. Header case and punctuation do not matter and the paper's headers "
        "(run_name, eval/loss, 'FLOPS Hoffman total', ...) are understood.",
    )
    glue: list[str] = field(
        ["auto"], help="GLUE summary.json files/folders for the correlation ('auto': all under <root>/glue; 'none')."
    )
    x: str = field("flops_paper", help="Compute axis: flops_paper, flops_corrected, or (CSV input only) flops_kaplan.")
    bins: int = field(30, help="Log-spaced compute bins for the frontier (paper: 30).")
    frontier: str = field(
        "auto",
        help="'bins': frontier = lowest loss per compute bin (paper §8); 'none': fit all points as given; 'auto': "
        "'bins', except for a CSV that already is a frontier (a 'FLOP bins'/'frontier_bin' column with one point "
        "per bin, like the paper's COMPUTE_OPTIMAL_RESULTS.csv), whose points are kept as they are.",
    )
    break_at: str = field("auto", help="Break of the power law: 'auto' (found from data), 'none' or a value (2.2e15).")
    min_segment_points: int = field(3, help="Fewest frontier points on each side of a break.")
    bootstrap: int = field(1000, help="Bootstrap resamples for confidence intervals (0: none).")
    seed: int = field(0, help="Bootstrap seed.")

    def __post_init__(self):
        self.runs = split_list(self.runs) or ["all"]
        self.glue = split_list(self.glue)
        if self.x not in ("flops_paper", "flops_corrected", "flops_kaplan"):
            raise ConfigError(f"--x must be flops_paper, flops_corrected or flops_kaplan, got {self.x!r}")
        if self.frontier not in ("auto", "bins", "none"):
            raise ConfigError(f"--frontier must be auto, bins or none, got {self.frontier!r}")
        if self.bins < 2:
            raise ConfigError(f"--bins must be at least 2, got {self.bins}")
        if self.bootstrap < 0 or self.min_segment_points < 2:
            raise ConfigError("--bootstrap must be >= 0 and --min_segment_points >= 2")
        self.break_at = str(self.break_at).strip().lower()
        if self.break_at not in ("auto", "none"):
            try:
                value = float(self.break_at)
            except ValueError:
                value = float("nan")
            if not value > 0 or value == float("inf"):
                raise ConfigError(f"--break_at must be 'auto', 'none' or a positive number, got {self.break_at!r}")


@dataclasses.dataclass
class PublishConfig(CommonArgs):
    org: str | None = field(None, help="Hub user or organisation that owns the repos (required).")
    sizes: list[str] = field(
        ["all"],
        help="Pretrain runs to publish (run names/slugs under <root>/pretrain/, or paths), 'all', or 'none' (only "
        "--dataset). For `publish verify`: slugs or repo ids (default: every repo of the suite's Collection).",
    )
    dataset: bool = field(False, help="Also publish (or verify) the corpus dataset repo <org>/shrunk-corpus.")
    corpus: str = field("default", help="Corpus artifact for the dataset repo.")
    tokenizer: str = field("default", help="Tokenizer artifact shipped in the dataset repo (skipped if absent).")
    fit: str | None = field("default", help="Fit artifact whose results the cards quote (skipped if absent).")
    dry_run: bool = field(
        False,
        help="Print the plan (repos, branches, files, sizes) and render the cards into --to_dir (default "
        "<root>/publish/<org>/); push nothing.",
    )
    to_dir: str | None = field(
        None,
        help="Write exactly the trees that would be pushed into this folder (<dir>/models/<repo>/<branch>/..., "
        "<dir>/datasets/<repo>/main/..., plan.json); push nothing.",
    )
    token: str | None = field(None, help="Hub token (default: HF_TOKEN or the token saved by `hf auth login`).")
    private: bool = field(False, help="Create private repos (and a private Collection).")
    collection: bool = field(True, help="Add the published repos to the suite's Collection on the Hub.")
    allow_missing_results: bool = field(False, help="Publish models without GLUE results (the card says so).")
    license: str = field("apache-2.0", help="License of the published models.")

    def __post_init__(self):
        self.sizes = split_list(self.sizes) or ["all"]
        if self.org is not None and (not self.org.strip() or "/" in self.org):
            raise ConfigError(f"--org must be a Hub user or organisation name (no '/'), got {self.org!r}")


@dataclasses.dataclass
class DemoConfig:
    root: str | None = field(None, help="Artifact root of the demo (default: $HF_SHRUNK_HOME/demo).")
    sources: list[str] = field(
        ["auto"], help="Corpus sources, as for `hf-shrunk corpus` (default: mirror, Hub, fallback)."
    )
    smoke: bool = field(False, help="A fast run through every stage with tiny budgets (CI).")
    steps: int | None = field(None, help="Pretraining updates per size (default: 1,000; smoke: 16).")
    glue_seeds: list[str] = field(["0"], help="GLUE fine-tuning seeds (the GLUE stage's own default is 0 1 2).")
    glue_train_samples: int | None = field(1000, help="Cap on GLUE training examples per task (smoke: 64).")
    glue_epochs: float = field(3.0, help="GLUE fine-tuning epochs (paper: 5 over the full training sets; smoke: 1).")
    glue_learning_rate: float = field(
        2e-4,
        help="GLUE learning rate (paper: 2e-4). Random-init twins barely move at it in ~100 updates; the demo shows that.",
    )
    glue_bf16: bool = field(True, help="bf16 autocast for GLUE fine-tuning (paper: fp32).")
    org: str = field("hf-shrunk", help="Hub organisation written into the cards (and pushed to with --push).")
    push: bool = field(False, help="Also publish to the Hub for real (needs a token with write access to --org).")
    token: str | None = field(None, help="Hub token for --push (default: HF_TOKEN or `hf auth login`).")
    overwrite: bool = field(False, help="Rebuild every stage instead of reusing finished ones.")
