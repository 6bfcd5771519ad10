"""The online newcomer: no data mirror, the Hub (the local double, holding copies of the real repos in their real
layout) and the paper's vocabulary URL (a local server serving the real file). `hf-shrunk demo --smoke` must run
end to end and record every input's tier as the Hub (or the pinned download)."""

import json

import pytest

pytestmark = [pytest.mark.hub, pytest.mark.data, pytest.mark.slow]


def _constrained_sample(mirror_dir, n_train=2000, n_held=200, words_per_sequence=100):
    """Sequences of child-directed text (the mirror's AO-CHILDES source), like the paper's corpus rows."""
    import pyarrow.parquet as pq

    words = " ".join(pq.read_table(mirror_dir / "corpus" / "aochildes.parquet", columns=["text"])["text"].to_pylist())
    words = words.lower().split()
    rows = [" ".join(words[i : i + words_per_sequence]) for i in range(0, len(words), words_per_sequence)]
    rows = rows[: n_train + 2 * n_held]
    return {"train": rows[:n_train], "validation": rows[n_train : n_train + n_held], "test": rows[-n_held:]}


@pytest.fixture()
def online_world(fakehub, mirror_dir, vocab_server, monkeypatch):
    from fakehub.world import seed_constrained_language, seed_glue

    import hf_shrunk.sources.tiers as tiers

    configs = seed_glue(fakehub.server.storage, mirror_dir / "glue")
    seed_constrained_language(fakehub.server.storage, _constrained_sample(mirror_dir))
    vocab_server((mirror_dir / "vocab" / "aochildes_word_frequency.csv").read_bytes(), sha256=tiers.PAPER_VOCAB_SHA256)
    monkeypatch.delenv("HF_SHRUNK_DATA_DIR", raising=False)
    return configs


def test_the_hub_copies_load_with_datasets_as_online(online_world):
    import datasets

    sst2 = datasets.load_dataset("nyu-mll/glue", "sst2", split="validation")
    assert len(sst2) == 872 and sst2.features["label"].names == ["negative", "positive"]
    corpus = datasets.load_dataset("text-machine-lab/constrained_language", split="validation", streaming=True)
    assert list(next(iter(corpus))) == ["TEXT"]


def test_online_newcomer_runs_the_smoke_demo(online_world, tmp_path, capsys):
    from hf_shrunk.demo import main

    root = tmp_path / "demo"
    assert main(["--smoke", "--root", str(root)]) == 0
    corpus = json.loads((root / "corpus" / "demo" / "manifest.json").read_text())
    tiers = {entry["kind"]: entry["tier"] for entry in corpus["inputs"]}
    assert tiers["vocab"] == "download", tiers
    assert {tier for kind, tier in tiers.items() if kind != "vocab"} == {"hub"}, tiers
    for summary_file in (root / "glue").glob("*/summary.json"):
        summary = json.loads(summary_file.read_text())
        assert summary["variants"], summary["notes"]
        assert set(summary["data_tiers"].values()) == {"hub"}, summary["data_tiers"]
    assert len(list((root / "glue").glob("*/summary.json"))) == 3
    assert (root / "publish" / "plan.json").is_file()
