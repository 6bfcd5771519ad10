"""``hf-shrunk tokenizer``: byte-level BPE in RoBERTa's configuration, trained on a corpus artifact.

Built from ``tokenizers`` components (no download of ``roberta-base``): ByteLevel pre-tokenizer and decoder,
RoBERTa's post-processor (``<s> A </s></s> B </s>``), special tokens ``<s> <pad> </s> <unk> <mask>`` with ids
0-4 and ``<mask>`` absorbing the space before it, as in RoBERTa. One addition: a Lowercase normalizer, because the
corpus is lower-cased (docs/paper.md#corpus-filter) and the models never see capitals. Saved as a complete Hugging
Face tokenizer (``tokenizer.json`` + ``tokenizer_config.json`` with ``model_max_length`` 128) that
``AutoTokenizer`` loads.

``tokenizer_config.json`` names ``PreTrainedTokenizerFast``, the one class that loads ``tokenizer.json`` as it is in
transformers 4.x and 5.x alike (5.x's own name, ``TokenizersBackend``, does not exist in 4.x, and 5.x's
``RobertaTokenizer`` rebuilds the pipeline without the Lowercase normalizer), and holds tokenizer settings only:
:func:`save_tokenizer` drops what ``from_pretrained`` adds at loading time (``is_local``, ``local_files_only``, ...).
With a class named there, ``AutoTokenizer`` on a factorized model folder needs no remote code
(``trust_remote_code=False`` is enough).
"""

import json
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from hf_shrunk.artifacts import (
    Manifest,
    artifact_lock,
    output_dir,
    require_artifact,
    should_skip,
    staged_output,
    write_json,
)
from hf_shrunk.config import parse_config, to_dict
from hf_shrunk.tokenizer.config import TokenizerConfig

SPECIAL_TOKENS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]  # ids 0..4, RoBERTa's order (docs/paper.md#tokenizer)
SPECIAL_TOKEN_IDS = {token: i for i, token in enumerate(SPECIAL_TOKENS)}
SPECIAL_TOKEN_KEYS = {
    "bos_token": "<s>",
    "eos_token": "</s>",
    "sep_token": "</s>",
    "cls_token": "<s>",
    "unk_token": "<unk>",
    "pad_token": "<pad>",
    "mask_token": "<mask>",
}
TOKENIZER_CLASS = "PreTrainedTokenizerFast"  # loads tokenizer.json unchanged in transformers 4.x and 5.x
# RoBERTa's inputs (4.x's PreTrainedTokenizerFast would add token_type_ids) and no decode-time space "clean-up"
FIXED_SETTINGS = {"model_input_names": ["input_ids", "attention_mask"], "clean_up_tokenization_spaces": False}
# What tokenizer_config.json may hold: settings of the tokenizer, never loading-time state of one process.
TOKENIZER_SETTINGS = frozenset(
    {"tokenizer_class", "model_max_length", "padding_side", "truncation_side", *SPECIAL_TOKEN_KEYS, *FIXED_SETTINGS}
)


def build_untrained(lowercase: bool = True):
    """An empty byte-level BPE ``tokenizers.Tokenizer`` wired like RoBERTa's."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    tok = Tokenizer(models.BPE())
    if lowercase:
        tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.RobertaProcessing(
        ("</s>", SPECIAL_TOKEN_IDS["</s>"]),
        ("<s>", SPECIAL_TOKEN_IDS["<s>"]),
        trim_offsets=True,
        add_prefix_space=False,
    )
    return tok


def train_tokenizer(
    texts: Iterator[str] | Sequence[str],
    vocab_size: int = 19_000,
    min_frequency: int = 2,
    model_max_length: int = 128,
    lowercase: bool = True,
    length: int | None = None,
    show_progress: bool = True,
):
    """Train and wrap as a transformers tokenizer (``PreTrainedTokenizerFast``).

    Args:
        texts: training text (an iterator of strings or of lists of strings).
        vocab_size (`int`, defaults to 19,000): size including the five special tokens (docs/paper.md#tokenizer).
        min_frequency (`int`, defaults to 2): minimum pair count for a merge.
        model_max_length (`int`, defaults to 128): written to ``tokenizer_config.json``.
        lowercase (`bool`, defaults to `True`): add a Lowercase normalizer.
        length (`int`, *optional*): number of items in ``texts``, for the progress bar.
    """
    from tokenizers import AddedToken, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = build_untrained(lowercase)
    # RoBERTa's <mask> strips the space before it, so "the <mask> sat" masks a whole "Ġword" token.
    specials = SPECIAL_TOKENS[:-1] + [AddedToken("<mask>", lstrip=True, rstrip=False, special=True, normalized=False)]
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=show_progress,
    )
    tok.train_from_iterator(texts, trainer, length=length)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, model_max_length=model_max_length, **SPECIAL_TOKEN_KEYS, **FIXED_SETTINGS
    )


def public_tokenizer_config(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` (a ``tokenizer_config.json``) with only :data:`TOKENIZER_SETTINGS`, the class set to
    :data:`TOKENIZER_CLASS` and RoBERTa's input names: what a saved or published tokenizer should carry."""
    clean = {key: value for key, value in config.items() if key in TOKENIZER_SETTINGS}
    return clean | FIXED_SETTINGS | {"tokenizer_class": TOKENIZER_CLASS}


def clean_tokenizer_config(folder: str | Path) -> Path:
    """Rewrite ``folder/tokenizer_config.json`` as :func:`public_tokenizer_config` (for folders written by
    ``save_pretrained`` of a tokenizer loaded with ``from_pretrained``, e.g. by ``Trainer.save_model``)."""
    path = Path(folder) / "tokenizer_config.json"
    config = public_tokenizer_config(json.loads(path.read_text(encoding="utf-8")))
    path.write_text(json.dumps(config, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def save_tokenizer(tokenizer: Any, folder: str | Path) -> Path:
    """``tokenizer.save_pretrained(folder)``, then :func:`clean_tokenizer_config`."""
    tokenizer.save_pretrained(str(folder))
    return clean_tokenizer_config(folder)


def _batches(column: Sequence[str], batch_size: int = 1000) -> Iterator[list[str]]:
    for start in range(0, len(column), batch_size):
        yield column[start : start + batch_size]


def tokenizer_stats(tokenizer: Any, texts: Sequence[str], max_length: int) -> dict[str, float]:
    """Tokens per sequence and per word on held-out text, and how often 128 tokens would truncate."""
    if not texts:
        return {}
    # the tokenizers backend directly: lengths past model_max_length are the point here, not a warning
    lengths = [len(e.ids) for e in tokenizer.backend_tokenizer.encode_batch(list(texts), add_special_tokens=True)]
    words = sum(len(t.split()) for t in texts)
    return {
        "sequences": len(texts),
        "mean_tokens_per_sequence": sum(lengths) / len(lengths),
        "tokens_per_word": (sum(lengths) - 2 * len(lengths)) / max(words, 1),
        "fraction_truncated": sum(n > max_length for n in lengths) / len(lengths),
    }


def load_tokenizer(path: str | Path):
    """Load a saved tokenizer folder with ``AutoTokenizer``."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path))


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    (cfg,) = parse_config(
        [TokenizerConfig],
        argv,
        prog=prog,
        description="Train the byte-level BPE tokenizer (RoBERTa layout, 19,000 tokens by default) on a corpus "
        "artifact made by `hf-shrunk corpus`, and save it as a Hugging Face tokenizer.",
    )
    corpus_dir, corpus_manifest = require_artifact("corpus", cfg.corpus, cfg.root)
    out = output_dir("tokenizer", cfg.name, cfg.root)
    inputs = [{"kind": "corpus", "path": str(corpus_dir), "fingerprint": corpus_manifest.key}]
    manifest = Manifest("tokenizer", cfg.name, to_dict(cfg, exclude=("root", "overwrite")), inputs)
    with artifact_lock(out):  # held from the check to the write: a second writer is refused before it trains
        if should_skip(out, manifest, cfg.overwrite):
            print(f"tokenizer {out} is up to date (same corpus and config); pass --overwrite to retrain")
            return 0
        return _train_and_save(cfg, corpus_dir, out, manifest)


def _train_and_save(cfg: TokenizerConfig, corpus_dir: Path, out: Path, manifest: Manifest) -> int:
    """Train on the corpus artifact and write the tokenizer, ``stats.json`` and, last, the manifest into ``out``."""
    import datasets

    corpus = datasets.load_from_disk(str(corpus_dir))
    train = corpus["train"]
    if cfg.max_sequences is not None:
        train = train.select(range(min(cfg.max_sequences, len(train))))
    texts = train["text"]
    n_bytes = sum(len(t.encode()) for t in texts)
    print(
        f"training a {cfg.vocab_size:,}-token byte-level BPE on {len(texts):,} sequences ({n_bytes / 1e6:.1f} MB) "
        f"from {corpus_dir}"
    )
    start = time.perf_counter()
    tokenizer = train_tokenizer(
        _batches(texts), cfg.vocab_size, cfg.min_frequency, cfg.model_max_length, cfg.lowercase, length=len(texts)
    )
    seconds = time.perf_counter() - start
    held_out = corpus["validation"]["text"][:2000] if "validation" in corpus else []
    stats = {
        "vocab_size": len(tokenizer),
        "train_sequences": len(texts),
        "train_megabytes": n_bytes / 1e6,
        "train_seconds": seconds,
        "train_megabytes_per_second": n_bytes / 1e6 / max(seconds, 1e-9),
        "validation": tokenizer_stats(tokenizer, held_out, cfg.model_max_length),
    }
    manifest.extra = {"vocab_size": len(tokenizer), "stats": stats}
    with staged_output(out) as staging:
        save_tokenizer(tokenizer, staging)
        write_json(Path(staging) / "stats.json", stats)
        manifest.write(staging)
    print(
        f"saved {len(tokenizer):,} tokens to {out} in {seconds:.1f}s "
        f"({stats['train_megabytes_per_second']:.2f} MB/s); "
        f"validation: {stats['validation'].get('tokens_per_word', float('nan')):.2f} tokens/word, "
        f"{100 * stats['validation'].get('fraction_truncated', 0):.1f}% of sequences over "
        f"{cfg.model_max_length} tokens"
    )
    return 0
