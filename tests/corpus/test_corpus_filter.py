"""The corpus rule: units, the predicate, the batched filter, grouping and splits (hf_shrunk.corpus)."""

import random

import pytest

from hf_shrunk.config import ConfigError
from hf_shrunk.corpus import CorpusConfig
from hf_shrunk.corpus.batch import BatchFilter
from hf_shrunk.corpus.build import group_units, held_out_size, split_sequences
from hf_shrunk.corpus.rule import (
    DocBatch,
    FilterSettings,
    check_unit,
    reference_filter,
    span_windows,
    split_sentences,
)
from hf_shrunk.vocab import normalize

WORDS = "the dog ran to park and cat sat on mat a big red ball is my it we see number go home".split()
VOCAB = frozenset(WORDS)


# ---------------------------------------------------------------------------------------------------------
# Units and predicates
# ---------------------------------------------------------------------------------------------------------


def test_split_sentences():
    doc = 'mr. smith ran. he fell! did he? "yes." she said\nthe end'
    assert split_sentences(doc) == ["mr. smith ran.", "he fell!", "did he?", '"yes."', "she said", "the end"]
    assert split_sentences("see e.g. the u.s. army. j. k. rowling wrote it. i. a. ok") == [
        "see e.g. the u.s. army.",
        "j. k. rowling wrote it.",
        "i.",
        "a.",
        "ok",
    ]
    assert split_sentences("(dr. who) met st. paul.) then... x") == ["(dr. who) met st. paul.)", "then...", "x"]
    assert split_sentences("  \n \n") == [] and split_sentences("no end") == ["no end"]


def test_span_windows():
    doc = " ".join(f"w{i}" for i in range(250))
    windows = span_windows(doc)
    assert len(windows) == 9  # starts 0, 30, ..., 240
    assert windows[0].split(" ") == [f"w{i}" for i in range(110)]
    assert windows[1].split(" ")[0] == "w30" and windows[-1].split(" ") == [f"w{i}" for i in range(240, 250)]
    assert span_windows("a  b", span_words=2, stride=1) == ["a ", " b", "b"]  # empty words count, as in the paper


@pytest.mark.parametrize(
    "unit, reason",
    [
        ("   \n ", "empty"),
        ("the dog ran to http://x.org park", "url"),
        ("the dog ran", "too_short"),  # 3 tokens, need more than 5
        ("the dog ran to the zebra park", "oov"),
        ("the dog ran to the big park.", None),
        ("a dog ran to the 22 parks", "oov"),
        ("the dog ran to the 22 park", None),  # 22 -> number
    ],
)
def test_check_unit_reasons(unit, reason):
    assert check_unit(unit, 5, VOCAB) == reason


def test_oov_tolerance():
    unit = "the dog ran to the park and the cat sat on the zebra"  # 13 tokens, 1 OOV
    assert check_unit(unit, 5, VOCAB, 0.0) == "oov"
    assert check_unit(unit, 5, VOCAB, 0.1) is None
    assert check_unit(unit, 5, VOCAB, 0.05) == "oov"


def random_docs(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    pieces = WORDS + [
        "zebra",
        "mr.",
        "e.g.",
        "j.",
        "a.",
        ". ",
        "! ",
        "? ",
        '." ',
        ".) ",
        "\n",
        "\t",
        "  ",
        "-",
        "3",
        "1@,@000",
        "http://x.org/a-b",
        "\u00a0",
        "é",
        "à",
        "…",
        "\u3000",
        "Σ.",
        "(st.",
        "i.e.",
    ]
    return [normalize(" ".join(rng.choice(pieces) for _ in range(rng.randint(0, 60)))) for _ in range(n)]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_batch_filter_matches_the_predicate(seed):
    docs = random_docs(seed, 150)
    settings = FilterSettings(
        sentence_min_tokens=2, span_words=7, span_stride=3, span_min_tokens=3, max_oov_fraction=0.1 * seed
    )
    batch = DocBatch(0, 0, docs, [f"doc {i}" for i in range(len(docs))])
    fast = BatchFilter(VOCAB, settings)(batch)
    slow = reference_filter(batch, VOCAB, settings)
    for unit_pass in settings.passes:
        assert fast.kept[unit_pass] == [u for u, r in slow[unit_pass] if r is None]
        for outcome, (units, words) in fast.counts[unit_pass].items():
            chosen = [u for u, r in slow[unit_pass] if (r or "kept") == outcome]
            assert units == len(chosen) and words == sum(u.count(" ") + 1 for u in chosen)
        assert sum(u for u, _ in fast.counts[unit_pass].values()) == len(slow[unit_pass])


# ---------------------------------------------------------------------------------------------------------
# Grouping and splits
# ---------------------------------------------------------------------------------------------------------


def test_group_units_plus_one_rule():
    # "a b c d e f g " + "h i " -> 10 pieces when split on ' ' (9 words + the trailing empty piece): 10 >= 10
    assert group_units(["a b c", "d e f g", "h i"], max_seq_len=10, tokens_per_word=1.0) == ["a b c d e f g", "h i"]
    # one word fewer fits: 9 pieces < 10
    assert group_units(["a b c", "d e f", "h i"], max_seq_len=10, tokens_per_word=1.0) == ["a b c d e f h i"]


def test_group_units_edges():
    assert group_units([]) == []
    assert group_units(["only one"]) == ["only one"]  # the last sequence is kept
    long = " ".join(["w"] * 200)
    assert group_units([long, "x y"], max_seq_len=128) == [long, "x y"]  # no empty sequence before it
    assert group_units(["x y", long, "z"], max_seq_len=128) == ["x y", long, "z"]
    sequences = group_units([" ".join(["w"] * 20)] * 20)  # paper default: < 128/1.2 pieces per sequence
    assert all(len((s + " ").split(" ")) * 1.2 < 128 for s in sequences[:-1])
    assert sum(s.count("w") for s in sequences) == 400


def test_held_out_sizes():
    assert held_out_size("7", 50) == 7 and held_out_size("0.1", 50) == 5 and held_out_size("0", 50) == 0
    assert held_out_size("auto", 1000) == 50 and held_out_size("auto", 10**7) == 100_000
    assert held_out_size("auto", 10) == 1 and held_out_size("auto", 2) == 0
    for bad in ["x", "-3", "1.5", "2.5e3x"]:
        with pytest.raises(ConfigError):
            held_out_size(bad, 100)
    with pytest.raises(ConfigError, match="validation_size"):
        CorpusConfig(validation_size="lots")


def test_split_sequences_sizes_and_seed():
    seqs = [f"s{i}" for i in range(100)]
    a = split_sequences(seqs, 10, 5, seed=0)
    assert [len(a[s]) for s in ("train", "validation", "test")] == [85, 10, 5]
    assert sorted(a["train"] + a["validation"] + a["test"]) == sorted(seqs)
    assert split_sequences(seqs, 10, 5, seed=0) == a
    assert split_sequences(seqs, 10, 5, seed=1) != a
    with pytest.raises(ConfigError, match="no training data"):
        split_sequences(seqs, 60, 40)
