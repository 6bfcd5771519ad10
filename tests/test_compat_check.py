"""scripts/compat_check.sh: published folders load in transformers 4.x with the same token ids and logits as in 5.x
(roberta), or fail with a message naming the minimum version (factorized remote code)."""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import subprocess_env

from hf_shrunk.cards.model import MIN_TRANSFORMERS

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "compat_check.sh"


def _checker():
    spec = importlib.util.spec_from_file_location("compat_check", REPO / "scripts" / "compat_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cards_state_the_version_the_remote_code_checks():
    code = (REPO / "hf_shrunk" / "models" / "configuration_shrunk.py").read_text()
    assert re.search(r'MIN_TRANSFORMERS = "([^"]+)"', code).group(1) == MIN_TRANSFORMERS


def test_judge_accepts_only_equal_outputs_or_a_clear_refusal(tmp_path):
    check = _checker()
    (tmp_path / "configuration_shrunk.py").write_text('MIN_TRANSFORMERS = "5.4.0"\n')
    ref = {"ids": [[0, 5, 2]], "logits": [[[0.5, 0.25]]]}
    assert check.judge("roberta", ref, ref | {"logits": [[[0.5, 0.250001]]]}, "4.57.6") == []
    assert check.judge("roberta", ref, ref | {"logits": [[[0.5, 0.3]]]}, "4.57.6")
    assert check.judge("roberta", ref, ref | {"ids": [[0, 6, 2]]}, "4.57.6")
    refused = {"ids": ref["ids"], "error": "ImportError: ... need transformers>=5.4.0; ..."}
    assert check.judge(str(tmp_path), ref, refused, "4.57.6") == []
    assert check.judge(str(tmp_path), ref, refused | {"error": "ValueError: strict"}, "4.57.6")
    assert check.judge(str(tmp_path), ref, refused, "5.4.0")  # supported there: must load
    no_tokenizer = {"ids": None, "error": "tokenizer: ValueError: Tokenizer class TokenizersBackend does not exist"}
    assert "the tokenizer does not load" in check.judge("roberta", ref, no_tokenizer, "4.57.6")[0]


@pytest.mark.slow
def test_compat_check_against_transformers_4(tmp_path):
    """Installs transformers<5 into a second virtualenv from PyPI (reused between runs; about 40 s the first time)."""
    env = subprocess_env(MAIN_PY=sys.executable)  # the script's own default virtualenv, reused between runs
    proc = subprocess.run(
        ["bash", str(SCRIPT)], capture_output=True, text=True, timeout=900, env=env, stdin=subprocess.DEVNULL
    )
    if proc.returncode == 3:
        pytest.skip(f"compat check: could not install transformers<5 from PyPI: {proc.stderr.strip()[-300:]}")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert re.search(r"^ok: .*roberta: transformers 5\.\S+ vs 4\.", proc.stdout, re.M), proc.stdout
    assert re.search(r"^refused with a clear message: .*factorized", proc.stdout, re.M), proc.stdout
