"""Units and predicates of the corpus filter (docs/paper.md#corpus-filter).

A document (normalised: lower-cased + NFC, :func:`hf_shrunk.vocab.normalize`) is cut into *units* by two passes
whose union forms the corpus:

* ``sentence``: :func:`split_sentences`; a sentence is kept if it has more than ``sentence_min_tokens`` (5)
  counted tokens;
* ``span``: :func:`span_windows`, windows of 110 space-separated words every 30 words
  (``doc.split(' ')``, as the paper's ``to_spans``); kept if it has more than ``span_min_tokens`` (40).

:func:`check_unit` is the predicate, datatrove style: ``None`` keeps a unit, otherwise it returns the reason,
tried in this order: ``empty`` (only whitespace), ``url`` (an ``http...`` token), ``too_short`` (too few counted
tokens), ``oov`` (more out-of-vocabulary tokens than ``max_oov_fraction`` allows; 0 = the paper's zero-OOV
rule). ``duplicate`` is decided later, across all sources (build.py).

:class:`hf_shrunk.corpus.batch.BatchFilter` makes the same decisions for whole batches of documents, several
times faster; :func:`reference_filter` applies :func:`check_unit` unit by unit, the definition it is tested against.
"""

from __future__ import annotations

import heapq
import re
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from hf_shrunk.vocab import TOKEN_RE, URL_TOKEN, preprocess

PASSES = ("sentence", "span")
REASONS = ("empty", "url", "too_short", "oov", "duplicate")
KEPT = "kept"
OUTCOMES = (KEPT, *REASONS)

# ----------------------------------------------------------------------------------------------------------
# Units
# ----------------------------------------------------------------------------------------------------------

# A regex approximation of NLTK's Punkt sentence splitter (which the paper used), for lower-cased text: a
# sentence ends at a run of . ! ? (plus closing quotes/brackets) followed by whitespace, unless a "." follows a
# common abbreviation (mr. dr. st. ...), a one-letter initial other than a/i (j. k.) or a dotted abbreviation
# (e.g. u.s.); and at every line break (titles, headings and paragraphs in these sources are lines). Punkt also
# learns abbreviations from the text and treats ellipses more carefully; the span pass covers what this misses.
_END_RE = re.compile(r"""[.!?][.!?]*['"”’)\]]*(?=\s)""")  # [.!?]+ would defeat re's first-character scan
_NEWLINE_RE = re.compile("\n")
_WS_RE = re.compile(r"\s")
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr st jr sr prof rev gen capt lt sgt col vs etc cf al inc ltd corp fig approx dept".split()
)
_INITIALS = frozenset("bcdefghjklmnopqrstuvwxyz")
_OPENERS = "\"'“‘(["


def _no_end_dot(doc: str, dot: int) -> bool:
    """Whether the "." at ``dot`` ends an abbreviation: the whitespace-delimited word before it (at most 9
    characters, opening quotes/brackets removed) is a known abbreviation, a one-letter initial other than
    a/i, or dotted letters (e.g, u.s)."""
    if dot >= 7 and doc[dot - 7 : dot].isalpha():
        return False  # fast path: a word of 7+ letters
    chunk = doc[max(0, dot - 10) : dot]
    parts = chunk.split()
    if not parts or chunk[-1].isspace():
        return False
    if len(parts) == 1 and not chunk[0].isspace() and dot > 10 and not doc[dot - 11].isspace():
        return False  # the word goes on before the chunk
    word = parts[-1].lstrip(_OPENERS)
    if word in _ABBREVIATIONS or (len(word) == 1 and word in _INITIALS):
        return True
    return "." in word and all(len(p) == 1 and p.isalpha() for p in word.split("."))


def sentence_breaks(doc: str) -> list[int]:
    """Offsets in ``doc`` where a sentence ends (always at whitespace); see :func:`split_sentences`."""
    ends = [m.end() for m in _END_RE.finditer(doc) if doc[m.start()] != "." or not _no_end_dot(doc, m.start())]
    if "\n" in doc:
        ends = sorted(ends + [m.end() for m in _NEWLINE_RE.finditer(doc)])
    return ends


def split_sentences(doc: str) -> list[str]:
    """Sentences of a normalised document: the pieces between :func:`sentence_breaks`, stripped, empty ones dropped.

    Args:
        doc (`str`): a normalised document.

    Returns:
        `list[str]`: e.g. ``split_sentences("mr. smith ran. he fell!\\nthe end")`` ->
        ``["mr. smith ran.", "he fell!", "the end"]``.
    """
    bounds = [0, *sentence_breaks(doc), len(doc)]
    return [s for s in (doc[a:b].strip() for a, b in zip(bounds, bounds[1:], strict=False)) if s]


def span_windows(doc: str, span_words: int = 110, stride: int = 30) -> list[str]:
    """The paper's span units: ``words = doc.split(' ')``; ``words[start:start+span_words]`` joined by spaces for
    ``start in range(0, len(words), stride)``. Tail windows are shorter (and usually fail the length rule).

    Args:
        doc (`str`): a normalised document.
        span_words (`int`, defaults to 110): window length in space-separated words.
        stride (`int`, defaults to 30): distance between window starts.

    Returns:
        `list[str]`: the windows, in order.
    """
    words = doc.split(" ")
    return [" ".join(words[start : start + span_words]) for start in range(0, len(words), stride)]


def iter_sentences(doc: str) -> Iterator[str]:
    """:func:`split_sentences` one sentence at a time (the breaks are found lazily, none are stored)."""
    ends = (m.end() for m in _END_RE.finditer(doc) if doc[m.start()] != "." or not _no_end_dot(doc, m.start()))
    lines = (m.end() for m in _NEWLINE_RE.finditer(doc))
    start = 0
    for end in heapq.merge(ends, lines, [len(doc)]):
        sentence = doc[start:end].strip()
        if sentence:
            yield sentence
        start = end


def iter_spans(doc: str, span_words: int = 110, stride: int = 30) -> Iterator[str]:
    """:func:`span_windows` one window at a time: only the start offsets of the next ``max(span_words, stride) + 1``
    words are held, never the document's word list."""
    need = max(span_words, stride)
    starts = deque([0])  # start offsets of the words from the current window's first word on
    space = doc.find(" ")
    while True:
        while len(starts) <= need and space != -1:
            starts.append(space + 1)
            space = doc.find(" ", space + 1)
        yield doc[starts[0] : starts[span_words] - 1 if len(starts) > span_words else len(doc)]
        if len(starts) <= stride:
            return
        for _ in range(stride):
            starts.popleft()


def last_break(doc: str, lo: int, hi: int) -> int | None:
    """The last sentence break in ``(lo, hi]`` found in ``doc[lo:hi]`` (``None`` if there is none), where ``lo`` is 0,
    a break or a whitespace. Only the tail is scanned, from a whitespace on: whether a position is a break depends
    on the characters back to the whitespace before it, so breaks found in a slice that starts at a whitespace (or
    at ``lo``) are breaks of the document. (A break at ``hi`` itself may be missed: its look-ahead is cut off.)"""
    tail = 4096
    while True:
        match = _WS_RE.search(doc, hi - tail, hi) if hi - tail > lo else None
        start = match.start() if match else lo
        breaks = sentence_breaks(doc[start:hi])
        if breaks or start == lo:
            return start + breaks[-1] if breaks else None
        tail *= 4


def whitespace_cut(doc: str, lo: int, hi: int) -> int:
    """A whitespace position in ``(lo, hi)`` as late as possible, else the first one from ``hi`` on, else
    ``len(doc)``: cutting there splits no whitespace-free run (atom)."""
    if hi >= len(doc):
        return len(doc)
    match = _WS_RE.search(doc[lo + 1 : hi][::-1])
    if match:
        return hi - 1 - match.start()
    match = _WS_RE.search(doc, hi)
    return match.start() if match else len(doc)


@dataclass(frozen=True)
class FilterSettings:
    """The knobs of the unit rule (a subset of ``CorpusConfig``)."""

    passes: tuple[str, ...] = PASSES
    sentence_min_tokens: int = 5
    span_words: int = 110
    span_stride: int = 30
    span_min_tokens: int = 40
    max_oov_fraction: float = 0.0
    examples_per_reason: int = 3

    @classmethod
    def from_config(cls, cfg: Any) -> FilterSettings:
        return cls(
            passes=tuple(p for p in PASSES if p in cfg.passes),
            sentence_min_tokens=cfg.sentence_min_tokens,
            span_words=cfg.span_words,
            span_stride=cfg.span_stride,
            span_min_tokens=cfg.span_min_tokens,
            max_oov_fraction=cfg.max_oov_fraction,
            examples_per_reason=cfg.examples_per_reason,
        )

    def min_tokens(self, unit_pass: str) -> int:
        return self.sentence_min_tokens if unit_pass == "sentence" else self.span_min_tokens

    def units(self, doc: str, unit_pass: str) -> list[str]:
        if unit_pass == "sentence":
            return split_sentences(doc)
        return span_windows(doc, self.span_words, self.span_stride)

    def iter_units(self, doc: str, unit_pass: str) -> Iterator[str]:
        """:meth:`units` one at a time (bounded memory for very long documents)."""
        if unit_pass == "sentence":
            return iter_sentences(doc)
        return iter_spans(doc, self.span_words, self.span_stride)


def check_unit(text: str, min_tokens: int, vocab: frozenset[str], max_oov_fraction: float = 0.0) -> str | None:
    """The unit predicate: ``None`` keeps ``text``, otherwise the drop reason.

    Args:
        text (`str`): a normalised unit.
        min_tokens (`int`): the unit needs more than this many counted tokens.
        vocab (`frozenset[str]`): the vocabulary words.
        max_oov_fraction (`float`, defaults to 0.0): tolerated share of OOV tokens (0 = the paper's rule).

    Returns:
        `str | None`: ``None``, ``"empty"``, ``"url"``, ``"too_short"`` or ``"oov"``.
    """
    if not text.strip():
        return "empty"
    tokens = TOKEN_RE.findall(preprocess(text))
    if URL_TOKEN in tokens:
        return "url"
    if len(tokens) <= min_tokens:
        return "too_short"
    n_oov = len(tokens) - sum(map(vocab.__contains__, tokens))
    if n_oov > max_oov_fraction * len(tokens):
        return "oov"
    return None


@dataclass
class DocBatch:
    """Consecutive documents of one source: ``texts[i]`` is document number ``first_doc + i``."""

    source_idx: int
    first_doc: int
    texts: list[str]
    locations: list[str]


@dataclass
class BatchResult:
    """Kept units per pass (in document order), the document number of each kept unit (``kept_docs``, numpy
    int64 arrays: ``--split_by document``), counts per pass and outcome, and a few dropped examples."""

    source_idx: int
    kept: dict[str, list[str]] = field(default_factory=dict)
    kept_docs: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def reference_filter(
    batch: DocBatch, vocab: frozenset[str], settings: FilterSettings
) -> dict[str, list[tuple[str, str | None]]]:
    """Unit-by-unit :func:`check_unit` over a batch (slow; the definition :class:`BatchFilter` must match).

    Returns:
        `dict[str, list[tuple[str, str | None]]]`: per pass, ``(unit, reason)`` in document order.
    """
    out: dict[str, list[tuple[str, str | None]]] = {}
    for unit_pass in settings.passes:
        min_tokens = settings.min_tokens(unit_pass)
        out[unit_pass] = [
            (u, check_unit(u, min_tokens, vocab, settings.max_oov_fraction))
            for doc in batch.texts
            for u in settings.units(doc, unit_pass)
        ]
    return out


def merge_examples(into: dict[str, list[dict]], new: dict[str, list[dict]], k: int) -> None:
    """Keep, per reason, the ``k`` examples that come first in corpus order (their ``key``), whatever the batching."""
    for reason, items in new.items():
        merged = sorted(into.get(reason, []) + items, key=lambda e: e["key"])
        into[reason] = merged[:k]


def words_of(units: Sequence[str]) -> int:
    """Words as the paper's span and grouping rules count them: space-separated pieces."""
    return sum(u.count(" ") + 1 for u in units)
