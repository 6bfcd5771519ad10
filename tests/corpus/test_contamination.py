"""Held-out text against train: ``--split_by document`` and the contamination report (hf_shrunk.corpus.contamination;
beyond the paper, docs/paper.md#differences)."""

import random
import re

import pytest
from conftest import write_glue_task

from hf_shrunk.config import ConfigError
from hf_shrunk.corpus import CorpusConfig, build_corpus, contamination_report
from hf_shrunk.corpus.contamination import NgramHasher

WORDS = "the dog ran to park and cat sat on mat big red ball is my we see go home".split()
MARKERS = [f"m{i:03d}" for i in range(120)]  # one word per document: tells which document a text comes from


def _documents(n: int = 120, seed: int = 0) -> list[str]:
    """Documents long enough for the span pass; every sentence carries its document's marker word."""
    rng = random.Random(seed)
    docs = []
    for marker in MARKERS[:n]:
        sentences = [" ".join([marker, *rng.choices(WORDS, k=7)]) + "." for _ in range(8)]
        docs.append(" ".join(sentences))
    return docs


def _build(tmp_path, **overrides):
    (tmp_path / "vocab.txt").write_text("\n".join(WORDS + MARKERS))
    (tmp_path / "docs.txt").write_text("\n".join(_documents()) + "\n")
    values = {
        "root": str(tmp_path / "art"),
        "vocab": str(tmp_path / "vocab.txt"),
        "sources": [str(tmp_path / "docs.txt")],
        "sentence_min_tokens": 3,
        "span_words": 20,
        "span_stride": 10,
        "span_min_tokens": 10,
        "validation_size": "0.1",
        "test_size": "0.1",
        "contamination_glue": "none",
    }
    return build_corpus(CorpusConfig(**(values | overrides)), progress=False)


def _documents_of(texts) -> set[str]:
    return {m for t in texts for m in re.findall(r"\bm\d{3}\b", t)}


def _splits(folder):
    import datasets

    return {split: ds["text"] for split, ds in datasets.load_from_disk(str(folder)).items()}


def test_split_by_document_keeps_held_out_documents_out_of_train(tmp_path):
    folder, stats, _ = _build(tmp_path, name="doc", split_by="document")
    splits = _splits(folder)
    train = _documents_of(splits["train"])
    for held_out in ("validation", "test"):
        assert splits[held_out] and not _documents_of(splits[held_out]) & train, held_out
    assert not _documents_of(splits["validation"]) & _documents_of(splits["test"])
    n = stats["sequences"]["total"]
    assert 0.05 * n <= len(splits["validation"]) <= 0.15 * n  # about the asked-for share
    assert stats["split_by"] == "document" and stats["sequences"]["splits"]["train"] == len(splits["train"])
    assert stats["contamination"]["splits"]["validation"]["overlapping"] == 0
    # the paper's split (the default) shares documents, hence text, between train and held-out
    folder, stats, _ = _build(tmp_path, name="unit")
    splits = _splits(folder)
    assert _documents_of(splits["validation"]) & _documents_of(splits["train"])
    assert stats["split_by"] == "unit" and stats["contamination"]["splits"]["validation"]["overlapping"] > 0


def test_split_by_is_validated_and_the_paper_default_keeps_the_manifest_key(tmp_path):
    from hf_shrunk.corpus.build import manifest_config

    with pytest.raises(ConfigError, match="--split_by"):
        CorpusConfig(split_by="sentence")
    assert "split_by" not in manifest_config(CorpusConfig())  # corpora built before the option keep their key
    assert manifest_config(CorpusConfig(split_by="document"))["split_by"] == "document"
    assert "contamination" not in manifest_config(CorpusConfig())  # the report does not change the data


def test_datatrove_executor_gives_the_same_document_split(tmp_path):
    pytest.importorskip("datatrove")
    local, _, _ = _build(tmp_path, name="local", split_by="document", contamination=False)
    dt, _, _ = _build(tmp_path, name="dt", split_by="document", contamination=False, executor="datatrove", num_proc=2)
    assert _splits(local) == _splits(dt)


PLANTED = "the quick brown fox jumps over the lazy dog near the quiet river bank today"  # 15 words


def test_report_finds_planted_overlap_and_nothing_else(tmp_path):
    train = [f"once upon a time {PLANTED.upper()}, and then it rained.", "a b c d e f g", "h i j k l m n"]
    splits = {
        "train": train,
        "validation": ["nothing in common here at all with anything that the training split holds ok", PLANTED],
        # 13 words that only occur across the boundary of two training sequences: not an overlap
        "test": ["a b c d e f g h i j k l m"],
    }
    glue = tmp_path / "glue"
    sentence = f"Critics said {PLANTED}."
    write_glue_task(glue, "sst2", {"train": [{"sentence": "x", "label": 0}], "validation": [
        {"sentence": sentence, "label": 1}, {"sentence": "too short", "label": 0}]})  # fmt: skip
    report = contamination_report(splits, n=13, glue=str(glue))
    validation = report["splits"]["validation"]
    assert (validation["sequences"], validation["with_ngrams"], validation["overlapping"]) == (2, 2, 1)
    assert validation["fully_contained"] == 1 and validation["ngrams_in_train"] == 3  # 15 words: 3 13-grams
    example = validation["examples"][0]
    assert example["index"] == 1 and example["train_index"] == 0
    assert example["ngram"] == " ".join(PLANTED.split()[:13])
    assert report["splits"]["test"]["overlapping"] == 0 and report["splits"]["test"]["with_ngrams"] == 1
    sst2 = report["glue"]["sst2"]
    assert (sst2["sequences"], sst2["with_ngrams"], sst2["overlapping"]) == (2, 1, 1)
    assert report["glue_tiers"] == {"sst2": "explicit"} and report["train"]["sequences"] == 3
    # hashing train in chunks of one sequence finds the same
    assert contamination_report(splits, n=13, glue=str(glue), chunk=1)["splits"] == report["splits"]


def test_report_without_glue_says_so(monkeypatch):
    monkeypatch.delenv("HF_SHRUNK_DATA_DIR", raising=False)
    report = contamination_report({"train": [PLANTED], "validation": [PLANTED]}, n=5)
    assert report["glue"] == {} and "not checked" in report["notes"][0]
    assert report["splits"]["validation"]["overlapping"] == 1 and "test" not in report["splits"]
    assert contamination_report({"train": [PLANTED]}, glue="none")["notes"] == [
        "GLUE dev sets not checked (--contamination_glue none)"
    ]


def test_hasher_keeps_texts_apart():
    hashes, owner, position = NgramHasher(3)(["a b c d", "", "e f", "x\x00y z"])
    assert owner.tolist() == [0, 0, 3] and position.tolist() == [0, 1, 0]
    again, _, _ = NgramHasher(3)(["A, b; c!"])
    assert again[0] == hashes[0]  # lower-cased words, punctuation ignored


@pytest.mark.data
def test_mirror_corpus_contamination(mirror_dir, tmp_path, monkeypatch):
    """On the real mirror: QNLI dev (Wikipedia) shares 13-grams with the mirror's Wikipedia text; the report runs in
    seconds next to the filter (printed for the record)."""
    monkeypatch.setenv("HF_SHRUNK_DATA_DIR", str(mirror_dir))
    cfg = CorpusConfig(root=str(tmp_path), sources=["mirror"], split_by="document")
    _, stats, _ = build_corpus(cfg, progress=False)
    report = stats["contamination"]
    assert {"cola", "sst2", "qnli"} <= set(report["glue"]) and report["glue"]["qnli"]["overlapping"] > 0
    assert report["splits"]["validation"]["fraction_ngrams"] < 0.05
    print(stats["timings"], {k: v["overlapping"] for k, v in report["glue"].items()})
