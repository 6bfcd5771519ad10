"""From a grid size and a tokenizer to a Hugging Face config and model, for either family.

- ``roberta``: stock ``RobertaForMaskedLM`` / ``RobertaForSequenceClassification`` (tied embeddings, E = H).
- ``factorized``: ``ShrunkRobertaForMaskedLM`` / ``...ForSequenceClassification`` (hf_shrunk.models.modeling_shrunk).

Also: the paper's initialisation, parameter counts of a built model in the paper's convention, and saving that
never writes ``_orig_mod.`` keys from ``torch.compile``.
"""

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForMaskedLM,
    AutoModelForSequenceClassification,
    PretrainedConfig,
    PreTrainedModel,
    RobertaConfig,
    RobertaForMaskedLM,
    RobertaForSequenceClassification,
)

from hf_shrunk.config import ConfigError
from hf_shrunk.models.configuration_shrunk import ShrunkRobertaConfig
from hf_shrunk.models.grid import POSITIONS, TYPE_VOCAB, Size
from hf_shrunk.models.modeling_shrunk import (
    ShrunkRobertaForMaskedLM,
    ShrunkRobertaForSequenceClassification,
    ShrunkRobertaModel,
)
from hf_shrunk.tokenizer import SPECIAL_TOKEN_IDS, save_tokenizer  # pad/bos/eos ids must match the tokenizer's

# Written into every factorized config.json, so a pushed repo loads with trust_remote_code for every task.
AUTO_MAP = {
    "AutoConfig": "configuration_shrunk.ShrunkRobertaConfig",
    "AutoModel": "modeling_shrunk.ShrunkRobertaModel",
    "AutoModelForMaskedLM": "modeling_shrunk.ShrunkRobertaForMaskedLM",
    "AutoModelForSequenceClassification": "modeling_shrunk.ShrunkRobertaForSequenceClassification",
}

MODEL_CLASSES = {
    ("roberta", "mlm"): RobertaForMaskedLM,
    ("roberta", "classification"): RobertaForSequenceClassification,
    ("factorized", "mlm"): ShrunkRobertaForMaskedLM,
    ("factorized", "classification"): ShrunkRobertaForSequenceClassification,
}


def register_auto_classes() -> None:
    """Register ``shrunk_roberta`` with transformers' Auto classes (idempotent)."""
    AutoConfig.register(ShrunkRobertaConfig.model_type, ShrunkRobertaConfig, exist_ok=True)
    AutoModel.register(ShrunkRobertaConfig, ShrunkRobertaModel, exist_ok=True)
    AutoModelForMaskedLM.register(ShrunkRobertaConfig, ShrunkRobertaForMaskedLM, exist_ok=True)
    AutoModelForSequenceClassification.register(
        ShrunkRobertaConfig, ShrunkRobertaForSequenceClassification, exist_ok=True
    )


register_auto_classes()


def check_tokenizer(tokenizer: Any, vocab_size: int | None = None, where: str = "tokenizer") -> None:
    """Refuse a tokenizer whose special tokens are not RoBERTa's, or that does not fit ``vocab_size``."""
    vocab = tokenizer.get_vocab()
    wrong = {tok: (vocab.get(tok), want) for tok, want in SPECIAL_TOKEN_IDS.items() if vocab.get(tok) != want}
    if wrong:
        detail = ", ".join(f"{tok} has id {got} (expected {want})" for tok, (got, want) in wrong.items())
        raise ConfigError(
            f"{where}: special tokens do not follow RoBERTa's layout: {detail}. Train one with `hf-shrunk tokenizer`."
        )
    if vocab_size is not None and len(tokenizer) > vocab_size:
        raise ConfigError(
            f"{where} has {len(tokenizer):,} tokens but the model's vocab_size is {vocab_size:,}: token ids would "
            "index past the embedding table. Use the tokenizer the model was trained with."
        )


def check_config_matches_tokenizer(config: PretrainedConfig, tokenizer: Any, where: str = "tokenizer") -> None:
    """Refuse a (config, tokenizer) pair that disagrees on vocabulary size or special-token ids."""
    check_tokenizer(tokenizer, config.vocab_size, where)
    for name in ("pad_token_id", "bos_token_id", "eos_token_id"):
        mine, theirs = getattr(config, name), getattr(tokenizer, name)
        if mine != theirs:
            raise ConfigError(f"{where}: {name} is {theirs} but the model config says {mine}")


def build_config(
    size: Size,
    tokenizer: Any = None,
    vocab_size: int | None = None,
    vocab_padding: int = 10,
    dropout: float = 0.1,
    **overrides: Any,
) -> PretrainedConfig:
    """The transformers config of ``size``: vocab and special-token ids from ``tokenizer`` (vocab =
    ``len(tokenizer) + vocab_padding``, paper: 19,000 + 10) or an explicit ``vocab_size``; positions 130
    (128 usable), two token types, GELU, dropout 0.1, LayerNorm eps 1e-5 (docs/paper.md#model-families)."""
    if tokenizer is not None:
        check_tokenizer(tokenizer)
        vocab_size = len(tokenizer) + vocab_padding
    if vocab_size is None:
        raise ValueError("build_config needs a tokenizer or a vocab_size")
    common = dict(
        vocab_size=vocab_size,
        hidden_size=size.H,
        num_hidden_layers=size.L,
        num_attention_heads=size.A,
        intermediate_size=size.I,
        max_position_embeddings=POSITIONS,
        type_vocab_size=TYPE_VOCAB,
        hidden_act="gelu",
        hidden_dropout_prob=dropout,
        attention_probs_dropout_prob=dropout,
        layer_norm_eps=1e-5,
        pad_token_id=SPECIAL_TOKEN_IDS["<pad>"],
        bos_token_id=SPECIAL_TOKEN_IDS["<s>"],
        eos_token_id=SPECIAL_TOKEN_IDS["</s>"],
    )
    common.update(overrides)
    if size.family == "roberta":
        return RobertaConfig(tie_word_embeddings=True, **common)
    return ShrunkRobertaConfig(embedding_size=size.E, auto_map=dict(AUTO_MAP), **common)


def size_of_config(config: PretrainedConfig) -> Size:
    """The grid size a config describes (for models loaded from disk or the Hub)."""
    family = "factorized" if config.model_type == ShrunkRobertaConfig.model_type else "roberta"
    E = getattr(config, "embedding_size", config.hidden_size)
    return Size(
        family, E, config.hidden_size, config.intermediate_size, config.num_attention_heads, config.num_hidden_layers
    )


@torch.no_grad()
def apply_paper_init(model: nn.Module) -> None:
    """The paper's initialisation (docs/paper.md#model-families): Xavier-normal for every >=2-D weight that is not
    a LayerNorm, 0.01 for biases, LayerNorm weight 1 and bias 0."""
    for name, param in model.named_parameters():
        is_norm = "layernorm" in name.lower() or "layer_norm" in name.lower()
        if is_norm:
            param.fill_(1.0 if name.endswith("weight") else 0.0)
        elif param.dim() >= 2:
            nn.init.xavier_normal_(param)
        elif name.endswith("bias"):
            param.fill_(0.01)


def build_model(
    config: PretrainedConfig, task: str = "mlm", init: str = "hf", seed: int | None = None, **config_updates: Any
) -> PreTrainedModel:
    """A randomly initialised model of ``config``'s family for ``task`` (``mlm`` or ``classification``)."""
    family = "factorized" if isinstance(config, ShrunkRobertaConfig) else "roberta"
    for key, value in config_updates.items():
        setattr(config, key, value)
    if seed is not None:
        torch.manual_seed(seed)
    model = MODEL_CLASSES[(family, task)](config)
    if init == "paper":
        apply_paper_init(model)
    elif init != "hf":
        raise ConfigError(f"init must be 'paper' or 'hf', got {init!r}")
    return model


def count_model_parameters(model: nn.Module) -> dict[str, int]:
    """Parameters of a built model in the paper's convention: names containing ``embedding`` vs the rest
    (tied tensors counted once, as ``named_parameters`` yields them)."""
    model = unwrap_model(model)
    embedding = sum(p.numel() for name, p in model.named_parameters() if "embedding" in name)
    total = sum(p.numel() for p in model.parameters())
    return {"total": total, "embedding": embedding, "non_embedding": total - embedding}


def unwrap_model(model: nn.Module) -> nn.Module:
    """Strip DDP/FSDP ``.module`` and ``torch.compile``'s ``._orig_mod`` wrappers."""
    while True:
        if hasattr(model, "_orig_mod"):
            model = model._orig_mod
        elif isinstance(model, nn.parallel.DistributedDataParallel) or type(model).__name__ in (
            "FullyShardedDataParallel",
        ):
            model = model.module
        else:
            return model


def save_model(model: nn.Module, output_dir: str | os.PathLike, tokenizer: Any = None, **kwargs: Any) -> Path:
    """``save_pretrained`` of the unwrapped model (safetensors, no ``_orig_mod.`` keys) and its tokenizer (with a
    ``tokenizer_config.json`` that loads in transformers 4.x and 5.x: ``hf_shrunk.tokenizer.save_tokenizer``)."""
    output_dir = Path(output_dir)
    unwrap_model(model).save_pretrained(output_dir, **kwargs)
    if tokenizer is not None:
        save_tokenizer(tokenizer, output_dir)
    return output_dir
