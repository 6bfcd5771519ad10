"""Held-out text against train in the corpus stage (beyond the paper; docs/paper.md#differences): the contamination
report (how much held-out text also occurs in the training split) and ``--split_by document``
(:func:`split_by_document`: held-out text never shares a source document with train).

The paper's corpus invites overlap: the span pass cuts windows of 110 words every 30 words, so one sentence sits in
several windows and in the sentence pass too, and the shuffle that holds out validation and test works on grouped
sequences, not documents. Nothing in the paper checked pretraining text against the GLUE dev sets either (QNLI
comes from Wikipedia, a corpus source). This module measures both:

* **words**: runs of word characters (``\\w+``) of the lower-cased text; punctuation is ignored;
* **n-grams**: every run of ``n`` consecutive words inside one sequence (or GLUE example: its text fields joined
  by a space), ``n = 13`` by default (``--contamination_ngram``; 13 as in GPT-3's contamination study). A text of
  fewer than ``n`` words has no n-gram and cannot be counted as contaminated (most CoLA and SST-2 sentences);
* **hashed**: each word is a 64-bit BLAKE2b hash, each n-gram a polynomial of those modulo 2^64 (collisions are
  negligible at these sizes);
* **bounded memory**: only the held-out side's n-grams are kept (a sorted numpy array); train is streamed in
  chunks of sequences and each chunk's n-grams are looked up in it.

Reported per held-out group (``validation``, ``test``, ``glue/<task>``): sequences, those with at least one n-gram,
those sharing at least one n-gram with train (and their fraction), n-grams in all and found in train, sequences
whose every n-gram is in train, and a few examples (the most contaminated first) with a shared n-gram and the start
of a training sequence that contains it.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Sequence
from typing import Any

from hf_shrunk.config import ConfigError

logger = logging.getLogger(__name__)

NGRAM = 13
_WORD_RE = re.compile(r"\w+|\x00")  # words, and the NUL that separates texts
_PRIME = 0x100000001B3  # the FNV-64 prime: any odd multiplier works
TRAIN_CHUNK = 50_000  # training sequences hashed at a time
DEFINITION = (
    "n-gram = n consecutive words (runs of \\w+ of the lower-cased text) inside one sequence or GLUE example (its "
    "text fields joined by a space), hashed to 64 bits; a held-out text overlaps train if one of its n-grams occurs "
    "in a training sequence"
)


class NgramHasher:
    """Hashes of the word n-grams of texts; one word table shared by all calls, so equal n-grams hash equally."""

    def __init__(self, n: int = NGRAM):
        import numpy as np

        self.np = np
        self.n = n
        self.ids: dict[str, int] = {"\x00": 0}

    def _word_ids(self, tokens: list[str]):
        np = self.np
        missing = set(tokens).difference(self.ids)
        for word in missing:  # odd, so never the separator's 0
            self.ids[word] = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little") | 1
        return np.fromiter(map(self.ids.__getitem__, tokens), dtype=np.uint64, count=len(tokens))

    def __call__(self, texts: Sequence[str]):
        """``(hashes, owner, position)``: each n-gram's hash, the index of its text in ``texts`` and the index of its
        first word in that text (numpy arrays)."""
        np = self.np
        joined = "\x00".join(texts)
        if joined.count("\x00") != len(texts) - 1:  # a text with NUL in it: its NULs become spaces
            joined = "\x00".join(t.replace("\x00", " ") for t in texts)
        ids = self._word_ids(_WORD_RE.findall(joined.lower()))
        separator = ids == 0
        text_of = np.cumsum(separator)  # separators before each token = the token's text
        starts = np.concatenate([[0], np.flatnonzero(separator) + 1])
        count = len(ids) - self.n + 1
        if count <= 0 or not texts:
            empty = np.zeros(0, dtype=np.int64)
            return np.zeros(0, dtype=np.uint64), empty, empty
        hashes = np.zeros(count, dtype=np.uint64)
        prime = np.uint64(_PRIME)
        for k in range(self.n):
            hashes = hashes * prime + ids[k : k + count]
        crossing = np.concatenate([[0], np.cumsum(separator)])
        inside = crossing[self.n : self.n + count] == crossing[:count]  # no separator among the n words
        owner = text_of[:count][inside]
        position = np.flatnonzero(inside) - starts[owner]
        return hashes[inside], owner.astype(np.int64), position.astype(np.int64)


def _scan_train(train: Sequence[str], hasher: NgramHasher, table, chunk: int) -> tuple[Any, int]:
    """For each held-out n-gram of ``table`` (sorted, unique) the index of a training sequence that contains it
    (-1: none), and the number of training n-grams; train is hashed ``chunk`` sequences at a time."""
    np = hasher.np
    found = np.full(len(table), -1, dtype=np.int64)
    total = 0
    for offset in range(0, len(train), chunk):
        hashes, owner, _ = hasher(train[offset : offset + chunk])
        total += len(hashes)
        if not len(table) or not len(hashes):
            continue
        index = np.minimum(np.searchsorted(table, hashes), len(table) - 1)
        match = table[index] == hashes
        where, first = index[match], owner[match] + offset
        new = found[where] < 0
        found[where[new]] = first[new]
    return found, total


def _examples(texts, train, hashed, in_train, order, n: int, k: int) -> list[dict[str, Any]]:
    """The first ``k`` texts of ``order`` that overlap train: a shared n-gram and a training sequence with it."""
    _, owner, position = hashed
    out = []
    for i in order[:k].tolist():
        hits = (owner == i) & (in_train >= 0)
        first = int(hits.argmax())
        words = [w for w in _WORD_RE.findall(texts[i].lower()) if w != "\x00"]
        j = int(in_train[first])
        out.append(
            {
                "index": i,
                "shared_ngrams": int(hits.sum()),
                "ngrams": int((owner == i).sum()),
                "ngram": " ".join(words[position[first] : position[first] + n]),
                "text": texts[i][:300],
                "train_index": j,
                "train_text": train[j][:300],
            }
        )
    return out


def _group_report(texts, train, hashed, table, found, n: int, k: int) -> dict[str, Any]:
    """Counts, fractions and examples of one held-out group (see the module docstring)."""
    import numpy as np

    hashes, owner, _ = hashed
    in_train = found[np.searchsorted(table, hashes)] if len(hashes) else np.zeros(0, dtype=np.int64)
    per_text = np.bincount(owner, minlength=len(texts))
    hits = np.bincount(owner, weights=in_train >= 0, minlength=len(texts)).astype(np.int64)
    with_ngrams, overlapping = int((per_text > 0).sum()), int((hits > 0).sum())
    fraction = np.divide(hits, per_text, out=np.zeros(len(texts)), where=per_text > 0)
    order = np.lexsort((np.arange(len(texts)), -fraction))[:overlapping]
    return {
        "sequences": len(texts),
        "with_ngrams": with_ngrams,
        "overlapping": overlapping,
        "fraction_overlapping": round(overlapping / with_ngrams, 6) if with_ngrams else 0.0,
        "fully_contained": int(((hits == per_text) & (per_text > 0)).sum()),
        "ngrams": int(per_text.sum()),
        "ngrams_in_train": int(hits.sum()),
        "fraction_ngrams": round(int(hits.sum()) / int(per_text.sum()), 6) if per_text.sum() else 0.0,
        "examples": _examples(texts, train, hashed, in_train, order, n, k),
    }


def glue_dev_texts(spec: str = "auto") -> tuple[dict[str, list[str]], dict[str, str], list[str]]:
    """The GLUE dev sets to check: ``({"glue/<task>": texts}, {task: tier}, notes)``.

    ``spec``: ``auto`` (the tasks the data mirror holds), ``hub`` (each task from the mirror, else the Hub),
    ``none``, or a GLUE folder. A task that cannot be loaded is skipped with a note.
    """
    from hf_shrunk.config import UserError
    from hf_shrunk.sources import GLUE_TASKS, available_glue_tasks, load_glue_task

    if spec == "none":
        return {}, {}, ["GLUE dev sets not checked (--contamination_glue none)"]
    data_dir = None if spec in ("auto", "hub") else spec
    tasks = {name: info for name, info in GLUE_TASKS.items() if info.eval_splits}
    notes: list[str] = []
    if spec != "hub":
        try:
            local = available_glue_tasks(data_dir)
        except UserError as e:
            return {}, {}, [f"GLUE dev sets not checked: {e}"]
        present = {t for t, info in tasks.items() if set(info.eval_splits) <= set(local.get(t, []))}
        if not present:
            where = data_dir or "the data mirror ($HF_SHRUNK_DATA_DIR)"
            return {}, {}, [f"GLUE dev sets not checked: no GLUE dev set in {where}"]
        notes += [f"glue/{t}: no dev set in the GLUE source; not checked" for t in tasks if t not in present]
        tasks = {t: info for t, info in tasks.items() if t in present}
    texts, tiers = {}, {}
    for name, info in tasks.items():
        try:
            splits, tiers[name] = load_glue_task(name, data_dir, splits=info.eval_splits)
        except UserError as e:
            notes.append(f"glue/{name}: not checked ({e})")
            continue
        columns = [splits[split].select_columns(list(info.text_fields)).to_dict() for split in info.eval_splits]
        rows = (zip(*(c[f] for f in info.text_fields), strict=True) for c in columns)
        texts[f"glue/{name}"] = [" ".join(row) for split_rows in rows for row in split_rows]
    return texts, tiers, notes


def document_keys(output, source_idx: int, unit_pass: str, n: int):
    """The source document of each kept unit of (source, pass) as one int64 (``source << 40 | document``); -1 where
    the executor did not record documents."""
    import numpy as np

    parts = (output.kept_docs[source_idx].get(unit_pass) or []) if output.kept_docs else []
    docs = np.concatenate([np.asarray(p, dtype=np.int64) for p in parts]) if parts else np.zeros(0, dtype=np.int64)
    return (np.int64(source_idx) << 40) | docs if len(docs) == n else np.full(n, -1, dtype=np.int64)


def split_by_document(
    units: Sequence[str], docs, validation: int, test: int, n_sequences: int, group: Callable, seed: int = 0
) -> dict[str, list[str]]:
    """``--split_by document``: held-out text never shares a source document with train.

    Documents (``docs[i]`` is the document of ``units[i]``) are shuffled with ``seed`` and dealt to validation, then
    test, then train: a document goes to validation while the words dealt before it are fewer than
    ``validation / n_sequences`` of all kept words (test likewise), so each held-out split gets about the share of
    words that ``validation`` and ``test`` sequences are of ``n_sequences``. Each split's units are then grouped on
    their own (``group``: the stage's grouping, :func:`hf_shrunk.corpus.build.group_units`; corpus order) and its
    sequences shuffled with ``seed``.

    Returns:
        `dict[str, list[str]]`: ``train``, ``validation`` and ``test`` sequences.
    """
    import numpy as np

    if validation + test >= n_sequences:
        raise ConfigError(
            f"validation ({validation}) + test ({test}) sequences leave no training data out of {n_sequences}; "
            "lower --validation_size / --test_size."
        )
    words = np.fromiter((u.count(" ") + 1 for u in units), dtype=np.int64, count=len(units))
    keys, document_of = np.unique(np.asarray(docs, dtype=np.int64), return_inverse=True)
    doc_words = np.bincount(document_of, weights=words, minlength=len(keys))
    order = np.random.default_rng(seed).permutation(len(keys))
    before = np.cumsum(doc_words[order]) - doc_words[order]  # words dealt before each document, in dealing order
    share = doc_words.sum() / n_sequences
    dealt = np.where(before < share * validation, 1, np.where(before < share * (validation + test), 2, 0))
    split_of = np.empty(len(keys), dtype=np.int8)
    split_of[order] = dealt
    split_of_unit = split_of[document_of]
    out = {}
    for code, name in ((0, "train"), (1, "validation"), (2, "test")):
        sequences = group([units[i] for i in np.flatnonzero(split_of_unit == code).tolist()])
        out[name] = [sequences[i] for i in np.random.default_rng(seed).permutation(len(sequences)).tolist()]
    if not out["train"]:
        raise ConfigError("--split_by document left no training data; lower --validation_size / --test_size")
    return out


def contamination_report(
    splits: dict[str, Sequence[str]], n: int = NGRAM, glue: str = "auto", examples: int = 3, chunk: int = TRAIN_CHUNK
) -> dict[str, Any]:
    """N-gram overlap of the held-out splits and of the GLUE dev sets with the ``train`` split.

    Args:
        splits (`dict[str, Sequence[str]]`): ``train`` and any of ``validation``, ``test``.
        n (`int`, defaults to 13): words per n-gram.
        glue (`str`, defaults to ``"auto"``): which GLUE dev sets to check (:func:`glue_dev_texts`).
        examples (`int`, defaults to 3): examples kept per group.
        chunk (`int`): training sequences hashed at a time (bounds memory).

    Returns:
        `dict`: ``{"n", "definition", "train": {...}, "splits": {name: report}, "glue": {task: report}, "glue_tiers",
        "notes"}`` (see :func:`_group_report` for a report's keys).
    """
    import numpy as np

    hasher = NgramHasher(n)
    groups = {name: list(splits[name]) for name in ("validation", "test") if len(splits.get(name) or [])}
    glue_texts, tiers, notes = glue_dev_texts(glue)
    groups |= glue_texts
    hashed = {name: hasher(texts) for name, texts in groups.items()}
    table = np.unique(np.concatenate([h[0] for h in hashed.values()] or [np.zeros(0, dtype=np.uint64)]))
    train = splits.get("train") or []
    found, train_ngrams = _scan_train(train, hasher, table, chunk)
    reports = {name: _group_report(groups[name], train, hashed[name], table, found, n, examples) for name in groups}
    out = {
        "n": n,
        "definition": DEFINITION,
        "train": {"sequences": len(train), "ngrams": train_ngrams},
        "splits": {name: r for name, r in reports.items() if not name.startswith("glue/")},
        "glue": {name.split("/", 1)[1]: r for name, r in reports.items() if name.startswith("glue/")},
        "glue_tiers": tiers,
        "notes": notes,
    }
    for name, r in reports.items():
        logger.debug(
            "contamination %s: %d of %d sequences share a %d-gram with train (%.2f%% of their %d-grams)",
            name, r["overlapping"], r["with_ngrams"], n, 100 * r["fraction_ngrams"], n,
        )  # fmt: skip
    return out


def contamination_lines(report: dict[str, Any] | None) -> list[str]:
    """One line per checked group of a contamination report, then its notes."""
    if not report:
        return []
    groups = {**report["splits"], **{f"glue/{t}": r for t, r in report["glue"].items()}}
    lines = [
        f"contamination {name}: {r['overlapping']}/{r['with_ngrams']} share a {report['n']}-gram with train "
        f"({100 * r['fraction_ngrams']:.2f}% of {r['ngrams']} {report['n']}-grams)"
        for name, r in groups.items()
    ]
    return lines + [f"contamination note: {note}" for note in report["notes"]]
