"""Configuration of the factorized-embedding RoBERTa family (``model_type="shrunk_roberta"``).

This file is copied next to the weights by ``save_pretrained`` (remote code), so it imports only transformers
and huggingface_hub, never hf_shrunk.
"""

from huggingface_hub.dataclasses import strict
from transformers import RobertaConfig


@strict
class ShrunkRobertaConfig(RobertaConfig):
    r"""RoBERTa with factorized input embeddings, as in the paper's grid (Deshpande et al., 2023, §3):
    token/position/type embeddings of width ``embedding_size`` (E), a ``Linear(E -> H)`` + ``LayerNorm(H)``
    projection, a RoBERTa encoder of width ``hidden_size`` (H), and an MLM head at H whose decoder
    ``Linear(H -> vocab_size)`` is *not* tied to the input embeddings.

    Args:
        embedding_size (`int`, defaults to 128):
            Width E of the embedding tables. May differ from ``hidden_size``.
        tie_word_embeddings (`bool`, defaults to `False`):
            Always `False` for this family: the paper's factorized models have an untied decoder.

    The other fields are those of [`RobertaConfig`].

    Example:

    ```python
    >>> import hf_shrunk  # registers the Auto classes
    >>> from transformers import AutoModelForMaskedLM
    >>> config = ShrunkRobertaConfig(vocab_size=19010, embedding_size=32, hidden_size=32, num_hidden_layers=1,
    ...                              num_attention_heads=8, intermediate_size=64, max_position_embeddings=130)
    >>> model = AutoModelForMaskedLM.from_config(config)
    ```
    """

    # Never "roberta": the paper code reused it for this architecture, so its checkpoints loaded as the wrong class.
    model_type = "shrunk_roberta"

    embedding_size: int = 128
    tie_word_embeddings: bool = False


__all__ = ["ShrunkRobertaConfig"]
