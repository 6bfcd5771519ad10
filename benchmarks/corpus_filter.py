"""Throughput of the corpus filter: hf_shrunk (1 and N processes) vs the paper code's approach, same run.

Both get the same documents already in memory (reading the parquet files is not timed). The paper approach is our
own re-implementation of what the paper's ``vocab_utils.identify_limited_vocab_docs``
did: the same units (sentences and 110/30 spans), ``preprocess``, then scikit-learn
``CountVectorizer().fit_transform`` on each batch of 1000 units, the columns that are not vocabulary words, and a
unit is kept if its OOV count is 0 and it has enough tokens (the matrix stays sparse: one sparse mat-vec per
batch). Both must make the same keep/drop decisions on the sample; the script asserts it.

    HF_SHRUNK_DATA_DIR=../shared/data python benchmarks/corpus_filter.py [--max-mb 5] [--num-proc 2]

Prints MB/s of raw text (UTF-8 bytes of the documents) and the ratio per core against the paper approach.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from hf_shrunk.corpus import FilterSettings, run_local
from hf_shrunk.vocab import load_vocab, normalize, preprocess


class ListSource:
    """An in-memory corpus source: both filters get the same documents already in memory."""

    def __init__(self, name: str, docs: list[str]):
        self.name, self.docs = name, docs

    def num_documents(self) -> int:
        return len(self.docs)

    def document_batches(self, rows: int = 4096):
        for start in range(0, len(self.docs), rows):
            block = self.docs[start : start + rows]
            yield block, [f"{self.name}:{i}" for i in range(start, start + len(block))]


def sample(data_dir: Path, max_mb: float) -> dict[str, list[str]]:
    """The first documents of every mirror corpus file, the same share of each file, about ``max_mb`` MB in all."""
    files = sorted((data_dir / "corpus").glob("*.parquet"))
    if not files:
        sys.exit(f"no corpus/*.parquet under {data_dir}; pass --data-dir or set HF_SHRUNK_DATA_DIR")
    texts = {f.stem: pq.read_table(f, columns=["text"]).column("text").to_pylist() for f in files}
    total = sum(len(t.encode()) for docs in texts.values() for t in docs) / 1e6
    share = 1.0 if max_mb <= 0 else min(1.0, max_mb / total)
    out = {}
    for name, docs in texts.items():
        budget, used, n = share * sum(len(t.encode()) for t in docs), 0, 0
        while n < len(docs) and used < budget:
            used += len(docs[n].encode())
            n += 1
        out[name] = docs[:n]
    return out


def paper_filter(docs: list[str], vocab: frozenset[str], settings: FilterSettings) -> dict[str, list[str]]:
    """The paper code's approach (see the module docstring)."""
    from sklearn.feature_extraction.text import CountVectorizer

    kept: dict[str, list[str]] = {}
    normalised = [normalize(d) for d in docs]
    for unit_pass in settings.passes:
        units = [u for d in normalised for u in settings.units(d, unit_pass)]
        min_tokens, out = settings.min_tokens(unit_pass), []
        for start in range(0, len(units), 1000):
            batch = units[start : start + 1000]
            vectorizer = CountVectorizer()
            try:
                counts = vectorizer.fit_transform([preprocess(u) for u in batch])
            except ValueError:  # "empty vocabulary": no unit of the batch has a token
                continue
            is_oov = np.fromiter((w not in vocab for w in vectorizer.get_feature_names_out()), dtype=np.int64)
            n_oov = counts @ is_oov
            n_tokens = np.asarray(counts.sum(axis=1)).ravel()
            out += [batch[i] for i in np.flatnonzero((n_oov == 0) & (n_tokens > min_tokens))]
        kept[unit_pass] = out
    return kept


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-dir", default=os.environ.get("HF_SHRUNK_DATA_DIR"), help="Mirror (default: $HF_SHRUNK_DATA_DIR)."
    )
    parser.add_argument(
        "--max-mb", type=float, default=5.0, help="MB of raw text to filter (0 = the whole mirror corpus)."
    )
    parser.add_argument("--num-proc", type=int, default=2, help="Processes for the parallel hf_shrunk run.")
    args = parser.parse_args()
    if not args.data_dir:
        sys.exit("set HF_SHRUNK_DATA_DIR or pass --data-dir")
    data_dir = Path(args.data_dir)
    vocab = load_vocab(data_dir / "vocab" / "aochildes_word_frequency.csv").words
    texts = sample(data_dir, args.max_mb)
    docs = [t for file_docs in texts.values() for t in file_docs]
    mb = sum(len(d.encode()) for d in docs) / 1e6
    settings = FilterSettings()
    print(f"sample: {len(docs)} documents, {mb:.2f} MB; vocabulary {len(vocab)} words; cores: {os.cpu_count()}")
    sources = [ListSource(name, file_docs) for name, file_docs in texts.items()]
    ours1, t_one = timed(lambda: run_local(sources, vocab, settings, 1, progress=False))
    oursn, t_many = timed(lambda: run_local(sources, vocab, settings, args.num_proc, progress=False))
    paper, t_paper = timed(lambda: paper_filter(docs, vocab, settings))
    for unit_pass in settings.passes:
        for run, label in ((ours1, "hf_shrunk"), (oursn, f"the {args.num_proc}-process run")):
            kept = [u for per_source in run.kept for u in per_source[unit_pass]]
            assert kept == paper[unit_pass], f"{unit_pass}: {label} and the paper approach disagree"
    print(f"same keep/drop decisions: yes (kept units: { {p: len(paper[p]) for p in settings.passes} })\n")

    rows = [
        ("paper approach (CountVectorizer)", 1, t_paper),
        ("hf_shrunk", 1, t_one),
        (f"hf_shrunk --num-proc {args.num_proc}", args.num_proc, t_many),
    ]
    base = mb / t_paper
    print(f"{'filter':<36}{'procs':>6}{'seconds':>9}{'MB/s':>8}{'MB/s/core':>11}{'x paper/core':>14}")
    for name, procs, seconds in rows:
        rate = mb / seconds
        print(f"{name:<36}{procs:>6}{seconds:>9.2f}{rate:>8.2f}{rate / procs:>11.2f}{rate / procs / base:>14.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
