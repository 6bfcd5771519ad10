"""Configuration of the factorized-embedding RoBERTa family (``model_type="shrunk_roberta"``).

This file is copied next to the weights by ``save_pretrained`` (remote code), so it imports only transformers
and huggingface_hub, never hf_shrunk.

It needs transformers >= 5.4 (configs became ``@strict`` dataclasses then; checked against 4.57.6, 5.0.0, 5.3.0,
5.4.0, 5.5.0, 5.6.2, 5.12.1 and 5.25.0 by loading a saved model with ``trust_remote_code=True``): an older
transformers gets an ImportError that names the version to install, not a traceback from deep inside.
"""

import transformers
from packaging.version import Version

MIN_TRANSFORMERS = "5.4.0"
if Version(transformers.__version__) < Version(MIN_TRANSFORMERS):
    raise ImportError(
        f"The factorized hf_shrunk models (model_type 'shrunk_roberta') need transformers>={MIN_TRANSFORMERS}; "
        f"this environment has transformers {transformers.__version__}. Upgrade with: "
        f"pip install 'transformers>={MIN_TRANSFORMERS}'"
    )

from huggingface_hub.dataclasses import strict  # noqa: E402 - after the version check, which explains failures
from transformers import RobertaConfig  # noqa: E402


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
        classifier_head (`str`, defaults to `"roberta"`):
            The head of ``ShrunkRobertaForSequenceClassification``: ``"roberta"`` (RoBERTa's first-token head) or
            ``"paper"`` (the paper's factorized head: ``Linear(classifier_positions -> 1)`` pooling over positions,
            then ``Linear(H -> num_labels)``, ReLU on the output for regression).
        classifier_positions (`int`, defaults to 128):
            Positions the ``"paper"`` head pools over; inputs must be padded to exactly this length.

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
    classifier_head: str = "roberta"
    classifier_positions: int = 128


__all__ = ["ShrunkRobertaConfig"]
