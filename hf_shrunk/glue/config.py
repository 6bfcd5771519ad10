"""The options of `hf-shrunk glue`: one dataclass, filled from a YAML file and then from flags
(:func:`hf_shrunk.config.parse_config`). Must not import torch: ``--help`` answers from it."""

import dataclasses

from hf_shrunk.config import CommonArgs, ConfigError, field, split_list


@dataclasses.dataclass
class GlueConfig(CommonArgs):
    model: str | None = field(
        None, help="Pretrain run name, local model directory, or Hub repo id with optional @revision."
    )
    revision: str | None = field(None, help="Hub revision (branch, tag or commit); same as MODEL@REVISION.")
    tasks: list[str] = field(["all"], help="GLUE tasks (cola sst2 mrpc qqp stsb mnli qnli rte wnli) or 'all'.")
    seeds: list[str] = field(["0", "1", "2"], help="Fine-tuning seeds (paper: 0 1 2).")
    condition: str = field("both", help="'filtered' (vocabulary-filtered GLUE), 'full' or 'both'.")
    baseline: str = field(
        "none",
        help="'random-init' also scores the same architecture from the weights its pretraining started from (the "
        "run's step-0 snapshot or the Hub's step0 revision; rebuilt from the recorded initialisation if absent).",
    )
    checkpoint: str = field(
        "best",
        help="Which checkpoint of a pretrain run to score: 'best' (lowest dev loss, as the paper) or 'final'. A model "
        "folder or Hub revision is scored as given.",
    )
    data_dir: str | None = field(None, help="GLUE directory: <task>/<split>.parquet or the GLUE TSV layout.")
    vocab: str = field(
        "model",
        help="Vocabulary of the filtered condition: 'model' (the one the model's corpus was filtered with, from its "
        "pretrain manifest or the Hub repo's training_manifest.json), or another one asked for explicitly: 'auto' "
        "(the paper's: mirror or pinned download), a file, or 'wordfreq:N'.",
    )
    allow_vocab_mismatch: bool = field(
        False, help="Filter GLUE with a --vocab whose words differ from the model's (refused by default)."
    )
    head: str = field(
        "roberta",
        help="Classification head: 'roberta' (RoBERTa's first-token head, both families) or 'paper' (the paper's "
        "factorized head: Linear(128 -> 1) pooling over positions, then Linear(H -> labels), ReLU for STS-B; "
        "factorized models only; pads every input to --max_length).",
    )
    learning_rate: float = field(2e-4, help="Peak learning rate (paper: 2e-4).")
    batch_size: int = field(
        32, help="Training batch size (paper: 32).", metadata={"aliases": ["--per_device_train_batch_size"]}
    )
    num_epochs: float = field(5.0, help="Training epochs (paper: 5).", metadata={"aliases": ["--num_train_epochs"]})
    max_length: int = field(
        128, help="Truncation length in tokens (paper: 128).", metadata={"aliases": ["--max_seq_length"]}
    )
    weight_decay: float = field(0.0, help="Weight decay (paper: 0).")
    dropout: float = field(0.1, help="Dropout while fine-tuning, whatever the checkpoint was pretrained with (0.1).")
    eval_batch_size: int = field(
        256, help="Evaluation batch size.", metadata={"aliases": ["--per_device_eval_batch_size"]}
    )
    max_train_samples: int | None = field(None, help="Fine-tune on at most this many training examples.")
    max_eval_samples: int | None = field(None, help="Score on at most this many evaluation examples.")
    pad_to_max_length: bool = field(False, help="Pad every batch to --max_length (run_glue.py style; slower).")
    group_by_length: bool = field(
        False, help="Batch examples of similar length (faster; hurt small models on SST-2 in our tests, so off)."
    )
    precision: str = field("fp32", help="'fp32' (paper) or 'bf16' (autocast; the same flag as `hf-shrunk pretrain`).")
    fast_dropout: bool = field(
        True, help="On CPU: cheap dropout masks and eager attention, as `hf-shrunk pretrain --fast_dropout`."
    )
    name: str | None = field(None, help="Results folder under <root>/glue/ (default: derived from MODEL).")
    num_threads: int | None = field(None, help="CPU threads (default: all cores).")
    num_workers: int = field(
        1,
        help="On a CPU, fine-tune this many jobs at once in separate one-thread processes (on 2 cores, 2 workers "
        "did two SST-2 fine-tunes 1.7x faster than one two-thread process, same scores). Ignored on a GPU.",
    )
    worker: bool = field(
        False, help="Internal: score the jobs no other live worker has claimed, and write no summary (--num_workers)."
    )

    def __post_init__(self):
        if self.condition not in ("filtered", "full", "both"):
            raise ConfigError(f"--condition must be filtered, full or both, got {self.condition!r}")
        if self.precision not in ("fp32", "bf16"):
            raise ConfigError(f"--precision must be fp32 or bf16, got {self.precision!r}")
        if self.num_workers < 1:
            raise ConfigError(f"--num_workers must be at least 1, got {self.num_workers}")
        if self.head not in ("roberta", "paper"):
            raise ConfigError(f"--head must be 'roberta' or 'paper', got {self.head!r}")
        if self.head == "paper":
            self.pad_to_max_length = True  # the pooling head sees exactly --max_length positions
        if self.checkpoint not in ("best", "final"):
            raise ConfigError(f"--checkpoint must be 'best' or 'final', got {self.checkpoint!r}")
        if self.baseline not in ("none", "random-init"):
            raise ConfigError(f"--baseline must be 'none' or 'random-init', got {self.baseline!r}")
        self.seeds = split_list(self.seeds)
        self.tasks = [t.lower().replace("-", "") for t in split_list(self.tasks)]
        bad = [s for s in self.seeds if not s.lstrip("-").isdigit()]
        if bad:
            raise ConfigError(f"--seeds must be integers, got {bad}")
