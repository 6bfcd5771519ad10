"""Vocabulary loading, normalisation, the corpus counting rule and the GLUE rule (hf_shrunk.vocab)."""

import csv
import unicodedata

import pytest

from hf_shrunk.config import ConfigError, UserError
from hf_shrunk.vocab import (
    counted_tokens,
    glue_text,
    glue_words,
    load_vocab,
    normalize,
    normalize_batch,
    oov_check,
    passes_glue_filter,
)


def test_normalize_lowercases_and_composes():
    assert normalize("The E\u0301TE") == "the \u00e9te"  # e + combining acute -> é
    assert unicodedata.is_normalized("NFC", normalize("A\u0301\u0327"))
    assert normalize(normalize("ÉcOLE")) == normalize("ÉcOLE") == "école"


def test_normalize_batch_equals_per_text():
    texts = ["ΟΔΟΣ", "Σ", "ΣΑΣ ΑΣ", "\u0301abc", "e\u0301", "", "İstanbul", "a\x00b", "MIXED Case"]
    for start in range(len(texts)):
        batch = texts[start:] + texts[:start]
        assert normalize_batch(batch) == [normalize(t) for t in batch]


@pytest.mark.parametrize(
    "text, expected",
    [
        # hyphens split words; a digit run at a word start becomes "number"; 1-letter words are invisible
        ("A well-known 3-day trip!", ["well", "known", "number", "day", "trip"]),
        ("1980s and 3rd", ["number", "and", "number", "rd"]),
        ("abc123 x1 I a", ["abc123", "x1"]),
        # the paper's wikitext separator: "1@,@000" -> "1#number000" -> "#number 1" + "number000"
        ("1@,@000 people", ["number", "number000", "people"]),
        ("see http://x.co/a-b now", ["see", "hlink", "now"]),  # '-' splits the URL before it is replaced
        ("The DOG, the dog.", ["the", "dog", "the", "dog"]),
    ],
)
def test_counted_tokens(text, expected):
    assert counted_tokens(text) == expected


def test_oov_check_counts_with_multiplicity():
    assert oov_check("the dog the zzqx zzqx qqq", {"the", "dog"}) == (6, 3, ["zzqx", "qqq"])
    assert oov_check("the dog", frozenset({"the", "dog"})) == (2, 0, [])


@pytest.mark.parametrize(
    "text, expected",
    [
        ("John doesn't like New York .", ["john", "doesnt", "like"]),  # capitalised words after the first dropped
        ("it 's a does n't 5 items .", ["it", "a", "does", "items"]),  # GLUE contraction pieces, digits
        ("“hello”—world (yes)", ["helloworld", "yes"]),
        ("50% off", ["%", "off"]),  # '%' is not in the paper's strip list: it stays and fails the lookup
        ("  double  spaces ", ["double", "spaces"]),
    ],
)
def test_glue_words(text, expected):
    assert glue_words(text) == expected


def test_glue_text_chooses_fields():
    assert glue_text({"sentence": "a b", "label": 1, "idx": 0}) == "a b"
    assert glue_text({"sentence1": "a", "sentence2": "b", "label": 0, "idx": 1}) == "a b"
    assert glue_text({"question": "why", "sentence": "because", "label": 0, "idx": 2}) == "why because"  # QNLI
    assert glue_text({"premise": "p", "hypothesis": "h", "label": 0, "idx": 3}) == "p h"


def test_passes_glue_filter():
    vocab = {"the", "dog", "ran", "a", "it"}
    assert passes_glue_filter({"sentence": "The dog ran .", "label": 0, "idx": 0}, vocab)
    assert not passes_glue_filter({"sentence": "The cat ran .", "label": 0, "idx": 0}, vocab)
    assert passes_glue_filter({"sentence": "The dog ran to Paris", "label": 0, "idx": 0}, vocab | {"to"})
    assert passes_glue_filter("123 !!", vocab)  # nothing left to check: passes, as in the paper
    assert not passes_glue_filter(["the dog", "ran far"], vocab)


def test_paper_csv_quirks(tmp_path):
    path = tmp_path / "vocab.csv"
    rows = [["", "word", "frequency"], ["0", "nan", "3"], ["1", "null", "2"], ["2", "TRUE", "5"], ["3", "FALSE", "1"],
            ["4", "t\ufffdged", "1"], ["5", "Dog", "9"], ["6", "dog", "2"]]  # fmt: skip
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    vocab = load_vocab(path)
    assert vocab.words == {"nan", "null", "true", "false", "t\ufffdged", "dog"}
    assert vocab.mojibake == ("t\ufffdged",)
    assert vocab.rows == 7 and vocab.size == 6 and "nan" in vocab
    assert vocab.info()["fingerprint"] == vocab.fingerprint and len(vocab.fingerprint) == 16


def test_plain_list_and_fingerprint(tmp_path):
    path = tmp_path / "words.txt"
    path.write_text("dog\ncat\t5\n\nDog\n", encoding="utf-8")
    vocab = load_vocab(path)
    assert vocab.words == {"dog", "cat"}
    other = tmp_path / "other.txt"
    other.write_text("cat\ndog\n", encoding="utf-8")
    assert load_vocab(other).fingerprint == vocab.fingerprint  # same words, same fingerprint
    other.write_text("cat\n", encoding="utf-8")
    assert load_vocab(other).fingerprint != vocab.fingerprint


def test_wordfreq_vocabulary():
    vocab = load_vocab("wordfreq:50")
    assert vocab.size == 50 and "the" in vocab
    assert all(w.isalpha() and w == w.lower() for w in vocab.words)


@pytest.mark.parametrize("spec", ["wordfreq:abc", "wordfreq:0", "wordfreq:"])
def test_bad_wordfreq_spec(spec):
    with pytest.raises(ConfigError, match="wordfreq:N"):
        load_vocab(spec)


def test_vocab_errors_name_the_file(tmp_path):
    with pytest.raises(UserError, match="missing.csv not found"):
        load_vocab(tmp_path / "missing.csv")
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n")
    with pytest.raises(UserError, match="empty.txt is empty"):
        load_vocab(empty)
    no_word = tmp_path / "bad.csv"
    no_word.write_text("token,count\nthe,3\n")
    with pytest.raises(UserError, match=r"bad.csv: no 'word' column .*\['token', 'count'\]"):
        load_vocab(no_word)
    latin = tmp_path / "latin.txt"
    latin.write_bytes("dog\ncaf\xe9\n".encode("latin-1"))
    with pytest.raises(UserError, match="latin.txt:2: not valid UTF-8"):
        load_vocab(latin)


@pytest.mark.data
def test_mirror_csv(mirror_dir):
    path = mirror_dir / "vocab" / "aochildes_word_frequency.csv"
    vocab = load_vocab(path)
    with path.open(encoding="utf-8", newline="") as f:  # independent reading: plain csv module
        expected = {row[1].lower() for row in list(csv.reader(f))[1:]}
    assert vocab.words == expected and vocab.rows == 21037
    assert {"nan", "none", "na", "true", "false", "null"} & vocab.words == {"nan", "none", "na", "true", "false"}
    assert set("abcdefghijklmnopqrstuvwxyz") <= vocab.words and "number" in vocab
    assert len(vocab.mojibake) == 4 and all("\ufffd" in w for w in vocab.mojibake)
