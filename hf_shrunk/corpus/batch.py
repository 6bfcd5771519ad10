"""The fast, batched form of the corpus rule: the decisions of :func:`hf_shrunk.corpus.rule.check_unit` on the
units of :func:`~hf_shrunk.corpus.rule.split_sentences` and :func:`~hf_shrunk.corpus.rule.span_windows`,
computed for a whole batch of documents at once (tests compare them unit by unit; the benchmark too).

Why it can be batched: the rule never looks across whitespace (``-``, numbers and URLs are rewritten inside
whitespace-free runs; tokens contain none), so the counts of any unit are the sums of the counts of its
whitespace-free runs ("atoms", what ``str.split()`` returns). For the batch text ``" ".join(docs)`` we find, in
numpy over its code points: the atoms, the spaces (which delimit the paper's span words) and the sentence breaks.
pyarrow's ``dictionary_encode`` deduplicates the atoms straight from their UTF-8 bytes; each distinct atom is
counted once (memoised across batches in :class:`WordCounter`); a unit's counts are then a difference of prefix
sums over atoms. Python touches only distinct atoms, kept units and possible abbreviations.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import compress, repeat
from operator import is_
from typing import Any

from hf_shrunk.corpus.rule import (
    _ABBREVIATIONS,
    _INITIALS,
    OUTCOMES,
    REASONS,
    BatchResult,
    DocBatch,
    FilterSettings,
    _no_end_dot,
    last_break,
    whitespace_cut,
)
from hf_shrunk.vocab import TOKEN_RE, URL_TOKEN, oov_check, preprocess

_OOV, _IN, _MARK, _URL = 0, 1, 2, 3
_ITEM_RE = re.compile(TOKEN_RE.pattern + "| ")  # counted tokens, and the spaces that separate atoms
_CODE = {name: i for i, name in enumerate(OUTCOMES)}
_CLOSERS = [ord(c) for c in "'\"”’)]"]  # may follow a sentence's final punctuation (rule._END_RE)
_PUNCT = [ord(c) for c in ".!?"]
_HASH = 131
# A document longer than this is filtered a window of about this many characters at a time (the geometry of a
# window takes ~60 bytes per character; a 100 MB document at once took 5.6 GB).
WINDOW_CHARS = 1_000_000


def _reverse_hash(chars: str) -> int:
    return sum(ord(c) * _HASH**k for k, c in enumerate(reversed(chars))) % 2**64


class WordCounter:
    """Counted tokens, OOV tokens and URL tokens of whitespace-free atoms, each distinct atom computed once.

    Unknown atoms are counted in bulk: joined by spaces, preprocessed and tokenised in one regex pass in
    which the spaces are also matched, so that each token is attributed to its atom by counting spaces.
    """

    def __init__(self, vocab: frozenset[str], max_cache: int = 2_000_000):
        import numpy as np

        self._np = np
        self._lookup = dict.fromkeys(vocab, _IN)
        self._lookup[" "] = _MARK
        self._lookup[URL_TOKEN] = _URL
        self.max_cache = max_cache
        self._reset()

    def _reset(self) -> None:
        self._ids: dict[str, int] = {}
        self._counts = self._np.zeros((3, 4096), dtype=self._np.int64)

    def _add(self, words: list[str]) -> None:
        np = self._np
        items = _ITEM_RE.findall(preprocess(" ".join(words)))
        codes = np.fromiter(map(self._lookup.get, items, repeat(_OOV)), dtype=np.int8, count=len(items))
        mark = codes == _MARK
        seg = np.cumsum(mark)
        n = len(words)
        counts = [
            np.bincount(seg[~mark], minlength=n),
            np.bincount(seg[codes == _OOV], minlength=n),
            np.bincount(seg[codes == _URL], minlength=n),
        ]
        start = len(self._ids)
        if start + n > self._counts.shape[1]:
            grown = np.zeros((3, max(2 * self._counts.shape[1], start + n)), dtype=np.int64)
            grown[:, :start] = self._counts[:, :start]
            self._counts = grown
        self._counts[:, start : start + n] = np.stack(counts)
        self._ids.update(zip(words, range(start, start + n), strict=True))

    def counts(self, words: list[str]):
        """``(3, len(words))`` int64 array: counted tokens, OOV tokens, URL tokens of each (distinct) word."""
        ids = list(map(self._ids.get, words))
        if None in ids:
            missing = list(compress(words, map(is_, ids, repeat(None))))
            if len(self._ids) + len(missing) > self.max_cache:
                self._reset()
                missing = words
            self._add(missing)
            ids = list(map(self._ids.__getitem__, words))
        return self._counts[:, self._np.array(ids, dtype=self._np.int64)]


class _Text:
    """The batch text's geometry (atoms, spaces, sentence breaks) and prefix sums of its atoms' counts."""

    def __init__(self, flt: BatchFilter, text: str):
        import pyarrow as pa
        import pyarrow.compute as pc

        np = flt.np
        self.n = n = len(text)
        cp = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        utf8 = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
        ascii_only = len(utf8) == n
        ws = flt.whitespace[utf8 if ascii_only else np.minimum(cp, 255)]
        if not ascii_only:
            wide = np.flatnonzero(cp > 255)
            ws[wide] = flt.whitespace[np.minimum(cp[wide], flt.whitespace.size - 1)]
        starts, ends = ~ws, ~ws
        starts[1:] &= ws[:-1]
        ends[:-1] &= ws[1:]
        self.atom_start, self.atom_end = np.flatnonzero(starts), np.flatnonzero(ends) + 1
        self.atoms_before = np.concatenate([[0], np.cumsum(starts)])  # atoms starting before each position
        space = cp == 32
        self.spaces_before = np.concatenate([[0], np.cumsum(space)])
        self.word_start = np.concatenate([[0], np.flatnonzero(space) + 1, [n + 1]])  # span word k starts here
        # The atoms' UTF-8 bytes back to back -> an Arrow string array -> distinct atoms (C++ hashing).
        if ascii_only:
            data, lengths = utf8[~ws], self.atom_end - self.atom_start
        else:
            multi = np.flatnonzero(cp >= 0x80)  # the only characters with more than one UTF-8 byte
            extra = np.concatenate(
                [[0], np.cumsum(1 + (cp[multi] >= 0x800).astype(np.int64) + (cp[multi] >= 0x10000))]
            )
            lengths = (
                self.atom_end
                - self.atom_start
                + extra[np.searchsorted(multi, self.atom_end)]
                - extra[np.searchsorted(multi, self.atom_start)]
            )
            if ws[multi].any():  # non-ASCII whitespace (NBSP, ...): expand the character mask to bytes
                n_bytes = (
                    1 + (cp >= 0x80).view(np.uint8) + (cp >= 0x800).view(np.uint8) + (cp >= 0x10000).view(np.uint8)
                )
                data = utf8[~np.repeat(ws, n_bytes)]
            else:  # bytes >= 0x80 then always belong to atoms
                data = utf8[~flt.ascii_whitespace[utf8]]
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
        atoms = pa.StringArray.from_buffers(len(self.atom_start), pa.py_buffer(offsets), pa.py_buffer(data))
        encoded = pc.dictionary_encode(atoms)
        counts = flt.counter.counts(encoded.dictionary.to_pylist())[:, encoded.indices.to_numpy()]
        self.prefix = np.zeros((3, len(self.atom_start) + 1), dtype=np.int64)
        np.cumsum(counts, axis=1, out=self.prefix[:, 1:])
        self.breaks = self._sentence_breaks(flt, text, cp, ws)

    @staticmethod
    def _sentence_breaks(flt: BatchFilter, text: str, cp, ws):
        """:func:`~hf_shrunk.corpus.rule.sentence_breaks`, in numpy: a whitespace after a run of . ! ? and
        closing quotes/brackets, unless the run starts with "." after an abbreviation; and after every line break."""
        np = flt.np
        end = np.flatnonzero(ws[1:]) + 1  # candidate breaks: whitespace with a character before it
        last = end - 1
        closer = np.zeros(len(last), dtype=bool)
        for c in _CLOSERS:
            closer |= cp[last] == c
        while closer.any():  # step back over closing quotes/brackets (few, so loop over the few)
            last[closer] -= 1
            closer[closer] = last[closer] >= 0
            still = np.flatnonzero(closer)
            hit = np.zeros(len(still), dtype=bool)
            for c in _CLOSERS:
                hit |= cp[last[still]] == c
            closer[still] = hit
        is_punct = (last >= 0) & np.isin(cp[np.maximum(last, 0)], _PUNCT)
        end, dot = end[is_punct], last[is_punct]
        back = (dot > 0) & np.isin(cp[np.maximum(dot - 1, 0)], _PUNCT)
        while back.any():  # step back to the first character of the run of . ! ?
            dot[back] -= 1
            back[back] = (dot[back] > 0) & np.isin(cp[np.maximum(dot[back] - 1, 0)], _PUNCT)
        check = (cp[dot] == 46) & ~((dot > 0) & ws[np.maximum(dot - 1, 0)])  # a "." right after a word
        letters = np.zeros(len(dot), dtype=np.int64)  # letters right before the dot, up to 7
        hashes = np.zeros(len(dot), dtype=np.uint64)
        for back in range(1, 8):
            c = cp[np.maximum(dot - back, 0)]
            more = (letters == back - 1) & (dot - back >= 0) & flt.alpha[np.minimum(c, flt.alpha.size - 1)]
            hashes[more] += c[more].astype(np.uint64) * np.uint64(_HASH ** (back - 1) % 2**64)
            letters[more] = back
        bare = (dot - letters == 0) | ws[np.maximum(dot - letters - 1, 0)]  # the letters are the whole word
        check &= letters < 7
        one = check & bare & (letters == 1)  # one-letter word: an initial unless a or i
        check &= ~(bare & (letters >= 2) & ~np.isin(hashes, flt.abbreviation_hashes))
        blocked = one & np.isin(cp[np.maximum(dot - 1, 0)], [ord(c) for c in _INITIALS])
        for i in np.flatnonzero(check & ~one).tolist():
            blocked[i] = _no_end_dot(text, int(dot[i]))
        return np.union1d(end[~blocked], np.flatnonzero(cp == 10) + 1)


@dataclass
class _Piece:
    """Texts filtered together for ``passes`` (``(pass index, pass)`` pairs): text ``i`` is (part of) document
    ``numbers[i]`` at ``locations[i]``; for a piece of one long document, its units are numbered from ``offset``
    and only its first ``take`` units count (-1: all)."""

    passes: tuple[tuple[int, str], ...]
    texts: list[str]
    numbers: Sequence[int]
    locations: list[str]
    offset: int = 0
    take: int = -1


class BatchFilter:
    """Applies the unit rule to a :class:`~hf_shrunk.corpus.rule.DocBatch` of normalised documents."""

    def __init__(self, vocab: frozenset[str], settings: FilterSettings, window_chars: int = WINDOW_CHARS):
        import numpy as np

        self.np = np
        self.vocab = vocab
        self.settings = settings
        self.window_chars = window_chars
        self.counter = WordCounter(vocab)
        self.whitespace = np.array([chr(c).isspace() for c in range(0x3002)])  # U+3000 is the last one
        self.ascii_whitespace = np.array([c < 128 and chr(c).isspace() for c in range(256)])
        self.alpha = np.array([chr(c).isalpha() for c in range(0x10000)])  # beyond the BMP: decided in Python
        self.abbreviation_hashes = np.array([_reverse_hash(a) for a in _ABBREVIATIONS], dtype=np.uint64)

    def _reasons(self, counts, min_tokens: int):
        tok, oov, url = counts
        reasons = self.np.zeros(tok.shape[0], dtype=self.np.int8)  # 0 = kept
        reasons[oov > self.settings.max_oov_fraction * tok] = _CODE["oov"]
        reasons[tok <= min_tokens] = _CODE["too_short"]
        reasons[url > 0] = _CODE["url"]
        return reasons

    def _units(self, unit_pass: str, t: _Text, doc_start, doc_len):
        """Character ranges ``[lo, hi)`` of the units of one pass, their document, reason and word count."""
        np = self.np
        if unit_pass == "sentence":
            # Breaks found in the batch text are the per-document ones (the rule never looks across the
            # joining space); document boundaries are breaks too.
            cuts = np.unique(np.concatenate([t.breaks, doc_start, doc_start + doc_len]))
            a0, a1 = t.atoms_before[cuts[:-1]], t.atoms_before[cuts[1:]]
            keep = a1 > a0  # whitespace between breaks is no unit
            a0, a1 = a0[keep], a1[keep]
            lo, hi = t.atom_start[a0], t.atom_end[a1 - 1]
            doc_of = np.searchsorted(doc_start, lo, side="right") - 1
            n_words = t.spaces_before[hi] - t.spaces_before[lo] + 1
            min_tokens = self.settings.sentence_min_tokens
        else:
            span, stride = self.settings.span_words, self.settings.span_stride
            doc_words = t.spaces_before[doc_start + doc_len] - t.spaces_before[doc_start] + 1
            n_windows = (doc_words + stride - 1) // stride
            doc_of = np.repeat(np.arange(len(doc_start)), n_windows)
            local = (np.arange(len(doc_of)) - np.concatenate([[0], np.cumsum(n_windows)[:-1]])[doc_of]) * stride
            word0 = t.spaces_before[doc_start][doc_of] + local  # global index of the window's first word
            word1 = word0 - local + np.minimum(local + span, doc_words[doc_of])
            lo, hi = t.word_start[word0], t.word_start[word1] - 1
            a0, a1 = t.atoms_before[lo], t.atoms_before[hi]
            n_words = word1 - word0
            min_tokens = self.settings.span_min_tokens
        reasons = self._reasons(t.prefix[:, a1] - t.prefix[:, a0], min_tokens)
        reasons[a1 == a0] = _CODE["empty"]
        return doc_of, lo, hi, reasons, n_words

    def __call__(self, batch: DocBatch) -> BatchResult:
        """Kept units, counts and examples of every pass over ``batch``. Runs of ordinary documents are filtered
        together; a document longer than ``window_chars`` is filtered a window at a time (:meth:`_long_document`)."""
        np = self.np
        passes = tuple(enumerate(self.settings.passes))
        result = BatchResult(batch.source_idx)
        result.kept = {p: [] for p in self.settings.passes}
        result.counts = {p: {} for p in self.settings.passes}
        docs: dict[str, list] = {p: [] for p in self.settings.passes}
        start, n = 0, len(batch.texts)
        for i in range(n + 1):
            if i < n and len(batch.texts[i]) <= self.window_chars:
                continue
            if i > start or n == 0:
                first = batch.first_doc + start
                piece = _Piece(passes, batch.texts[start:i], range(first, first + i - start), batch.locations[start:i])
                self._apply(piece, result, docs)
            if i < n:
                self._long_document(result, docs, batch.texts[i], batch.first_doc + i, batch.locations[i])
            start = i + 1
        result.kept_docs = {
            p: np.concatenate(arrays) if arrays else np.zeros(0, np.int64) for p, arrays in docs.items()
        }
        return result

    def _apply(self, piece: _Piece, result: BatchResult, docs: dict[str, list]) -> int:
        """Filter the texts of ``piece`` (joined by spaces) into ``result``; returns the number of units of its
        last pass (for a window of a long document: the units that window contributes)."""
        np = self.np
        text = " ".join(piece.texts)
        t = _Text(self, text)
        doc_len = np.fromiter(map(len, piece.texts), np.int64, len(piece.texts))
        doc_start = np.concatenate([[0], np.cumsum(doc_len + 1)[:-1]])
        numbers = np.asarray(piece.numbers, dtype=np.int64)
        n_units = 0
        for pass_idx, unit_pass in piece.passes:
            units = self._units(unit_pass, t, doc_start, doc_len)
            within = np.arange(len(units[0])) - np.searchsorted(units[0], units[0])  # unit number inside its document
            if piece.take >= 0:  # the windows after the first `take` are the next piece's
                units, within = [a[within < piece.take] for a in units], within[within < piece.take]
            doc_of, lo, hi, reasons, n_words = units
            n_units = len(doc_of)
            kept = np.flatnonzero(reasons == 0)
            result.kept[unit_pass] += [text[lo[i] : hi[i]] for i in kept.tolist()]
            docs[unit_pass].append(numbers[doc_of[kept]])
            units_per = np.bincount(reasons, minlength=len(OUTCOMES))
            words_per = np.bincount(reasons, weights=n_words, minlength=len(OUTCOMES))
            counts = result.counts[unit_pass]
            for i in np.flatnonzero(units_per).tolist():
                slot = counts.setdefault(OUTCOMES[i], [0, 0])
                slot[0], slot[1] = slot[0] + int(units_per[i]), slot[1] + int(words_per[i])
            for reason in REASONS[:-1]:  # duplicates are found later, across sources
                for i in np.flatnonzero(reasons == _CODE[reason])[: self._room(result, reason, pass_idx)].tolist():
                    unit = text[lo[i] : hi[i]]
                    key = [result.source_idx, pass_idx, int(numbers[doc_of[i]]), piece.offset + int(within[i])]
                    self._example(result, reason, key, unit_pass, piece.locations[doc_of[i]], unit[:400], unit)
        return n_units

    def _room(self, result: BatchResult, reason: str, pass_idx: int) -> int:
        """How many more examples of ``reason`` in this pass the batch keeps (the first ones, in corpus order)."""
        taken = sum(e["key"][1] == pass_idx for e in result.examples.get(reason, []))
        return max(0, self.settings.examples_per_reason - taken)

    def _example(self, result, reason, key, unit_pass, location, text, unit=None, oov_words=None) -> None:
        example = {"key": key, "pass": unit_pass, "location": location, "text": text}
        if reason == "oov":
            example["oov_words"] = oov_words if unit is None else oov_check(unit, self.vocab)[2]
        result.examples.setdefault(reason, []).append(example)

    # ------------------------------------------------------------------------------------------------------
    # Documents longer than the window
    # ------------------------------------------------------------------------------------------------------

    def _long_document(self, result: BatchResult, docs: dict[str, list], doc: str, number: int, where: str) -> None:
        """Filter one document longer than ``window_chars`` a piece at a time: the sentence pass over pieces cut at
        sentence breaks (a longer sentence is counted chunk by chunk), the span pass over pieces cut at word
        starts with the overlap the windows need. Same units, decisions, counts and examples as the whole
        document at once, in memory bounded by the window (plus the kept units themselves)."""
        for pass_idx, unit_pass in enumerate(self.settings.passes):
            offset = 0  # units of this document before the current piece
            pieces = self._span_pieces(doc) if unit_pass == "span" else self._sentence_pieces(doc)
            for text, take, long_unit in pieces:
                if text is None:
                    offset += self._long_sentence_unit(result, docs, doc, long_unit, (number, where, offset))
                else:
                    piece = _Piece(((pass_idx, unit_pass),), [text], [number], [where], offset, take)
                    offset += self._apply(piece, result, docs)

    def _sentence_pieces(self, doc: str) -> Iterator[tuple[str | None, int, Any]]:
        """``(piece, -1, None)`` for pieces of ``doc`` cut at sentence breaks, each at most ``window_chars`` long,
        and ``(None, -1, unit)`` for a sentence longer than that (see :meth:`_long_sentence`)."""
        start, window = 0, self.window_chars
        while len(doc) - start > window:
            cut = last_break(doc, start, start + window)
            if cut is None:
                start, unit = self._long_sentence(doc, start)
                yield None, -1, unit
            else:
                yield doc[start:cut], -1, None
                start = cut
        yield doc[start:], -1, None

    def _long_sentence(self, doc: str, start: int) -> tuple[int, Any]:
        """The sentence from ``start`` (0 or a break) when it is longer than the window: its end (the next break,
        or the end of ``doc``) and ``(lo, hi, counts)`` (``None`` if it is only whitespace), counted over chunks
        that end just after a whitespace, so that no atom is cut and the counts add up."""
        np = self.np
        totals, lo, hi, a = np.zeros(3, np.int64), None, None, start
        while True:
            c = whitespace_cut(doc, a, a + self.window_chars)
            t = _Text(self, doc[a : c + 1])
            stops = t.breaks[t.breaks > 0]
            stop = int(stops[0]) if len(stops) else t.n
            k = int(t.atoms_before[stop])
            totals += t.prefix[:, k]
            if k:
                lo = a + int(t.atom_start[0]) if lo is None else lo
                hi = a + int(t.atom_end[k - 1])
            if len(stops) or c >= len(doc):
                return a + stop, None if lo is None else (lo, hi, totals.tolist())
            a = c + 1

    def _long_sentence_unit(self, result: BatchResult, docs: dict[str, list], doc: str, unit: Any, at: tuple) -> int:
        """Record the outcome of a sentence from :meth:`_long_sentence`; returns the number of units (0 or 1)."""
        if unit is None:
            return 0
        (lo, hi, (tok, oov, url)), (number, where, offset) = unit, at
        s = self.settings
        reason = "url" if url else "too_short" if tok <= s.sentence_min_tokens else "oov"
        reason = "kept" if reason == "oov" and oov <= s.max_oov_fraction * tok else reason
        slot = result.counts["sentence"].setdefault(reason, [0, 0])
        slot[0], slot[1] = slot[0] + 1, slot[1] + doc.count(" ", lo, hi) + 1
        pass_idx = s.passes.index("sentence")
        if reason == "kept":
            result.kept["sentence"].append(doc[lo:hi])
            docs["sentence"].append(self.np.array([number], dtype=self.np.int64))
        elif self._room(result, reason, pass_idx):
            oov_words = self._first_oov_words(doc, lo, hi) if reason == "oov" else None
            key = [result.source_idx, pass_idx, number, offset]
            self._example(result, reason, key, "sentence", where, doc[lo : min(hi, lo + 400)], oov_words=oov_words)
        return 1

    def _first_oov_words(self, doc: str, lo: int, hi: int, k: int = 5) -> list[str]:
        """``oov_check(doc[lo:hi], vocab)[2]`` (the first ``k`` distinct OOV words), a chunk at a time."""
        words: dict[str, None] = {}
        while lo < hi and len(words) < k:
            cut = min(hi, whitespace_cut(doc, lo, lo + self.window_chars))
            words.update(dict.fromkeys(w for w in oov_check(doc[lo:cut], self.vocab, k)[2] if w not in words))
            lo = cut
        return list(words)[:k]

    def _span_pieces(self, doc: str) -> Iterator[tuple[str, int, None]]:
        """``(piece, take, None)``: pieces of ``doc`` that start at a window's first word and end with the last word
        of their ``take``-th window (-1: the rest of the document, all windows), so that the first ``take`` span
        windows of each piece are the document's windows, in order."""
        np = self.np
        span, stride = self.settings.span_words, self.settings.span_stride
        start, window = 0, self.window_chars
        while len(doc) - start > window:
            spaces = np.flatnonzero(np.frombuffer(doc[start : start + window].encode("utf-32-le"), np.uint32) == 32)
            take = min((len(spaces) - span) // stride + 1, len(spaces) // stride)
            if take < 1:  # fewer words than one window in `window` characters: widen it
                window *= 2
                continue
            yield doc[start : start + int(spaces[(take - 1) * stride + span - 1])], take, None
            start, window = start + int(spaces[take * stride - 1]) + 1, self.window_chars
        yield doc[start:], -1, None
