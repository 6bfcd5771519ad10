"""tokenizer_config.json as published: a standard class that loads in transformers 4.x and 5.x, settings only (no
loading-time state), and no remote-code question when AutoTokenizer opens a factorized model folder."""

import json
import subprocess
import sys

import pytest
from conftest import subprocess_env

from hf_shrunk.tokenizer import TOKENIZER_CLASS, clean_tokenizer_config, public_tokenizer_config, save_tokenizer

SPECIALS = {"bos_token", "eos_token", "sep_token", "cls_token", "unk_token", "pad_token", "mask_token"}
EXPECTED_KEYS = SPECIALS | {"tokenizer_class", "model_max_length", "model_input_names", "clean_up_tokenization_spaces"}


def _config(folder) -> dict:
    return json.loads((folder / "tokenizer_config.json").read_text())


def test_saved_config_names_a_standard_class_and_only_settings(tiny_tokenizer, tmp_path):
    save_tokenizer(tiny_tokenizer, tmp_path)
    config = _config(tmp_path)
    assert set(config) == EXPECTED_KEYS
    assert config["tokenizer_class"] == TOKENIZER_CLASS == "PreTrainedTokenizerFast"
    assert config["model_input_names"] == ["input_ids", "attention_mask"]  # RoBERTa's: no token_type_ids
    assert config["mask_token"] == "<mask>" and config["model_max_length"] == 128


def test_reloaded_and_resaved_tokenizer_stays_clean(tiny_tokenizer, tmp_path):
    """from_pretrained adds is_local/local_files_only; transformers 5 names its own class on save."""
    from transformers import AutoTokenizer

    save_tokenizer(tiny_tokenizer, tmp_path / "a")
    reloaded = AutoTokenizer.from_pretrained(tmp_path / "a")
    reloaded.save_pretrained(tmp_path / "b")  # as Trainer.save_model does
    dirty = _config(tmp_path / "b")
    assert {"is_local", "local_files_only"} & set(dirty)  # what the cleaning is for (transformers 5.x)
    clean_tokenizer_config(tmp_path / "b")
    assert _config(tmp_path / "b") == _config(tmp_path / "a")
    again = AutoTokenizer.from_pretrained(tmp_path / "b")
    text = "The Little DOG <mask> the ball ."
    assert again(text)["input_ids"] == tiny_tokenizer(text)["input_ids"]


def test_public_config_drops_unknown_keys():
    config = {"tokenizer_class": "TokenizersBackend", "backend": "tokenizers", "is_local": True, "pad_token": "<pad>"}
    config |= {"local_files_only": True, "name_or_path": "/home/x", "padding_side": "left"}
    assert public_tokenizer_config(config) == {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "pad_token": "<pad>",
        "padding_side": "left",
        "model_input_names": ["input_ids", "attention_mask"],
        "clean_up_tokenization_spaces": False,
    }


# Runs without hf_shrunk (which would register the factorized classes): as a user who only has transformers.
LOAD_WITHOUT_HF_SHRUNK = """
import json, sys
from transformers import AutoTokenizer
tok = AutoTokenizer.from_pretrained(sys.argv[1], trust_remote_code=False)
assert "hf_shrunk" not in sys.modules
print(json.dumps(tok("the little dog <mask> the ball .")["input_ids"]))
"""


@pytest.mark.slow
def test_factorized_folder_tokenizer_loads_without_remote_code(tiny_tokenizer, tmp_path):
    from hf_shrunk.models import Size, build_config, build_model, save_model

    folder = tmp_path / "factorized"
    config = build_config(Size("factorized", 16, 32, 64, 2, 1), tiny_tokenizer)
    save_model(build_model(config, seed=0), folder, tokenizer=tiny_tokenizer)
    assert "auto_map" in json.loads((folder / "config.json").read_text())  # remote code for the model only
    proc = subprocess.run(
        [sys.executable, "-c", LOAD_WITHOUT_HF_SHRUNK, str(folder)],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300, cwd=tmp_path,
        env=subprocess_env(TRANSFORMERS_OFFLINE="1"),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "custom code" not in proc.stdout + proc.stderr  # no trust_remote_code question was asked
    ids = json.loads(proc.stdout.strip().splitlines()[-1])
    assert ids == tiny_tokenizer("the little dog <mask> the ball .")["input_ids"]
