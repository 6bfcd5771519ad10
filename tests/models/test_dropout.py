"""hf_shrunk.models.dropout (--fast_dropout): torch's dropout semantics with cheaper masks, and an eager attention
that computes what transformers' own attention computes."""

import pytest
import torch

from hf_shrunk.models import Size, build_config, build_model, use_fast_dropout
from hf_shrunk.models.dropout import fast_dropout, keep_mask


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_each_element_is_dropped_with_probability_p(p):
    torch.manual_seed(0)
    keep = keep_mask((999, 4001), p)  # odd count: the last 64-bit draw is used for one element only
    dropped = 1.0 - keep.float().mean().item()
    assert abs(dropped - p) < 5 * (p * (1 - p) / keep.numel()) ** 0.5
    # neighbours (the two 32-bit halves of one draw) are independent: P(both dropped) = p**2
    pairs = (~keep).flatten()[:-1].view(-1, 2).float().prod(dim=1).mean().item()
    assert abs(pairs - p * p) < 5 * (p * p * (1 - p * p) / (keep.numel() // 2)) ** 0.5


def test_masks_follow_the_seeded_generator():
    torch.manual_seed(3)
    first = keep_mask((64, 128), 0.1)
    torch.manual_seed(3)
    assert torch.equal(first, keep_mask((64, 128), 0.1))
    assert not torch.equal(first, keep_mask((64, 128), 0.1))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_forward_and_backward_are_inverted_dropout(dtype):
    x = torch.randn(32, 50, dtype=dtype, requires_grad=True)
    torch.manual_seed(1)
    out = fast_dropout(x, 0.2)
    torch.manual_seed(1)
    keep = keep_mask(x.shape, 0.2)
    assert out.dtype == dtype and torch.equal(out, x.detach() * keep * (1 / 0.8))
    out.backward(torch.ones_like(out))
    assert torch.equal(x.grad, (keep * (1 / 0.8)).to(dtype))
    assert fast_dropout(x, 0.2, training=False) is x and fast_dropout(x, 0.0) is x
    assert torch.equal(fast_dropout(x, 1.0), torch.zeros_like(x))


@pytest.mark.parametrize("family", ["roberta", "factorized"])
def test_the_model_computes_the_same_without_dropout_and_saves_the_same(tmp_path, family):
    size = Size(family, 16 if family == "factorized" else 32, 32, 64, 2, 2)
    model = build_model(build_config(size, vocab_size=60), seed=0).eval()
    ids = torch.randint(5, 60, (3, 12))
    mask = torch.ones_like(ids)
    mask[1, 7:] = 0  # padding: the additive mask must reach the eager attention
    before = model(input_ids=ids, attention_mask=mask).logits
    model.save_pretrained(tmp_path / "before")
    use_fast_dropout(model)
    assert model.config._attn_implementation == "hf_shrunk_eager"
    torch.testing.assert_close(model(input_ids=ids, attention_mask=mask).logits, before, atol=1e-5, rtol=1e-5)
    model.save_pretrained(tmp_path / "after")
    assert (tmp_path / "after" / "config.json").read_text() == (tmp_path / "before" / "config.json").read_text()
    model.train()
    torch.manual_seed(0)
    a = model(input_ids=ids, attention_mask=mask).logits
    torch.manual_seed(0)
    assert torch.equal(a, model(input_ids=ids, attention_mask=mask).logits)  # seeded, and dropout is active:
    assert not torch.allclose(a, model(input_ids=ids, attention_mask=mask).logits)
