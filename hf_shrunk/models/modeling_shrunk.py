"""The factorized-embedding RoBERTa family: ``ShrunkRobertaForMaskedLM``, ``ShrunkRobertaForSequenceClassification``.

Embeddings at width E -> ``Linear(E -> H)`` + ``LayerNorm(H)`` -> RoBERTa encoder at H -> an untied MLM head at H
(Deshpande et al., 2023, arXiv 2305.17266). Built from transformers' RoBERTa modules. This file is copied next to
the weights by ``save_pretrained`` (remote code), so it imports only torch, transformers and ``configuration_shrunk``.

Parameter names matter: the paper counts as "embedding parameters" exactly the names that contain
``embedding``, so the projection is called ``input_projection`` (not ``embedding_...``).
"""

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers.activations import gelu
from transformers.masking_utils import create_bidirectional_mask
from transformers.modeling_outputs import BaseModelOutput, MaskedLMOutput, SequenceClassifierOutput
from transformers.models.roberta.modeling_roberta import (
    RobertaClassificationHead,
    RobertaEmbeddings,
    RobertaEncoder,
    RobertaLayer,
)

from .configuration_shrunk import ShrunkRobertaConfig


class ShrunkRobertaPreTrainedModel(PreTrainedModel):
    config_class = ShrunkRobertaConfig
    config: ShrunkRobertaConfig
    base_model_prefix = "roberta"
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    _no_split_modules = ["RobertaEmbeddings", "RobertaLayer"]
    _can_record_outputs = {"hidden_states": RobertaLayer}

    @torch.no_grad()
    def _init_weights(self, module):
        super()._init_weights(module)
        if isinstance(module, RobertaEmbeddings):
            module.position_ids.copy_(torch.arange(module.position_ids.shape[-1]).expand((1, -1)))
            module.token_type_ids.zero_()


def _embedding_width_config(config: ShrunkRobertaConfig) -> ShrunkRobertaConfig:
    """A copy of ``config`` whose ``hidden_size`` is E, for building RoBERTa's embedding module at width E."""
    narrow = ShrunkRobertaConfig(**config.to_dict())
    narrow.hidden_size = config.embedding_size
    return narrow


class ShrunkInputProjection(nn.Module):
    """Linear(E -> H) followed by LayerNorm(H), between the embeddings and the encoder (paper §3)."""

    def __init__(self, config: ShrunkRobertaConfig):
        super().__init__()
        self.dense = nn.Linear(config.embedding_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dense(embeddings))


class ShrunkLMHead(nn.Module):
    """RoBERTa's MLM head (dense, GELU, LayerNorm, decoder) with one decoder bias and no tying.

    transformers' ``RobertaLMHead`` keeps a second bias that is tied to the decoder's only when the word
    embeddings are tied; the paper's untied head had a single bias, and its parameter counts depend on it.
    """

    def __init__(self, config: ShrunkRobertaConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.layer_norm(gelu(self.dense(features))))


class ShrunkPoolingClassificationHead(nn.Module):
    """The classification head of the paper's factorized runs (``config.classifier_head = "paper"``): a learned
    ``Linear(positions -> 1)`` pooling over the ``positions`` (128) positions of the last layer, then
    ``Linear(H -> num_labels)``; for regression (one label: STS-B) a ReLU on the output. Inputs must be padded to
    exactly ``positions`` tokens (``config.classifier_positions``, default 128)."""

    def __init__(self, config: ShrunkRobertaConfig):
        super().__init__()
        self.positions = config.classifier_positions
        self.pooler = nn.Linear(self.positions, 1)
        self.out_proj = nn.Linear(config.hidden_size, config.num_labels)
        self.regression = config.num_labels == 1

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if features.shape[1] != self.positions:
            raise ValueError(
                f"the paper's pooling head pools exactly {self.positions} positions, got {features.shape[1]}: pad "
                f"every input to {self.positions} tokens (padding='max_length', max_length={self.positions})"
            )
        pooled = self.pooler(features.transpose(1, 2)).squeeze(-1)  # (batch, H)
        logits = self.out_proj(pooled)
        return torch.relu(logits) if self.regression else logits


class ShrunkRobertaModel(ShrunkRobertaPreTrainedModel):
    """Embeddings at E, the E -> H projection and the RoBERTa encoder (no pooler)."""

    def __init__(self, config: ShrunkRobertaConfig):
        super().__init__(config)
        self.embeddings = RobertaEmbeddings(_embedding_width_config(config))
        self.input_projection = ShrunkInputProjection(config)
        self.encoder = RobertaEncoder(config)
        self.post_init()

    def get_input_embeddings(self):
        return self.embeddings.word_embeddings

    def set_input_embeddings(self, value):
        self.embeddings.word_embeddings = value

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        **kwargs,
    ) -> BaseModelOutput:
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("Pass exactly one of input_ids or inputs_embeds")
        embedded = self.embeddings(
            input_ids=input_ids, token_type_ids=token_type_ids, position_ids=position_ids, inputs_embeds=inputs_embeds
        )
        hidden = self.input_projection(embedded)
        mask = create_bidirectional_mask(config=self.config, inputs_embeds=hidden, attention_mask=attention_mask)
        kwargs.pop("return_dict", None)
        encoded = self.encoder(hidden, attention_mask=mask, **kwargs)
        return BaseModelOutput(last_hidden_state=encoded.last_hidden_state)


class ShrunkRobertaForMaskedLM(ShrunkRobertaPreTrainedModel):
    def __init__(self, config: ShrunkRobertaConfig):
        super().__init__(config)
        self.roberta = ShrunkRobertaModel(config)
        self.lm_head = ShrunkLMHead(config)
        self.post_init()

    def get_output_embeddings(self):
        return self.lm_head.decoder

    def set_output_embeddings(self, new_embeddings):
        self.lm_head.decoder = new_embeddings

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **kwargs,
    ) -> MaskedLMOutput:
        hidden = self.roberta(
            input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            **kwargs,
        ).last_hidden_state
        logits = self.lm_head(hidden)
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits.view(-1, logits.size(-1)), labels.to(logits.device).view(-1))
        return MaskedLMOutput(loss=loss, logits=logits)


class ShrunkRobertaForSequenceClassification(ShrunkRobertaPreTrainedModel):
    def __init__(self, config: ShrunkRobertaConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.roberta = ShrunkRobertaModel(config)
        # "roberta" (default): RoBERTa's first-token head; "paper": the paper's position pooling (docs/paper.md)
        if config.classifier_head == "paper":
            self.classifier = ShrunkPoolingClassificationHead(config)
        else:
            self.classifier = RobertaClassificationHead(config)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **kwargs,
    ) -> SequenceClassifierOutput:
        hidden = self.roberta(
            input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            **kwargs,
        ).last_hidden_state
        logits = self.classifier(hidden)
        loss = None
        if labels is not None:
            loss = self._loss(logits, labels.to(logits.device))
        return SequenceClassifierOutput(loss=loss, logits=logits)

    def _loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        # Same problem-type inference as transformers' RobertaForSequenceClassification.
        if self.config.problem_type is None:
            if self.num_labels == 1:
                self.config.problem_type = "regression"
            elif labels.dtype in (torch.long, torch.int):
                self.config.problem_type = "single_label_classification"
            else:
                self.config.problem_type = "multi_label_classification"
        if self.config.problem_type == "regression":
            return nn.functional.mse_loss(logits.squeeze(-1), labels.squeeze(-1).to(logits.dtype))
        if self.config.problem_type == "single_label_classification":
            return nn.functional.cross_entropy(logits.view(-1, self.num_labels), labels.view(-1))
        return nn.functional.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype))


# save_pretrained writes `auto_map` into config.json and copies these files next to the weights, so a pushed repo
# loads with trust_remote_code=True where hf_shrunk is not installed.
ShrunkRobertaConfig.register_for_auto_class()
ShrunkRobertaModel.register_for_auto_class("AutoModel")
ShrunkRobertaForMaskedLM.register_for_auto_class("AutoModelForMaskedLM")
ShrunkRobertaForSequenceClassification.register_for_auto_class("AutoModelForSequenceClassification")

__all__ = [
    "ShrunkPoolingClassificationHead",
    "ShrunkRobertaForMaskedLM",
    "ShrunkRobertaForSequenceClassification",
    "ShrunkRobertaModel",
    "ShrunkRobertaPreTrainedModel",
]
