"""Both model families: configs from (size, tokenizer), parameter counts, save/load round trips, remote code."""

import json
import subprocess
import sys

import pytest
import torch
from conftest import subprocess_env
from transformers import AutoModelForMaskedLM, AutoModelForSequenceClassification, RobertaForMaskedLM

import hf_shrunk  # registers the Auto classes
from hf_shrunk.config import ConfigError
from hf_shrunk.models import (
    Size,
    build_config,
    build_model,
    check_config_matches_tokenizer,
    count_model_parameters,
    load_grid,
    parameter_counts,
    save_model,
    size_of_config,
)
from hf_shrunk.models.modeling_shrunk import ShrunkRobertaForMaskedLM

SMALL = {
    "roberta": Size("roberta", 32, 32, 64, 4, 2),
    "factorized": Size("factorized", 16, 32, 64, 4, 2),
}


def _inputs(vocab: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, vocab, (3, 12), generator=g)
    ids[:, 0], ids[:, -1] = 0, 2
    mask = torch.ones_like(ids)
    ids[2, 8:], mask[2, 8:] = 1, 0  # padding
    return ids, mask


@pytest.mark.parametrize("run", [s.run for s in load_grid("paper").sizes])
def test_closed_form_counts_equal_numel_for_every_paper_run(run):
    size = load_grid("paper").find(run)
    config = build_config(size, vocab_size=19_010)
    with torch.device("meta"):
        model = build_model(config)
    assert count_model_parameters(model) == parameter_counts(size, 19_010)


def test_config_takes_vocab_and_special_ids_from_the_tokenizer(tiny_tokenizer):
    config = build_config(SMALL["factorized"], tiny_tokenizer)
    assert config.vocab_size == len(tiny_tokenizer) + 10
    assert (config.pad_token_id, config.bos_token_id, config.eos_token_id) == (1, 0, 2)
    assert config.max_position_embeddings == 130 and config.model_type == "shrunk_roberta"
    assert size_of_config(config) == SMALL["factorized"]
    check_config_matches_tokenizer(config, tiny_tokenizer)
    assert len(tiny_tokenizer) <= config.vocab_size


def test_mismatched_tokenizer_is_refused(tiny_tokenizer):
    config = build_config(SMALL["roberta"], vocab_size=100)  # smaller than the tokenizer
    with pytest.raises(ConfigError, match="index past the embedding table"):
        check_config_matches_tokenizer(config, tiny_tokenizer)
    config = build_config(SMALL["roberta"], vocab_size=1000, pad_token_id=0)
    with pytest.raises(ConfigError, match="pad_token_id"):
        check_config_matches_tokenizer(config, tiny_tokenizer)


def test_tokenizer_with_other_special_ids_is_refused(tiny_tokenizer):
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3, "<mask>": 4, "a": 5}
    bad = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.WordLevel(vocab, unk_token="<unk>")))
    with pytest.raises(ConfigError, match="<s> has id 1 \\(expected 0\\)"):
        build_config(SMALL["roberta"], bad)


def test_paper_init():
    model = build_model(build_config(SMALL["factorized"], vocab_size=500), init="paper", seed=0)
    params = dict(model.named_parameters())
    assert torch.all(params["roberta.encoder.layer.0.output.LayerNorm.weight"] == 1)
    assert torch.all(params["roberta.encoder.layer.0.output.LayerNorm.bias"] == 0)
    assert torch.all(params["roberta.encoder.layer.0.intermediate.dense.bias"] == 0.01)
    w = params["roberta.encoder.layer.0.intermediate.dense.weight"]  # 64 x 32: xavier std = sqrt(2 / 96)
    assert w.std().item() == pytest.approx((2 / 96) ** 0.5, rel=0.15)


@pytest.mark.parametrize("family", ["roberta", "factorized"])
def test_save_load_round_trip_gives_identical_logits(tmp_path, family, tiny_tokenizer):
    config = build_config(SMALL[family], tiny_tokenizer)
    model = build_model(config, init="paper", seed=0).eval()
    ids, mask = _inputs(config.vocab_size)
    with torch.no_grad():
        expected = model(input_ids=ids, attention_mask=mask).logits
    save_model(model, tmp_path, tiny_tokenizer)
    stock_class = RobertaForMaskedLM if family == "roberta" else ShrunkRobertaForMaskedLM
    for loaded in (stock_class.from_pretrained(tmp_path), AutoModelForMaskedLM.from_pretrained(tmp_path)):
        assert type(loaded) is stock_class
        with torch.no_grad():
            torch.testing.assert_close(
                loaded.eval()(input_ids=ids, attention_mask=mask).logits, expected, rtol=0, atol=0
            )
    # the MLM checkpoint also loads for GLUE fine-tuning, encoder weights shared
    clf = AutoModelForSequenceClassification.from_pretrained(tmp_path, num_labels=3)
    torch.testing.assert_close(
        clf.roberta.encoder.layer[0].output.dense.weight, model.roberta.encoder.layer[0].output.dense.weight
    )


def test_padding_does_not_change_real_token_logits(tiny_tokenizer):
    model = build_model(build_config(SMALL["factorized"], tiny_tokenizer), seed=0).eval()
    ids, mask = _inputs(model.config.vocab_size)
    with torch.no_grad():
        padded = model(input_ids=ids[2:], attention_mask=mask[2:]).logits[0, :8]
        trimmed = model(input_ids=ids[2:, :8], attention_mask=mask[2:, :8]).logits[0]
    torch.testing.assert_close(padded, trimmed, rtol=1e-4, atol=1e-5)


def test_compiled_model_saves_without_orig_mod_keys(tmp_path):
    model = build_model(build_config(SMALL["factorized"], vocab_size=300), seed=0)
    compiled = torch.compile(model)
    save_model(compiled, tmp_path)
    from safetensors import safe_open

    with safe_open(tmp_path / "model.safetensors", "pt") as f:
        keys = list(f.keys())
    assert keys and not any("_orig_mod" in k for k in keys)
    reloaded = ShrunkRobertaForMaskedLM.from_pretrained(tmp_path)
    torch.testing.assert_close(reloaded.lm_head.decoder.weight, model.lm_head.decoder.weight)


REMOTE_CODE_CHECK = """
import json, sys
sys.modules["hf_shrunk"] = None  # hf_shrunk must not be importable here
try:
    import hf_shrunk  # noqa
except ImportError:
    pass
else:
    raise SystemExit("hf_shrunk is importable")
import torch
from transformers import AutoModelForMaskedLM, AutoModelForSequenceClassification
path = sys.argv[1]
model = AutoModelForMaskedLM.from_pretrained(path, trust_remote_code=True).eval()
clf = AutoModelForSequenceClassification.from_pretrained(path, trust_remote_code=True, num_labels=2)
ids = torch.tensor(json.loads(sys.argv[2])); mask = torch.tensor(json.loads(sys.argv[3]))
with torch.no_grad():
    logits = model(input_ids=ids, attention_mask=mask).logits
print(json.dumps({"module": type(model).__module__, "clf": type(clf).__name__, "logits": logits.tolist()}))
"""


@pytest.mark.slow
def test_factorized_loads_with_remote_code_where_hf_shrunk_is_not_importable(tmp_path, tiny_tokenizer):
    model = build_model(build_config(SMALL["factorized"], tiny_tokenizer), seed=0).eval()
    save_model(model, tmp_path, tiny_tokenizer)
    assert {"modeling_shrunk.py", "configuration_shrunk.py"} <= {p.name for p in tmp_path.iterdir()}
    ids, mask = _inputs(model.config.vocab_size)
    proc = subprocess.run(
        [sys.executable, "-c", REMOTE_CODE_CHECK, str(tmp_path), json.dumps(ids.tolist()), json.dumps(mask.tolist())],
        capture_output=True,
        text=True,
        env=subprocess_env(HF_MODULES_CACHE=str(tmp_path / "modules")),
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["module"].startswith("transformers_modules")
    assert out["clf"] == "ShrunkRobertaForSequenceClassification"
    with torch.no_grad():
        expected = model(input_ids=ids, attention_mask=mask).logits
    torch.testing.assert_close(torch.tensor(out["logits"]), expected, rtol=0, atol=1e-6)


def test_modeling_files_import_only_torch_transformers_and_each_other():
    import ast
    from pathlib import Path

    allowed = {"torch", "transformers", "huggingface_hub", "packaging"}  # packaging: a transformers dependency
    for name in ("modeling_shrunk.py", "configuration_shrunk.py"):
        tree = ast.parse((Path(hf_shrunk.__file__).parent / "models" / name).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                if node.level:  # relative import of the sibling file
                    assert node.module == "configuration_shrunk", (name, node.module)
                else:
                    assert node.module.split(".")[0] in allowed, (name, node.module)
            elif isinstance(node, ast.Import):
                assert all(a.name.split(".")[0] in allowed for a in node.names), name
