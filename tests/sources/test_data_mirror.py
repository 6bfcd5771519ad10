"""The Hub tier and `hf-shrunk data mirror` against the local Hub-compatible server, with the real clients."""

import pytest
from conftest import make_glue_dir

pytestmark = pytest.mark.hub

CSV = ",word,frequency\n0,the,10\n1,cat,5\n2,NaN,3\n3,TRUE,1\n"


@pytest.fixture()
def hub_data(fakehub, tmp_path, monkeypatch, vocab_server):
    """GLUE (sst2, rte) as a dataset repo with one config per task; the vocabulary at its (local) pinned URL."""
    import datasets

    import hf_shrunk.sources.glue as sources_glue
    import hf_shrunk.sources.mirror as sources_mirror

    glue_repo = f"{fakehub.org}/glue"  # stands in for nyu-mll/glue, which the test user cannot create
    monkeypatch.setattr(sources_glue, "GLUE_REPO", glue_repo)
    monkeypatch.setattr(sources_mirror, "GLUE_REPO", glue_repo)
    local = make_glue_dir(tmp_path / "source")
    for task in ("sst2", "rte"):
        files = {split: str(local / task / f"{split}.parquet") for split in ("train", "validation")}
        datasets.load_dataset("parquet", data_files=files).push_to_hub(glue_repo, config_name=task)
    vocab_server(CSV.encode())
    monkeypatch.delenv("HF_SHRUNK_DATA_DIR", raising=False)
    return local


def test_vocabulary_downloads_and_glue_comes_from_the_hub_without_a_mirror(hub_data):
    from hf_shrunk.sources import load_glue_task, resolve_vocab

    vocab = resolve_vocab("auto")
    assert vocab.tier == "download" and vocab.value.words == {"the", "cat", "nan", "true"}
    splits, tier = load_glue_task("sst2")
    assert tier == "hub" and len(splits["train"]) == 300
    assert splits["train"].features["label"].names == ["negative", "positive"]


def test_data_mirror_writes_a_usable_mirror(hub_data, tmp_path, monkeypatch):
    import pandas as pd

    from hf_shrunk.sources import load_glue_task, main, resolve_vocab

    out = tmp_path / "mirror"
    assert main(["mirror", "--to", str(out), "--glue", "sst2", "rte", "--vocab"]) == 0
    for task in ("sst2", "rte"):
        for split in ("train", "validation"):
            got = pd.read_parquet(out / "glue" / task / f"{split}.parquet")
            want = pd.read_parquet(hub_data / task / f"{split}.parquet")
            assert got[want.columns].equals(want)
    assert (out / "vocab" / "aochildes_word_frequency.csv").read_text() == CSV
    assert (out / "MANIFEST.sha256").is_file() and (out / "mirror.json").is_file()
    monkeypatch.setenv("HF_SHRUNK_DATA_DIR", str(out))
    assert resolve_vocab("auto").tier == "mirror"
    splits, tier = load_glue_task("rte")
    assert tier == "mirror" and len(splits["validation"]) == 20
