"""Very long documents go through the filter a window at a time (hf_shrunk.corpus.batch.BatchFilter.window_chars)
with exactly the decisions of the whole document at once, and in bounded memory."""

import random
import subprocess
import sys

import pytest
from test_corpus_filter import VOCAB, WORDS, random_docs

from hf_shrunk.corpus.batch import BatchFilter
from hf_shrunk.corpus.rule import (
    DocBatch,
    FilterSettings,
    iter_sentences,
    iter_spans,
    last_break,
    reference_filter,
    sentence_breaks,
    span_windows,
    split_sentences,
)

SETTINGS = [
    FilterSettings(sentence_min_tokens=2, span_words=7, span_stride=3, span_min_tokens=3),
    FilterSettings(sentence_min_tokens=3, span_words=5, span_stride=9, span_min_tokens=2, max_oov_fraction=0.2),
    FilterSettings(passes=("span",), span_words=4, span_stride=4, span_min_tokens=1, examples_per_reason=50),
]


def long_docs(seed: int) -> list[str]:
    """Documents of 0 to ~6000 characters made of the tricky pieces of ``random_docs`` (abbreviations, quotes,
    non-ASCII whitespace, URLs, numbers), plus sentence-free runs longer than any window below."""
    rng = random.Random(seed)
    short = random_docs(seed, 400)
    docs = [" ".join(short[i : i + rng.randint(1, 40)]) for i in range(0, 400, 20)]
    run = " ".join(rng.choice(WORDS) for _ in range(700))  # one 3000-character sentence
    docs += [run, "the dog. " + run + " zebra " + run + ".\nok", "\n".join([run, "http://x.org " + run]), "", "   "]
    return docs


def assert_same(a, b):
    assert a.kept == b.kept
    assert {p: v.tolist() for p, v in a.kept_docs.items()} == {p: v.tolist() for p, v in b.kept_docs.items()}
    assert {p: dict(sorted(c.items())) for p, c in a.counts.items()} == {
        p: dict(sorted(c.items())) for p, c in b.counts.items()
    }
    assert a.examples == b.examples


@pytest.mark.parametrize("seed", [0, 1])
def test_streamed_units_are_the_units(seed):
    for doc in long_docs(seed) + ["a  b", " ", "x.", "a. \nb"]:
        assert list(iter_sentences(doc)) == split_sentences(doc)
        for span, stride in [(110, 30), (7, 3), (3, 7), (1, 1)]:
            assert list(iter_spans(doc, span, stride)) == span_windows(doc, span, stride)


def test_last_break_is_a_break_of_the_document():
    for doc in long_docs(3):
        breaks = set(sentence_breaks(doc))
        for hi in range(1, len(doc), 97):
            found = last_break(doc, 0, hi)
            inside = [b for b in breaks if b < hi or (b == hi and doc[hi - 1] == "\n")]
            assert found == (max(inside) if inside else None) or (found in breaks and hi in breaks)


@pytest.mark.parametrize("window", [40, 173, 1000])
@pytest.mark.parametrize("settings", SETTINGS, ids=["both", "oov-tolerance", "span-only"])
def test_windowed_filter_decides_like_the_whole_document(window, settings):
    docs = long_docs(window)
    batch = DocBatch(2, 10, docs, [f"doc {i}" for i in range(len(docs))])
    whole = BatchFilter(VOCAB, settings, window_chars=10**9)(batch)  # the old path: every document at once
    windowed = BatchFilter(VOCAB, settings, window_chars=window)(batch)
    assert max(map(len, docs)) > 3 * window
    assert_same(windowed, whole)
    slow = reference_filter(batch, VOCAB, settings)
    for unit_pass in settings.passes:
        assert windowed.kept[unit_pass] == [u for u, r in slow[unit_pass] if r is None]


def test_examples_of_a_long_sentence_match():
    run = " ".join(["the dog ran", "zebra", "yak", "the cat"] * 300 + ["emu"] * 10 + ["gnu"])
    settings = FilterSettings(passes=("sentence",), examples_per_reason=1)
    batch = DocBatch(0, 0, ["the end. " + run + ". next one here now ok"], ["d"])
    whole = BatchFilter(VOCAB, settings, window_chars=10**9)(batch)
    windowed = BatchFilter(VOCAB, settings, window_chars=64)(batch)
    assert_same(windowed, whole)
    assert windowed.examples["oov"][0]["oov_words"] == ["zebra", "yak", "emu", "gnu"]


MEASURE = """
import resource, sys
from hf_shrunk.corpus.batch import BatchFilter
from hf_shrunk.corpus.rule import DocBatch, FilterSettings
words = "the dog ran to park and cat sat on mat a big red ball is my it we see zebra".split()
doc = " ".join(words[i * 7 % len(words)] + ("." if i % 13 == 0 else "") for i in range(int(sys.argv[1])))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
BatchFilter(frozenset(words[:-1]), FilterSettings())(DocBatch(0, 0, [doc], ["d"]))
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024, len(doc) // 2**20)
"""


@pytest.mark.slow
def test_a_long_document_is_filtered_in_bounded_memory():
    """A 20 MB single document: the filter itself grows the process by well under the ~1.1 GB the whole-document
    geometry took (56 bytes per character)."""
    out = subprocess.run([sys.executable, "-c", MEASURE, "5500000"], capture_output=True, text=True, check=True)
    grown_mb, doc_mb = map(int, out.stdout.split())
    assert doc_mb >= 19 and grown_mb < 250, out.stdout


def test_chunked_normalisation_is_normalisation():
    from hf_shrunk.corpus.executors import normalize_long
    from hf_shrunk.vocab import normalize

    rng = random.Random(0)
    pieces = ["ΟΔΟΣ", "Σ", "σΣ ", "e\u0301", "\u0301", "İ", "ﬁ", "ǅ", "Å", "A\u030a", "\u1100\u1161", " ", "\n", "x"]
    for _ in range(200):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 80)))
        for chunk in (1, 3, 7):
            assert normalize_long(text, chunk) == normalize(text), text
