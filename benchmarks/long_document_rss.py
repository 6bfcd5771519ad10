"""Peak memory of `hf-shrunk corpus` on one very long single-line document (a whole book-sized file on one line).

Writes ``--mb`` MB of the mirror's corpus text (documents joined by spaces, repeated as needed) as ONE line of a
.txt file, then runs ``hf-shrunk corpus`` on it in a child process with ``--max_doc_chars`` lifted, and prints the
child's peak RSS (``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``) and wall time. ``--filter-only`` measures the
unit filter alone (:class:`hf_shrunk.corpus.BatchFilter` on the normalised document) instead of the whole stage.

    HF_SHRUNK_DATA_DIR=../shared/data python benchmarks/long_document_rss.py --mb 100 [--filter-only]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FILTER_ONLY = """
import sys
from hf_shrunk.corpus.batch import BatchFilter
from hf_shrunk.corpus.rule import DocBatch, FilterSettings
from hf_shrunk.vocab import load_vocab, normalize
vocab = load_vocab(sys.argv[2]).words
doc = normalize(open(sys.argv[1], encoding="utf-8").read().rstrip("\\n"))
result = BatchFilter(vocab, FilterSettings())(DocBatch(0, 0, [doc], ["doc"]))
print({p: len(k) for p, k in result.kept.items()}, result.counts)
"""


def write_document(data_dir: Path, mb: float, path: Path) -> int:
    import pyarrow.parquet as pq

    texts = []
    for f in sorted((data_dir / "corpus").glob("*.parquet")):
        texts += [t.replace("\n", " ") for t in pq.read_table(f, columns=["text"]).column("text").to_pylist() if t]
    block = " ".join(texts).encode()
    target = int(mb * 1e6)
    with path.open("wb") as out:
        written = 0
        while written < target:
            piece = block[: target - written]
            out.write(piece)
            written += len(piece)
            if written < target:
                out.write(b" ")
                written += 1
        out.write(b"\n")
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=100.0)
    parser.add_argument("--data-dir", default=os.environ.get("HF_SHRUNK_DATA_DIR"))
    parser.add_argument("--filter-only", action="store_true")
    args = parser.parse_args()
    if not args.data_dir:
        sys.exit("pass --data-dir or set HF_SHRUNK_DATA_DIR (the mirror)")
    data_dir = Path(args.data_dir)
    vocab = data_dir / "vocab" / "aochildes_word_frequency.csv"
    with tempfile.TemporaryDirectory() as tmp:
        doc = Path(tmp) / "one_line.txt"
        size = write_document(data_dir, args.mb, doc)
        if args.filter_only:
            command = [sys.executable, "-c", FILTER_ONLY, str(doc), str(vocab)]
        else:
            command = [
                sys.executable, "-m", "hf_shrunk", "corpus", "--root", str(Path(tmp) / "art"), "--sources", str(doc),
                "--vocab", str(vocab), "--max_doc_chars", str(10 * size), "--validation_size", "0",
                "--test_size", "0",
            ]  # fmt: skip
        start = time.perf_counter()
        proc = subprocess.run(command, capture_output=True, text=True)
        seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(proc.stdout[-2000:], proc.stderr[-2000:] if proc.returncode else "", sep="\n")
    what = "filter" if args.filter_only else "hf-shrunk corpus"
    print(f"{what}: one {size / 1e6:.0f} MB line: peak RSS {peak_mb:,.0f} MB, {seconds:.1f} s, exit {proc.returncode}")


if __name__ == "__main__":
    main()
