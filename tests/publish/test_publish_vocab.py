"""A published model repo records the vocabulary its corpus was filtered with (``training_manifest.json``'s
``extra.vocab``), and ``hf-shrunk glue`` on the Hub follows it (hf_shrunk.glue.model_vocab)."""

import json
from pathlib import Path

import pytest
from publish_suite import FACTORIZED, build_suite

from hf_shrunk.config import UserError
from hf_shrunk.glue.model_vocab import choose_vocab, model_vocab
from hf_shrunk.glue.run import ModelRef
from hf_shrunk.publish import main as publish_main

pytestmark = pytest.mark.hub


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    return build_suite(tmp_path_factory.getbasetemp() / "publish-suite")


def test_glue_follows_the_vocabulary_recorded_on_the_hub(fakehub, suite, tmp_path):
    from huggingface_hub import hf_hub_download

    assert publish_main(["--root", str(suite), "--org", fakehub.org, "--allow_missing_results"]) == 0
    repo = f"{fakehub.org}/shrunk-{FACTORIZED}"
    manifest = json.loads(Path(hf_hub_download(repo, "training_manifest.json")).read_text())
    vocab = manifest["extra"]["vocab"]  # the suite's corpus records fingerprint f00d for its word list
    assert vocab["fingerprint"] == "f00d" and not vocab["path"].startswith("/")  # no local directories published
    ref = ModelRef("hub", repo, "step4", f"{repo}@step4", "x")
    recorded = model_vocab(ref, str(tmp_path))  # a step branch: its run's manifest is read from main
    assert recorded.fingerprint == "f00d" and recorded.recorded_in.endswith("@main/training_manifest.json")
    # no copy of a word list with that (made-up) fingerprint exists here: a clear error, not another list
    with pytest.raises(UserError, match="no copy of it was found"):
        choose_vocab("model", ref, str(tmp_path))
    with pytest.raises(UserError, match="is not the vocabulary"):
        choose_vocab("wordfreq:1000", ref, str(tmp_path))
    assert choose_vocab("wordfreq:1000", ref, str(tmp_path), allow_mismatch=True).record["matches_model"] is False
