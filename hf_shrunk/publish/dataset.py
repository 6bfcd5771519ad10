"""The plan of the corpus dataset repo ``<org>/shrunk-corpus`` (see :mod:`hf_shrunk.publish.plan` for the layout).

Parquet splits come from the corpus artifact's ``parquet/<split>.parquet``; a corpus saved only with
``save_to_disk`` is exported once to ``<root>/cache/publish-parquet-<corpus key>/``. The vocabulary file is the one
the corpus manifest records (or, for ``wordfreq:N``, the word list written out); the tokenizer is the tokenizer
artifact trained on the corpus.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hf_shrunk.artifacts import (
    ArtifactError,
    Manifest,
    artifact_root,
    is_complete,
    read_json,
    require_artifact,
    stage_dir,
)
from hf_shrunk.cards import dataset_card_context, render_dataset_card
from hf_shrunk.config import UserError
from hf_shrunk.hub import DATASET_REPO_NAME, model_repo_name
from hf_shrunk.publish.plan import (
    CORPUS_FILE,
    SPLIT_ORDER,
    Branch,
    PlanFile,
    RepoPlan,
    folder_files,
    json_bytes,
    public_paths,
    run_identity,
)


def _ordered(splits: dict[str, Path]) -> list[tuple[str, Path]]:
    return [(s, splits[s]) for s in SPLIT_ORDER if s in splits] + sorted(
        (s, p) for s, p in splits.items() if s not in SPLIT_ORDER
    )


def parquet_splits(corpus_dir: Path, key: str, root: Path) -> list[tuple[str, Path]]:
    """``(split, parquet file)`` of a corpus artifact, exporting a ``save_to_disk`` DatasetDict once if needed."""
    folder = corpus_dir / "parquet"
    files = {p.stem: p for p in folder.glob("*.parquet")} if folder.is_dir() else {}
    if files:
        return _ordered(files)
    if not (corpus_dir / "dataset_dict.json").is_file():
        raise ArtifactError(
            f"{corpus_dir} has neither parquet/<split>.parquet nor a saved DatasetDict; re-run `hf-shrunk corpus`"
        )
    import datasets

    cache = stage_dir("cache", f"publish-parquet-{key}", root)
    for split, dataset in datasets.load_from_disk(str(corpus_dir)).items():
        target = cache / f"{split}.parquet"
        if not target.is_file():
            cache.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(target.name + ".tmp")
            dataset.to_parquet(str(tmp))
            os.replace(tmp, target)
        files[split] = target
    return _ordered(files)


def parquet_info(path: Path) -> tuple[int, list[dict[str, str]]]:
    """Rows and ``[{"name", "dtype"}]`` features of a parquet file (the ``dataset_info`` of the card)."""
    import pyarrow.parquet as pq
    from datasets import Features, Value

    features = Features.from_arrow_schema(pq.read_schema(path))
    described = [
        {"name": n, "dtype": f.dtype if isinstance(f, Value) else type(f).__name__} for n, f in features.items()
    ]
    return pq.ParquetFile(path).metadata.num_rows, described


def _vocab_note(name: str) -> str:
    lowered = name.lower()
    if "aochildes" in lowered or "childes" in lowered:
        return (
            "The word list is the paper's AO-CHILDES word-frequency table (from text-machine-lab/mini_bert, built "
            "from child-directed speech in CHILDES); its origin states no licence."
        )
    if "wordfreq" in lowered:
        return "The word list is the top of wordfreq's English list (wordfreq data: CC BY-SA 4.0)."
    return "Check the terms of the word list's origin before reusing it."


def _shipped(path: Path, out: dict[str, Any]) -> tuple[PlanFile, dict[str, Any]]:
    name = f"vocabulary/{path.name}"
    return PlanFile(name, source=path), out | {"path": name, "note": _vocab_note(path.name)}


def _word_list(vocab: Any, out: dict[str, Any]) -> tuple[PlanFile, dict[str, Any]]:
    data = ("\n".join(sorted(vocab.words)) + "\n").encode()
    info = {"path": "vocabulary/vocabulary.txt", "size": vocab.size, "note": _vocab_note(vocab.spec)}
    return PlanFile("vocabulary/vocabulary.txt", data=data), out | info


def vocabulary_file(manifest: Manifest, stats: dict[str, Any] | None = None) -> tuple[PlanFile | None, dict[str, Any]]:
    """The vocabulary to ship and what the card says about it (a note says why when none can be shipped).

    Tried in order: a file the corpus names (``stats.json``'s ``vocabulary``, the manifest's inputs of kind
    ``vocab``, its ``vocab`` config), a ``wordfreq:N`` spec (its word list is written out), then
    ``hf_shrunk.sources.resolve_vocab`` of the configured spec, accepted only if its words have the fingerprint the
    corpus recorded.
    """
    extra, config = manifest.extra or {}, manifest.config or {}
    info = dict((stats or {}).get("vocabulary") or extra.get("vocab") or {})
    inputs = [i for i in manifest.inputs if i.get("kind") == "vocab"]
    spec = str(config.get("vocab") or info.get("spec") or "auto")
    public_spec = Path(spec).name if os.path.isabs(spec) else spec  # no local directories in a public card
    out = {"spec": public_spec, "size": info.get("size"), "path": None}
    for candidate in [info.get("path"), info.get("source"), *(i.get("path") for i in inputs), spec]:
        candidate = str(candidate or "")
        if candidate.startswith("wordfreq:"):
            from hf_shrunk.vocab import load_vocab

            return _word_list(load_vocab(candidate), out)
        if candidate and Path(candidate).expanduser().is_file():
            return _shipped(Path(candidate).expanduser(), out)
    recorded = {i.get("fingerprint") for i in inputs} | {info.get("fingerprint")}
    if not recorded - {None}:
        return None, out | {"note": "The corpus manifest records no vocabulary file or fingerprint to ship."}
    try:
        from hf_shrunk.sources import resolve_vocab

        vocab = resolve_vocab(spec).value
    except (ImportError, AttributeError, UserError, OSError) as e:
        return None, out | {"note": f"The vocabulary could not be located to ship it ({type(e).__name__}: {e})."}
    if vocab.fingerprint not in recorded:
        return None, out | {"note": f"The vocabulary {spec!r} now resolves to other words than the corpus used."}
    source = Path(str(vocab.source))
    return _shipped(source, out) if source.is_file() else _word_list(vocab, out)


def trained_on(corpus_key: str, org: str, root: Path) -> list[str]:
    """Model repos of every finished local run trained on the corpus with this key (stable across publishes)."""
    base = artifact_root(root) / "pretrain"
    repos = []
    for folder in sorted(base.glob("*")) if base.is_dir() else []:
        if not is_complete(folder):
            continue
        manifest = Manifest.read(folder)
        if any(i.get("kind") == "corpus" and i.get("fingerprint") == corpus_key for i in manifest.inputs):
            repos.append(f"{org}/{model_repo_name((manifest.extra or {}).get('slug') or manifest.name)}")
    return sorted(repos)


def plan_dataset_repo(corpus: str, tokenizer: str | None, org: str, root: Path) -> RepoPlan:
    """``<org>/shrunk-corpus``: parquet splits, vocabulary, tokenizer, filter statistics and the dataset card."""
    corpus_dir, manifest = require_artifact("corpus", corpus, root)
    repo_id, notes = f"{org}/{DATASET_REPO_NAME}", []
    files, splits = [], []
    for split, path in parquet_splits(corpus_dir, manifest.key, root):
        rows, features = parquet_info(path)
        files.append(PlanFile(f"data/{split}.parquet", source=path))
        splits.append({"name": split, "path": f"data/{split}.parquet", "num_examples": rows})
    if not splits:
        raise ArtifactError(f"{corpus_dir} holds no splits to publish; re-run `hf-shrunk corpus`")
    stats = read_json(corpus_dir / "stats.json") if (corpus_dir / "stats.json").is_file() else None
    vocab_file, vocab = vocabulary_file(manifest, stats)
    if vocab_file is None:
        notes.append(f"{repo_id}: vocabulary not shipped: {vocab['note']}")
    tok = None
    tok_dir = stage_dir("tokenizer", tokenizer, root) if tokenizer else None
    if tok_dir is not None and is_complete(tok_dir):
        files += folder_files(tok_dir, "tokenizer/", exclude=frozenset({"manifest.json", "stats.json"}))
        tok = {"path": "tokenizer", "vocab_size": (Manifest.read(tok_dir).extra or {}).get("vocab_size")}
    else:
        notes.append(f"{repo_id}: no tokenizer artifact {tokenizer!r}; the dataset repo ships none")
    context = dataset_card_context(
        corpus_dir, repo_id, splits, features, vocab, tok, trained_on(manifest.key, org, root)
    )
    files += [f for f in [vocab_file] if f is not None]
    files.append(PlanFile("README.md", data=render_dataset_card(context).encode()))
    public_manifest = public_paths(manifest.to_dict(), artifact_root(root))
    files.append(PlanFile(CORPUS_FILE, data=json_bytes(public_manifest)))
    if stats is not None:
        files.append(PlanFile("filter_stats.json", data=json_bytes(public_paths(stats, artifact_root(root)))))
    main = Branch("main", sorted(files, key=lambda f: f.path), f"Publish the corpus ({corpus}) and its card")
    total = sum(s["num_examples"] for s in splits)
    note = f"{total:,} sequences, the models' pre-training corpus"
    origin = run_identity(public_manifest)
    return RepoPlan(repo_id, "dataset", [main], note=note, notes=notes, origin=origin, origin_file=CORPUS_FILE)
