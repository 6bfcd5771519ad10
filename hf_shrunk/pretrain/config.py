"""The options of `hf-shrunk pretrain`: one dataclass, filled from a YAML file and then from flags
(:func:`hf_shrunk.config.parse_config`). Must not import torch: ``--help`` answers from it."""

import dataclasses

from hf_shrunk.config import CommonArgs, ConfigError, field

_BATCH = "use --effective_batch_size (sequences per update; micro-batches and accumulation are derived per device)"
_HUB = "pretraining writes <root>/pretrain/<name>/; upload finished runs with `hf-shrunk publish --org ORG`"
# TrainingArguments that the recipe derives, refused with what to use instead (issue: flags mean what they say).
RECIPE_FLAGS = {
    "per_device_train_batch_size": _BATCH,
    "gradient_accumulation_steps": _BATCH,
    "warmup_steps": "use --warmup N (updates) or --warmup paper (min(4000, 5% of updates))",
    "warmup_ratio": "use --warmup N (updates) or --warmup paper (min(4000, 5% of updates))",
    "output_dir": "the run folder is <root>/pretrain/<name>/: use --root and --name",
    "bf16": "use --precision bf16 (or auto, fp32): one precision flag for every stage",
    "fp16": "use --precision bf16 or fp32 (fp16 is not offered: its loss scaling is untested here)",
    "push_to_hub": _HUB,
    "hub_model_id": _HUB,
    "hub_strategy": _HUB,
    "hub_private_repo": _HUB,
}


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
    fast_dropout: bool = field(
        True,
        help="On CPU: dropout masks from 32-bit draws of the seeded generator and eager attention (same p to "
        "2**-32, 1.4x the tokens/s at H=256/L=8 here); false: torch's dropout and SDPA. No effect on GPU.",
    )
    precision: str = field(
        "auto", help="'auto' (bf16 autocast where the CPU/GPU supports it, else fp32), 'bf16' or 'fp32' (paper)."
    )
    init: str = field("paper", help="'paper' (Xavier-normal weights, 0.01 biases) or 'hf' (transformers' default).")
    dropout: float = field(0.1, help="Hidden and attention dropout (paper: 0.1).")
    warmup: str = field("paper", help="Warm-up updates: 'paper' = min(4000, 5%% of updates), at least 1; or a number.")
    vocab_padding: int = field(10, help="Model vocab = len(tokenizer) + this (paper: 19,000 + 10).")
    snapshot_steps: str = field(
        "pow2:512,every:1000",
        help="Steps whose weights are kept as snapshots (Hub step{N} branches): comma list of N, 'pow2:N' "
        "(1,2,4..N) and 'every:N'. Step 0 (the initialisation) and the final step are always kept.",
    )
    model_checkpoint: str = field(
        "best",
        help="What model/ (the Hub's main) holds: 'best' (lowest dev loss, as the paper fine-tuned) or 'final'; "
        "the other one is kept as a step{N} snapshot.",
    )
    decay_all_parameters: bool = field(
        True,
        help="Weight decay on every parameter in one AdamW group, as the paper's code (false: the Trainer's "
        "grouping, which exempts biases and LayerNorms).",
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
        if self.model_checkpoint not in ("best", "final"):
            raise ConfigError(f"--model_checkpoint must be 'best' or 'final', got {self.model_checkpoint!r}")
        if self.effective_batch_size < 1:
            raise ConfigError("--effective_batch_size must be positive")
        if not 0.0 < self.mlm_probability < 1.0:
            raise ConfigError(f"--mlm_probability must be in (0, 1), got {self.mlm_probability}")
        if self.mask_replace_prob + self.random_replace_prob > 1.0:
            raise ConfigError("--mask_replace_prob + --random_replace_prob must be <= 1")
