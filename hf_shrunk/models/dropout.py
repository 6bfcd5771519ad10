"""Dropout whose masks are cheap on CPU, and the eager attention that uses it (``--fast_dropout``; CPU training).

On CPU, ``torch.nn.functional.dropout`` draws one Bernoulli sample per element from the serial Mersenne-Twister
generator: at H=256/L=8 (batch 64 x 128) that was a quarter of a training step, most of it on the 64x8x128x128
attention probabilities. Here each element's keep/drop decision compares one 32-bit lane of a 64-bit draw from the
same seeded generator with ``p * 2**32``, so

- the drop probability is ``p`` to within 2**-32 (``torch.rand`` itself is 24-bit), decisions are independent and
  reproducible from ``--seed`` (the Trainer saves and restores the generator with every checkpoint);
- the forward is ``x * keep / (1 - p)`` and the backward ``grad * keep / (1 - p)``, as torch's dropout, with only
  the boolean mask saved for the backward.

SDPA's math fallback (what CPU training with attention dropout runs) also checks every row for full masking; the
eager attention here skips that. On CUDA torch's own dropout (Philox) and SDPA kernels are already fast, so this is
applied on CPU only. Measured in docs/design.md#performance.
"""

import math
import types

import torch
from torch import nn

ATTENTION = "hf_shrunk_eager"  # the name registered with transformers' AttentionInterface


def keep_mask(shape: torch.Size | tuple[int, ...], p: float, device: torch.device | str = "cpu") -> torch.Tensor:
    """A boolean mask of ``shape``: each element False (dropped) with probability ``p`` (to 2**-32), independently."""
    n = math.prod(shape)
    words = torch.empty((n + 1) // 2, dtype=torch.int64, device=device).random_(-(2**63), None)  # 64 random bits
    lanes = words.view(torch.int32)[:n].view(shape)  # uniform over [-2**31, 2**31)
    return lanes >= -(2**31) + round(p * 2**32)


class _ScaleByMask(torch.autograd.Function):
    """``x * keep * scale`` forward and backward, saving only the boolean mask (as torch's native dropout)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, keep: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.save_for_backward(keep)
        ctx.scale = scale
        return torch.ops.aten.native_dropout_backward(x, keep, scale)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (keep,) = ctx.saved_tensors
        return torch.ops.aten.native_dropout_backward(grad, keep, ctx.scale), None, None


def fast_dropout(x: torch.Tensor, p: float, training: bool = True) -> torch.Tensor:
    """Inverted dropout with :func:`keep_mask` (identity when not training or ``p == 0``)."""
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    return _ScaleByMask.apply(x, keep_mask(x.shape, p, x.device), 1.0 / (1.0 - p))


def _dropout_module_forward(self: nn.Dropout, x: torch.Tensor) -> torch.Tensor:
    return fast_dropout(x, self.p, self.training)


def eager_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    """Scaled dot-product attention with an additive mask, the softmax in the scores' dtype as transformers' eager
    attention, and :func:`fast_dropout` on the probabilities. Returns (output as [batch, seq, heads, dim], probs)."""
    scaling = query.size(-1) ** -0.5 if scaling is None else scaling
    scores = torch.matmul(query, key.transpose(2, 3)) * scaling
    if attention_mask is not None:
        scores = scores + attention_mask
    probs = fast_dropout(scores.softmax(dim=-1), dropout, module.training)
    return torch.matmul(probs, value).transpose(1, 2).contiguous(), probs


def register_attention() -> None:
    """Register :func:`eager_attention` (and transformers' eager additive mask) under ``ATTENTION`` (idempotent)."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, eager_mask

    AttentionInterface.register(ATTENTION, eager_attention)
    AttentionMaskInterface.register(ATTENTION, eager_mask)


def use_fast_dropout(model: nn.Module) -> None:
    """Give every ``nn.Dropout`` of ``model`` :func:`fast_dropout` and its attention :func:`eager_attention`. Only this
    instance changes: the class, the weights and what ``save_pretrained`` writes (no attention choice) stay."""
    register_attention()
    model.set_attn_implementation(ATTENTION)
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.forward = types.MethodType(_dropout_module_forward, module)
