"""Pretraining data: tokenize the corpus once (cached by corpus + tokenizer fingerprint) and mask it.

Sequences are padded to 128 tokens as in the paper, or packed into full 128-token rows (``--pack``).

Masking is dynamic (new masks every epoch) but a pure function of (seed, epoch, sequence index): each row draws
its mask from its own generator. So the masks do not depend on the number of processes, dataloader workers,
gradient-accumulation steps or interruptions — two processes reproduce one process's updates, and a resumed run
reproduces an uninterrupted one. (transformers' ``DataCollatorForLanguageModeling`` draws one stream per process,
which gives the same statistics but not these identities.) The validation set is masked once with a fixed seed, so
every evaluation scores the same positions.
"""

import os
from pathlib import Path
from typing import Any

import torch

from hf_shrunk.artifacts import artifact_root, fingerprint, load_cached_dataset, save_cached_dataset

EVAL_MASK_SEED = 1234
_SEED_STRIDE = 1_000_003  # a prime: (epoch, index) pairs map to distinct seeds for any realistic corpus


class SeededMaskingCollator:
    """MLM masking with the paper's recipe by default: select ``mlm_probability`` of the non-special positions,
    replace ``mask_replace_prob`` of them by ``<mask>``, ``random_replace_prob`` by a random token, keep the rest;
    labels are -100 elsewhere. Features must carry ``mask_seed`` (see :class:`MaskSeedDataset`); features that
    already carry ``labels`` (the pre-masked validation set) are only stacked."""

    def __init__(self, tokenizer: Any, mlm_probability=0.15, mask_replace_prob=1.0, random_replace_prob=0.0):
        self.mask_id = tokenizer.mask_token_id
        self.vocab_size = len(tokenizer)
        self.p, self.p_mask, self.p_random = mlm_probability, mask_replace_prob, random_replace_prob

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        input_ids = torch.tensor([f["input_ids"] for f in features])
        attention_mask = torch.tensor([f["attention_mask"] for f in features])
        if "labels" in features[0]:
            return {
                "input_ids": input_ids,
                "attention_mask": attention_mask,
                "labels": torch.tensor([f["labels"] for f in features]),
            }
        special = torch.tensor([f["special_tokens_mask"] for f in features], dtype=torch.bool)
        draws = torch.stack(
            [
                torch.rand(3, input_ids.size(1), generator=torch.Generator().manual_seed(int(f["mask_seed"])))
                for f in features
            ],
            dim=1,
        )  # (3, batch, length): selection, replacement kind, random token
        selected = (draws[0] < self.p) & ~special
        labels = torch.where(selected, input_ids, torch.full_like(input_ids, -100))
        to_mask = selected & (draws[1] < self.p_mask)
        to_random = selected & ~to_mask & (draws[1] < self.p_mask + self.p_random)
        input_ids = input_ids.masked_fill(to_mask, self.mask_id)
        random_tokens = (draws[2] * self.vocab_size).long()
        input_ids = torch.where(to_random, random_tokens, input_ids)
        return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


class MaskSeedDataset(torch.utils.data.Dataset):
    """Adds ``mask_seed = f(seed, epoch, index)`` to every row of a map-style dataset; ``epoch`` is set by
    :class:`EpochSetter` at the start of each epoch (before the dataloader iterator, and its workers, are made)."""

    def __init__(self, dataset: Any, seed: int):
        self.dataset, self.seed, self.epoch = dataset, seed, 0

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict[str, Any]:
        row = dict(self.dataset[index])
        row["mask_seed"] = (self.seed * 7919 + self.epoch * _SEED_STRIDE + index) % (2**63 - 1)
        return row

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch


def premask(dataset, tokenizer: Any, mask_config: dict[str, float], seed: int = EVAL_MASK_SEED):
    """Mask ``dataset`` once: the same positions at every evaluation."""
    collator = SeededMaskingCollator(tokenizer, **mask_config)
    wrapped = MaskSeedDataset(dataset, seed)

    def mask_batch(batch: dict[str, list], indices: list[int]) -> dict[str, list]:
        masked = collator([wrapped[i] for i in indices])
        return {key: value.tolist() for key, value in masked.items()}

    return dataset.map(
        mask_batch,
        with_indices=True,
        batched=True,
        batch_size=1000,
        remove_columns=["special_tokens_mask"],
        desc="masking validation",
    )


def _tokenize_padded(batch: dict[str, list], tokenizer: Any, seq_len: int) -> dict[str, list]:
    return tokenizer(
        batch["text"],
        truncation=True,
        max_length=seq_len,
        padding="max_length",
        return_special_tokens_mask=True,
    )


def _tokenize_packed(batch: dict[str, list], tokenizer: Any, seq_len: int) -> dict[str, list]:
    """Concatenate ``<s> text </s>`` streams and cut full ``seq_len`` rows (as run_mlm.py's group_texts)."""
    ids = [tok for row in tokenizer(batch["text"], truncation=False)["input_ids"] for tok in row]
    n = len(ids) // seq_len * seq_len
    rows = [ids[i : i + seq_len] for i in range(0, n, seq_len)]
    specials = set(tokenizer.all_special_ids)
    return {
        "input_ids": rows,
        "attention_mask": [[1] * seq_len for _ in rows],
        "special_tokens_mask": [[int(t in specials) for t in row] for row in rows],
    }


def tokenized_cache_dir(
    corpus_key: str, tokenizer_key: str, seq_len: int, pack: bool, mask_config: dict, root=None
) -> Path:
    """Cache folder keyed by everything the tokenized (and pre-masked validation) data depends on."""
    key = fingerprint(
        {
            "corpus": corpus_key,
            "tokenizer": tokenizer_key,
            "seq_len": seq_len,
            "pack": pack,
            "mask": mask_config,
            "v": 2,
        }
    )
    return artifact_root(root) / "cache" / "tokenized" / key


def tokenize_corpus(
    corpus_dir: str | os.PathLike,
    tokenizer: Any,
    cache_dir: Path,
    seq_len: int = 128,
    pack: bool = False,
    num_proc: int | None = None,
    mask_config: dict[str, float] | None = None,
):
    """Tokenized ``train`` and pre-masked ``validation`` splits, built once and reused from ``cache_dir``."""
    import datasets

    cached = load_cached_dataset(cache_dir)  # None if missing; a corrupt cache is removed (with a notice) and rebuilt
    if cached is not None:
        return cached
    corpus = datasets.load_from_disk(str(corpus_dir))
    fn = _tokenize_packed if pack else _tokenize_padded
    out = {}
    for split in ("train", "validation"):
        if split not in corpus:
            continue
        out[split] = corpus[split].map(
            fn,
            batched=True,
            batch_size=1000,
            remove_columns=corpus[split].column_names,
            fn_kwargs={"tokenizer": tokenizer, "seq_len": seq_len},
            num_proc=num_proc,
            desc=f"tokenizing {split}",
        )
    if "validation" in out:
        out["validation"] = premask(out["validation"], tokenizer, mask_config or {})
    return save_cached_dataset(datasets.DatasetDict(out), cache_dir)
