"""The classification head the GLUE stage puts on a checkpoint (``--head``; docs/paper.md#glue-protocol).

* ``roberta`` (default, both families): transformers' ``RobertaClassificationHead`` (first token, dense + tanh,
  projection), the head the paper's tied runs used. hf_shrunk uses it for the factorized family too
  (docs/paper.md#differences): it works with dynamic padding and makes the two families comparable.
* ``paper`` (factorized family only): the head of the paper's factorized runs,
  ``hf_shrunk.models.modeling_shrunk.ShrunkPoolingClassificationHead``: a learned ``Linear(128 -> 1)`` pooling
  over the 128 positions of the last layer, then ``Linear(H -> num_labels)``; for STS-B a ReLU on the scalar output
  (trained with MSE). Every input is padded to ``--max_length`` (128) positions.

The head is chosen through the model config (``classifier_head``, ``classifier_positions``), so a model saved with
it loads again with the same head, also as remote code.
"""

from __future__ import annotations

import functools
from typing import Any

from hf_shrunk.config import ConfigError

HEADS = {
    "roberta": "RoBERTa's classification head: first token, dense + tanh, Linear(H -> labels)",
    "paper": "the paper's factorized head: Linear(positions -> 1) pooling over the last layer, Linear(H -> labels), "
    "ReLU on the output for regression",
}
FACTORIZED = "shrunk_roberta"  # model_type of the factorized family


@functools.lru_cache(maxsize=32)
def model_type(location: str, revision: str | None = None) -> str:
    """The ``model_type`` of a checkpoint (its config only is read)."""
    from transformers import AutoConfig

    from hf_shrunk.models import register_auto_classes

    register_auto_classes()
    return AutoConfig.from_pretrained(location, revision=revision).model_type


def head_overrides(head: str, location: str, revision: str | None, max_length: int) -> dict[str, Any]:
    """Config keyword arguments that give a checkpoint the classification head ``head``.

    Raises:
        `ConfigError`: ``paper`` for a model that is not of the factorized family.
    """
    kind = model_type(location, revision)
    if head == "paper":
        if kind != FACTORIZED:
            raise ConfigError(
                f"--head paper is the head of the paper's factorized runs; {location} is a {kind!r} model (the "
                "paper's tied roberta runs used RoBERTa's own head, which is --head roberta, the default)"
            )
        return {"classifier_head": "paper", "classifier_positions": max_length}
    if head != "roberta":
        raise ConfigError(f"--head must be one of {', '.join(HEADS)}, got {head!r}")
    return {"classifier_head": "roberta"} if kind == FACTORIZED else {}


def head_info(head: str, max_length: int) -> dict[str, Any]:
    """The head as results and ``summary.json`` record it."""
    info = {"name": head, "description": HEADS[head]}
    return info | ({"positions": max_length} if head == "paper" else {})
