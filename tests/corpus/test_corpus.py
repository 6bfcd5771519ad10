"""The corpus stage: building, outputs and manifests, executors, skip/overwrite, interruption, errors
(hf_shrunk.corpus.build)."""

import json
import os
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_corpus_filter import VOCAB, WORDS, random_docs

from hf_shrunk.artifacts import ArtifactError, Manifest
from hf_shrunk.config import ConfigError, UserError
from hf_shrunk.corpus import CorpusConfig, build_corpus, main


def paper_tokens(text: str) -> list[str]:
    """The paper's counted tokens, re-implemented without regular expressions (an independent check)."""
    s = text.lower().replace("-", " ").replace("@,@", "#number").replace("@.@", "#number")
    out, i = [], 0
    while i < len(s):  # a digit run that starts a word becomes "#number "
        if s[i].isdigit() and (i == 0 or not (s[i - 1].isalnum() or s[i - 1] == "_")):
            j = i
            while j < len(s) and s[j].isdigit():
                j += 1
            out.append("#number ")
            i = j
        else:
            out.append(s[i])
            i += 1
    s = "".join(out)
    while "http" in s:  # a URL runs to the next whitespace
        start = s.index("http")
        end = start
        while end < len(s) and not s[end].isspace():
            end += 1
        s = s[:start] + "#hlink" + s[end:]
    tokens, word = [], ""
    for ch in s + " ":
        if ch.isalnum() or ch == "_":
            word += ch
        else:
            if len(word) >= 2:
                tokens.append(word)
            word = ""
    return tokens


def build(tmp_path, sources, **overrides):
    """Build a corpus from ``sources`` with a small vocabulary file; returns (folder, stats, skipped)."""
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(WORDS))
    values = {"root": str(tmp_path / "art"), "vocab": str(vocab), "sources": [str(s) for s in sources]} | overrides
    return build_corpus(CorpusConfig(**values), progress=False)


# ---------------------------------------------------------------------------------------------------------
# Building a corpus
# ---------------------------------------------------------------------------------------------------------


def _reason_docs(tmp_path) -> Path:
    path = tmp_path / "docs.txt"
    path.write_text(
        "the dog ran to the park. the cat sat on the mat.\n"  # 2 kept sentences
        "the dog ran to the park.\n"  # duplicate
        "see the dog at http://example.com now.\n"  # url
        "the dog.\n"  # too short
        "the zebra ran to my park.\n"  # oov
        "   \n"  # empty (span pass)
    )
    return path


def test_every_reason_is_counted(tmp_path):
    src = _reason_docs(tmp_path)
    _, stats, _ = build(tmp_path, [src], sentence_min_tokens=2, span_words=50, span_stride=50, span_min_tokens=100,
                        validation_size="0", test_size="0")  # fmt: skip
    sentence = stats["sources"]["docs"]["passes"]["sentence"]
    assert {k: v["units"] for k, v in sentence.items()} == {
        "kept": 2,
        "duplicate": 1,
        "url": 1,
        "too_short": 1,
        "oov": 1,
    }
    span = stats["sources"]["docs"]["passes"]["span"]  # one window per document; none long enough
    assert {k: v["units"] for k, v in span.items()} == {"empty": 1, "url": 1, "too_short": 4}
    assert stats["sources"]["docs"]["documents"] == 6 and stats["sources"]["docs"]["tier"] == "explicit"
    assert (
        stats["examples"]["oov"][0]["oov_words"] == ["zebra"]
        and stats["examples"]["oov"][0]["location"] == "docs.txt:5"
    )
    assert stats["examples"]["duplicate"][0]["text"] == "the dog ran to the park."
    assert stats["sequences"]["splits"] == {"train": 1, "validation": 0, "test": 0}


def _independent_check(texts, vocab):
    for text in texts:
        bad = [t for t in paper_tokens(text) if t not in vocab]
        assert not bad, f"{text!r} has out-of-vocabulary tokens {bad}"


def test_build_outputs_and_reload(tmp_path):
    import datasets

    docs = tmp_path / "docs.jsonl"
    rng = random.Random(0)
    lines = [" ".join(rng.choice(WORDS[:10] + ["zebra", "3-day", "."]) for _ in range(40)) + "." for _ in range(300)]
    docs.write_text("".join(json.dumps({"body": t, "id": i}) + "\n" for i, t in enumerate(lines)))
    folder, stats, skipped = build(tmp_path, [docs], text_column="body", validation_size="0.1", test_size="3")
    assert not skipped and (folder / "manifest.json").is_file()
    dd = datasets.load_from_disk(str(folder))
    assert {s: len(d) for s, d in dd.items()} == stats["sequences"]["splits"] and len(dd["test"]) == 3
    files = {s: str(folder / "parquet" / f"{s}.parquet") for s in dd}
    assert datasets.load_dataset("parquet", data_files=files)["train"]["text"] == dd["train"]["text"]
    _independent_check([t for d in dd.values() for t in d["text"]], VOCAB)
    manifest = Manifest.read(folder)
    assert manifest.inputs[0]["kind"] == "vocab" and manifest.inputs[1]["tier"] == "explicit"
    assert "num_proc" not in manifest.config


def test_skip_and_overwrite(tmp_path):
    src = _reason_docs(tmp_path)
    folder, _, skipped = build(tmp_path, [src], validation_size="0", test_size="0", sentence_min_tokens=2)
    created = Manifest.read(folder).created
    assert not skipped
    _, _, skipped = build(tmp_path, [src], validation_size="0", test_size="0", sentence_min_tokens=2, num_proc=2)
    assert skipped and Manifest.read(folder).created == created  # num_proc does not change the output
    with pytest.raises(ArtifactError, match="different config"):
        build(tmp_path, [src], validation_size="0", test_size="0", sentence_min_tokens=1)
    _, _, skipped = build(tmp_path, [src], validation_size="0", test_size="0", sentence_min_tokens=1, overwrite=True)
    assert not skipped and Manifest.read(folder).config["sentence_min_tokens"] == 1


def test_interrupted_build_leaves_nothing(tmp_path, monkeypatch):
    import hf_shrunk.corpus.build as corpus

    def explode(folder, splits):
        (folder / "train").mkdir()
        raise KeyboardInterrupt

    monkeypatch.setattr(corpus, "write_splits", explode)
    with pytest.raises(KeyboardInterrupt):
        build(tmp_path, [_reason_docs(tmp_path)], sentence_min_tokens=2, validation_size="0", test_size="0")
    corpus_dir = tmp_path / "art" / "corpus"
    assert not (corpus_dir / "default").exists() and list(corpus_dir.iterdir()) == []


def test_datatrove_executor_gives_the_same_corpus(tmp_path):
    pytest.importorskip("datatrove")
    docs = tmp_path / "docs.txt"
    docs.write_text("\n".join(random_docs(7, 120)) + "\n")
    common = {
        "sentence_min_tokens": 2,
        "span_words": 12,
        "span_stride": 4,
        "span_min_tokens": 4,
        "validation_size": "2",
        "test_size": "2",
    }
    local, s1, _ = build(tmp_path, [docs], name="local", **common)
    dt, s2, _ = build(tmp_path, [docs, docs], name="dt-check", executor="datatrove", num_proc=2, **common)
    ref, s3, _ = build(tmp_path, [docs, docs], name="local-check", **common)
    for a, b in ((dt, ref),):
        for split in ("train", "validation", "test"):
            assert pq.read_table(a / "parquet" / f"{split}.parquet") == pq.read_table(
                b / "parquet" / f"{split}.parquet"
            )
    assert s2["total"] == s3["total"] and s2["examples"] == s3["examples"]
    assert s3["total"]["outcomes"]["duplicate"]["units"] >= s1["total"]["outcomes"]["kept"]["units"]  # 2nd copy


def test_passthrough_from_mirror(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    (mirror / "constrained_language").mkdir(parents=True)
    # counted tokens: 3 + 5 (the zebra ran to hlink) + 2 ("a" is invisible) = 10; OOV: zebra, hlink
    texts = {
        "train": ["the dog ran", "the zebra ran to http://x.org", "a cat sat"],
        "validation": ["my big red ball"],
        "test": ["we see it"],
    }
    for split, rows in texts.items():
        pq.write_table(pa.table({"text": rows}), mirror / "constrained_language" / f"{split}.parquet")
    monkeypatch.setenv("HF_SHRUNK_DATA_DIR", str(mirror))
    folder, stats, _ = build(tmp_path, ["text-machine-lab/constrained_language"])
    assert stats["tier"] == "mirror" and stats["sequences"]["splits"] == {"train": 3, "validation": 1, "test": 1}
    assert stats["verification"]["train"] == {
        "sequences": 3,
        "tokens": 10,
        "oov_tokens": 2,
        "sequences_with_oov": 1,
        "sequences_with_url": 1,
    }
    assert pq.read_table(folder / "parquet" / "train.parquet").column("text").to_pylist() == texts["train"]
    with pytest.raises(ConfigError, match="only --sources"):
        build(tmp_path, ["text-machine-lab/constrained_language", str(_reason_docs(tmp_path))], name="mixed")


# ---------------------------------------------------------------------------------------------------------
# Bad input: a clear UserError naming the file (and line/row), and nothing written
# ---------------------------------------------------------------------------------------------------------


def _bad_inputs(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    latin = tmp_path / "latin.txt"
    latin.write_bytes(b"the dog ran\nthe caf\xe9 ran\n")
    long_line = tmp_path / "long.txt"
    long_line.write_text("the dog\n" + "x" * 2_000_001 + "\n")
    wrong_col = tmp_path / "wrong.parquet"
    pq.write_table(pa.table({"content": ["the dog"], "id": [1]}), wrong_col)
    jsonl = tmp_path / "docs.jsonl"
    jsonl.write_text('{"text": "the dog"}\n{"body": "oops"}\n')
    return [
        (empty, r"empty.txt holds no documents", {}),
        (latin, r"latin.txt:2: not valid UTF-8 .*iconv", {}),
        (
            long_line,
            r"long.txt:2: document of more than 100,000 characters exceeds --max_doc_chars",
            {"max_doc_chars": 100_000},
        ),
        (wrong_col, r"wrong.parquet: no column 'text'; columns found: \['content', 'id'\].*--text_column", {}),
        (jsonl, r"docs.jsonl:2: no 'text' field; fields found: \['body'\].*--text_column", {}),
        (tmp_path / "nothing-*.txt", r"no files match", {}),
        (tmp_path / "absent.txt", r"absent.txt': no such file", {}),
        (tmp_path / "vocab.csv", r"unsupported file type", {}),
    ]


def test_bad_inputs_raise_clear_errors(tmp_path):
    (tmp_path / "vocab.csv").write_text("x")
    for path, message, extra in _bad_inputs(tmp_path):
        with pytest.raises(UserError, match=message):
            build(tmp_path, [path], name="bad", **extra)
        assert not (tmp_path / "art" / "corpus" / "bad").exists()


def test_unreadable_file(tmp_path, monkeypatch):
    path = tmp_path / "locked.txt"
    path.write_text("the dog ran\n")
    real_open = Path.open

    def guarded(self, *args, **kwargs):
        if self.name == "locked.txt":
            raise PermissionError(13, "Permission denied")
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", guarded)
    with pytest.raises(UserError, match=r"cannot read .*locked.txt: permission denied"):
        build(tmp_path, [path], name="locked")


def test_main_prints_a_summary(tmp_path, capsys):
    src = _reason_docs(tmp_path)
    (tmp_path / "v.txt").write_text("\n".join(WORDS))
    argv = [
        "--root",
        str(tmp_path / "art"),
        "--vocab",
        str(tmp_path / "v.txt"),
        "--sources",
        str(src),
        "--sentence_min_tokens",
        "2",
        "--validation_size",
        "0",
        "--test_size",
        "0",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "units: kept 2" in out and "duplicate 1" in out and "sequences: 1" in out and "output:" in out
    assert main(argv) == 0 and "up to date" in capsys.readouterr().out


@pytest.mark.data
def test_full_mirror_corpus(mirror_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_SHRUNK_DATA_DIR", str(mirror_dir))
    cfg = CorpusConfig(root=str(tmp_path), sources=["mirror"], num_proc=min(2, os.cpu_count() or 1))
    folder, stats, _ = build_corpus(cfg, progress=False)
    names = {p.stem for p in (mirror_dir / "corpus").glob("*.parquet")}
    assert set(stats["sources"]) == names and all(s["tier"] == "mirror" for s in stats["sources"].values())
    assert all(s["units_kept"] > 0 for s in stats["sources"].values())
    assert stats["vocabulary"]["tier"] == "mirror" and stats["vocabulary"]["size"] == 21037
    splits = stats["sequences"]["splits"]
    assert splits["validation"] == splits["test"] == round(0.05 * stats["sequences"]["total"])
    from hf_shrunk.vocab import load_vocab

    full_vocab = load_vocab(mirror_dir / "vocab" / "aochildes_word_frequency.csv").words
    texts = [
        t
        for s in ("train", "validation", "test")
        for t in pq.read_table(folder / "parquet" / f"{s}.parquet").column("text").to_pylist()
    ]
    _independent_check(texts, full_vocab)
    print(json.dumps({k: v["units_kept"] for k, v in stats["sources"].items()}), stats["sequences"], stats["timings"])
