"""The artifact root that the publish tests publish: a corpus, a tokenizer, one tiny real pretrain run per family and
GLUE summaries for both. Built once per test session (whichever publish test module asks first) and then shared."""

import json
from pathlib import Path

from conftest import TEST_GRID, make_glue_summary, synthetic_sentences

from hf_shrunk.config import CONFIG_DIR

FACTORIZED = "factorized-e32-h32-i128-a4-l2"
ROBERTA = "roberta-h32-i64-a2-l1"
_DONE = ".suite-complete"


def make_corpus(root: Path) -> None:
    """A corpus artifact in the layout `hf-shrunk corpus` writes (DatasetDict, parquet splits, stats.json with drop
    counts per source and pass, vocabulary and source inputs with tiers). Written here rather than by the corpus
    stage so these tests do not depend on its filtering; its numbers are made up."""
    import datasets

    from hf_shrunk.artifacts import Manifest, stage_dir, staged_output

    texts = synthetic_sentences(680, seed=0)
    seqs = [" ".join(texts[i : i + 2]) for i in range(0, len(texts), 2)]
    splits = {"train": seqs[40:], "validation": seqs[:20], "test": seqs[20:40]}
    dd = datasets.DatasetDict({name: datasets.Dataset.from_dict({"text": rows}) for name, rows in splits.items()})
    root.mkdir(parents=True, exist_ok=True)
    words = root / "words.txt"
    words.write_text("\n".join(sorted({w for t in texts for w in t.split()})) + "\n")
    vocab = {"spec": str(words), "source": str(words), "size": 40, "fingerprint": "f00d", "tier": "explicit"}
    passes = {"sentence": {"kept": {"units": 680, "words": 5000}, "oov": {"units": 7, "words": 40}}}
    source = {"tier": "explicit", "license": None, "units_kept": 680, "passes": passes}
    inputs = [
        {"kind": "vocab", "path": str(words), "fingerprint": "f00d", "tier": "explicit"},
        {"kind": "source:synthetic", "path": str(root / "source.txt"), "fingerprint": "5eed", "tier": "explicit"},
    ]
    with staged_output(stage_dir("corpus", "default", root)) as staging:
        dd.save_to_disk(str(staging))
        (staging / "parquet").mkdir()
        for name, ds in dd.items():
            ds.to_parquet(str(staging / "parquet" / f"{name}.parquet"))
        (staging / "stats.json").write_text(json.dumps({"vocabulary": vocab, "sources": {"synthetic": source}}))
        extra = {"tiers": {"synthetic": "explicit"}, "licenses": []}
        Manifest("corpus", "default", {"vocab": str(words), "passes": ["sentence"]}, inputs, extra).write(staging)


def build_suite(root: Path) -> Path:
    """The suite under ``root``, built unless a previous call finished it."""
    from hf_shrunk.pretrain import train_main as pretrain_main
    from hf_shrunk.tokenizer import main as tokenizer_main

    if (root / _DONE).is_file():
        return root
    make_corpus(root)
    assert tokenizer_main(["--root", str(root), "--vocab_size", "300"]) == 0
    common = ["--root", str(root), "--config", str(CONFIG_DIR / "pretrain_demo.yaml"), "--max_steps", "8"]
    common += ["--eval_steps", "4", "--save_steps", "4", "--eval_max_sequences", "32", "--report_to", "none"]
    assert pretrain_main(common + ["--grid", str(TEST_GRID), "--size", FACTORIZED]) == 0
    assert pretrain_main(common + ["--grid", str(TEST_GRID), "--size", ROBERTA]) == 0
    for run in (FACTORIZED, ROBERTA):
        make_glue_summary(run, root=root)
    (root / _DONE).write_text("")
    return root
