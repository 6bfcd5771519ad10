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
from itertools import compress, repeat
from operator import is_

from hf_shrunk.corpus.rule import (
    _ABBREVIATIONS,
    _INITIALS,
    OUTCOMES,
    REASONS,
    BatchResult,
    DocBatch,
    FilterSettings,
    _no_end_dot,
)
from hf_shrunk.vocab import TOKEN_RE, URL_TOKEN, oov_check, preprocess

_OOV, _IN, _MARK, _URL = 0, 1, 2, 3
_ITEM_RE = re.compile(TOKEN_RE.pattern + "| ")  # counted tokens, and the spaces that separate atoms
_CODE = {name: i for i, name in enumerate(OUTCOMES)}
_CLOSERS = [ord(c) for c in "'\"”’)]"]  # may follow a sentence's final punctuation (rule._END_RE)
_PUNCT = [ord(c) for c in ".!?"]
_HASH = 131


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


class BatchFilter:
    """Applies the unit rule to a :class:`~hf_shrunk.corpus.rule.DocBatch` of normalised documents."""

    def __init__(self, vocab: frozenset[str], settings: FilterSettings):
        import numpy as np

        self.np = np
        self.vocab = vocab
        self.settings = settings
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
        np = self.np
        text = " ".join(batch.texts)
        t = _Text(self, text)
        doc_len = np.fromiter(map(len, batch.texts), np.int64, len(batch.texts))
        doc_start = np.concatenate([[0], np.cumsum(doc_len + 1)[:-1]])
        result = BatchResult(batch.source_idx)
        for pass_idx, unit_pass in enumerate(self.settings.passes):
            doc_of, lo, hi, reasons, n_words = self._units(unit_pass, t, doc_start, doc_len)
            result.kept[unit_pass] = [text[lo[i] : hi[i]] for i in np.flatnonzero(reasons == 0).tolist()]
            units_per = np.bincount(reasons, minlength=len(OUTCOMES))
            words_per = np.bincount(reasons, weights=n_words, minlength=len(OUTCOMES))
            result.counts[unit_pass] = {
                name: [int(units_per[i]), int(words_per[i])] for i, name in enumerate(OUTCOMES) if units_per[i]
            }
            within = np.arange(len(doc_of)) - np.searchsorted(doc_of, doc_of)  # unit number inside its document
            for reason in REASONS[:-1]:  # duplicates are found later, across sources
                for i in np.flatnonzero(reasons == _CODE[reason])[: self.settings.examples_per_reason].tolist():
                    unit = text[lo[i] : hi[i]]
                    example = {
                        "key": [batch.source_idx, pass_idx, batch.first_doc + int(doc_of[i]), int(within[i])],
                        "pass": unit_pass,
                        "location": batch.locations[doc_of[i]],
                        "text": unit[:400],
                    }
                    if reason == "oov":
                        example["oov_words"] = oov_check(unit, self.vocab)[2]
                    result.examples.setdefault(reason, []).append(example)
        return result
