"""``hf-shrunk corpus``: raw English -> the paper's reduced-vocabulary corpus (docs/paper.md#corpus-filter).

Steps: resolve the vocabulary and the sources (tiers: :mod:`hf_shrunk.sources.tiers`); cut every normalised document
into sentence and span units and keep those that pass the rule (:mod:`hf_shrunk.corpus.rule`, run by
:mod:`hf_shrunk.corpus.executors`); remove exact duplicates across all sources (first occurrence kept, in corpus order:
source, pass, document, unit); concatenate units with spaces into training sequences (:func:`group_units`, the
paper's ``group_sentences``); shuffle with ``--seed`` and hold out validation and test sequences (``--split_by
document``: whole source documents instead); measure the n-gram overlap of the held-out splits and of the GLUE dev
sets with train (both in :mod:`hf_shrunk.corpus.contamination`; ``stats.json["contamination"]``).

Output ``<root>/corpus/<name>/``: a ``DatasetDict`` (column ``text``; ``datasets.load_from_disk(folder)``), the same
splits as ``parquet/<split>.parquet`` (``load_dataset("parquet", ...)``, the publish stage), ``stats.json`` (per
source and in total: units and words per outcome, sequences per split, dropped examples, tiers, timings) and
``manifest.json`` (written last: the folder is complete once it exists). With ``--sources
text-machine-lab/constrained_language`` the paper's own corpus is verified against the rule and kept with its
splits.
"""

from __future__ import annotations

import functools
import logging
import shutil
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from hf_shrunk.artifacts import Manifest, is_complete, should_skip, staged_output, write_json
from hf_shrunk.config import ConfigError, UserError, parse_config, to_dict
from hf_shrunk.corpus.config import CorpusConfig
from hf_shrunk.corpus.contamination import (
    contamination_lines,
    contamination_report,
    document_keys,
    split_by_document,
)
from hf_shrunk.corpus.rule import OUTCOMES, REASONS, FilterSettings, words_of

logger = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")
AUTO_HELD_OUT = (100_000, 0.05)  # 'auto' = min(100000, 5% of the sequences) (paper: 100K each)
# Config fields that do not change the output (excluded from the manifest key, so a re-run skips).
RUNTIME_FIELDS = ("root", "overwrite", "num_proc", "executor")
# Fields that only change the report in stats.json, not the splits: also outside the key (--overwrite recomputes).
REPORT_FIELDS = ("contamination", "contamination_ngram", "contamination_glue")
# Fields added after corpora were first built: left out of the key at their default (the paper's behaviour), so
# existing corpus artifacts keep their key and are not rebuilt or refused.
DEFAULT_FREE_FIELDS = {"split_by": "unit"}


def group_units(units: Iterable[str], max_seq_len: int = 128, tokens_per_word: float = 1.2) -> list[str]:
    """The paper's ``group_sentences``: append units with a space; before adding a unit, if
    ``len((current + unit + ' ').split(' ')) * tokens_per_word >= max_seq_len``, emit ``current`` and start a new
    sequence with the unit. Unlike the paper, the last sequence is kept, no sequence is empty, and the paper's
    trailing space is removed.

    Args:
        units (`Iterable[str]`): units in corpus order.
        max_seq_len (`int`, defaults to 128): target sequence length in tokens.
        tokens_per_word (`float`, defaults to 1.2): assumed tokens per space-separated word.

    Returns:
        `list[str]`: the sequences (a unit longer than the limit is a sequence of its own).
    """
    sequences: list[str] = []
    current, spaces = "", 0  # current ends with a space; spaces == current.count(" ")
    for unit in units:
        unit_spaces = unit.count(" ")
        # (current + unit + " ").split(" ") has spaces + unit_spaces + 1 separators, hence + 2 pieces
        if current and (spaces + unit_spaces + 2) * tokens_per_word >= max_seq_len:
            sequences.append(current[:-1])
            current, spaces = "", 0
        current += unit + " "
        spaces += unit_spaces + 1
    if current:
        sequences.append(current[:-1])
    return sequences


def held_out_size(value: str | int | float, n: int, flag: str = "--validation_size") -> int:
    """Sequences to hold out: a count (``"1000"``), a fraction (``"0.05"``) or ``"auto"`` =
    ``min(100000, 5% of n)`` (at least 1 once ``n >= 3``)."""
    text = str(value).strip().lower()
    if text == "auto":
        return min(AUTO_HELD_OUT[0], max(1, round(AUTO_HELD_OUT[1] * n))) if n >= 3 else 0
    try:
        number = float(text)
    except ValueError as e:
        raise ConfigError(f"{flag} must be a count, a fraction or 'auto', got {value!r}") from e
    if "." in text or "e" in text:
        if not 0 <= number < 1:
            raise ConfigError(f"{flag}: a fraction must be in [0, 1), got {value!r}")
        return round(number * n)
    if number < 0 or number != int(number):
        raise ConfigError(f"{flag} must be a non-negative count, got {value!r}")
    return int(number)


def split_sequences(sequences: Sequence[str], validation: int, test: int, seed: int = 0) -> dict[str, list[str]]:
    """Shuffle with ``seed`` (numpy PCG64) and take ``validation`` then ``test`` sequences; the rest is train."""
    import numpy as np

    if validation + test >= len(sequences):
        raise ConfigError(
            f"validation ({validation}) + test ({test}) sequences leave no training data out of {len(sequences)}; "
            "lower --validation_size / --test_size."
        )
    order = np.random.default_rng(seed).permutation(len(sequences))
    shuffled = [sequences[i] for i in order.tolist()]
    return {
        "train": shuffled[validation + test :],
        "validation": shuffled[:validation],
        "test": shuffled[validation : validation + test],
    }


def write_splits(folder: Path, splits: dict[str, list[str]]) -> None:
    """``DatasetDict.save_to_disk(folder)`` and ``folder/parquet/<split>.parquet`` (column ``text``)."""
    import datasets

    features = datasets.Features({"text": datasets.Value("string")})
    dd = datasets.DatasetDict(
        {s: datasets.Dataset.from_dict({"text": texts}, features=features) for s, texts in splits.items()}
    )
    dd.save_to_disk(str(folder))
    (folder / "parquet").mkdir(exist_ok=True)
    for split, ds in dd.items():
        ds.to_parquet(str(folder / "parquet" / f"{split}.parquet"))


def _dedup(output, sources, settings: FilterSettings, dedup: bool, k: int):
    """Units in corpus order without exact duplicates, and the source document of each
    (:func:`~hf_shrunk.corpus.contamination.document_keys`);
    moves duplicate counts from ``kept`` to ``duplicate``."""
    import numpy as np

    units: list[str] = []
    docs = [np.zeros(0, dtype=np.int64)]
    seen: set[str] = set()
    examples = output.examples.setdefault("duplicate", [])
    for source_idx, kept in enumerate(output.kept):
        for pass_idx, unit_pass in enumerate(settings.passes):
            n_dup = w_dup = 0
            unit_docs, first = document_keys(output, source_idx, unit_pass, len(kept.get(unit_pass, []))), []
            for i, unit in enumerate(kept.get(unit_pass, [])):
                if dedup and unit in seen:
                    n_dup += 1
                    w_dup += unit.count(" ") + 1
                    if len(examples) < k:
                        examples.append({"key": [source_idx, pass_idx, -1, i], "pass": unit_pass, "text": unit[:400]})
                    continue
                seen.add(unit)
                units.append(unit)
                first.append(i)
            docs.append(unit_docs[np.asarray(first, dtype=np.int64)])
            if n_dup:
                counts = output.counts[source_idx][unit_pass]
                counts["kept"] = [counts["kept"][0] - n_dup, counts["kept"][1] - w_dup]
                counts["duplicate"] = [n_dup, w_dup]
    return units, np.concatenate(docs)


def _outcome_table(counts: dict[str, dict[str, list[int]]]) -> dict[str, dict[str, dict[str, int]]]:
    return {
        p: {o: {"units": c[0], "words": c[1]} for o in OUTCOMES if (c := outcomes.get(o))}
        for p, outcomes in counts.items()
    }


def _stats(cfg, vocab, sources, output, splits, timings) -> dict[str, Any]:
    per_source, total_counts = {}, {}
    for i, source in enumerate(sources):
        kept = sum(c.get("kept", [0, 0])[0] for c in output.counts[i].values())
        words = sum(c.get("kept", [0, 0])[1] for c in output.counts[i].values())
        per_source[source.name] = {
            "tier": source.tier,
            "description": source.description,
            "license": source.license,
            "documents": output.documents[i],
            "characters": output.characters[i],
            "seconds": round(output.seconds[i], 2),
            "units_kept": kept,
            "words_kept": words,
            "passes": _outcome_table(output.counts[i]),
        }
        for unit_pass, outcomes in output.counts[i].items():
            for outcome, (u, w) in outcomes.items():
                slot = total_counts.setdefault(unit_pass, {}).setdefault(outcome, [0, 0])
                slot[0], slot[1] = slot[0] + u, slot[1] + w
    reasons = {
        r: {
            "units": sum(c.get(r, [0, 0])[0] for c in total_counts.values()),
            "words": sum(c.get(r, [0, 0])[1] for c in total_counts.values()),
        }
        for r in OUTCOMES
    }
    examples = {r: [{"source": sources[e["key"][0]].name, **e} for e in output.examples.get(r, [])] for r in REASONS}
    total = {"documents": sum(output.documents), "characters": sum(output.characters)}
    sequences = {"total": sum(map(len, splits.values())), "words": sum(words_of(s) for s in splits.values())}
    return {
        "name": cfg.name,
        "executor": cfg.executor,
        "num_proc": cfg.num_proc,
        "split_by": cfg.split_by,
        "vocabulary": vocab.value.info() | {"tier": vocab.tier},
        "sources": per_source,
        "total": total | {"passes": _outcome_table(total_counts), "outcomes": reasons},
        "sequences": sequences | {"splits": {s: len(t) for s, t in splits.items()}},
        "examples": examples,
        "timings": {k: round(v, 2) for k, v in timings.items()},
    }


def _passthrough(cfg, vocab, source) -> tuple[dict[str, list[str]], dict[str, Any]]:
    """The paper's corpus, checked sequence by sequence against the rule (no length rule: sequences are groups)."""
    from collections import Counter

    from hf_shrunk.vocab import URL_TOKEN, counted_tokens

    splits = source.passthrough_splits()
    report, oov_words = {}, Counter()
    for split, texts in splits.items():
        n_tokens = n_oov = with_oov = with_url = 0
        for text in texts:
            tokens = counted_tokens(text)
            oov = [t for t in tokens if t not in vocab.value.words]
            n_tokens, n_oov = n_tokens + len(tokens), n_oov + len(oov)
            with_oov += bool(oov)
            with_url += URL_TOKEN in tokens
            oov_words.update(oov)
        report[split] = {
            "sequences": len(texts),
            "tokens": n_tokens,
            "oov_tokens": n_oov,
            "sequences_with_oov": with_oov,
            "sequences_with_url": with_url,
        }
    stats = {
        "name": cfg.name, "passthrough": source.description, "tier": source.tier,
        "vocabulary": vocab.value.info() | {"tier": vocab.tier},
        "verification": report, "top_oov_words": oov_words.most_common(20),
        "sequences": {"total": sum(map(len, splits.values())), "splits": {s: len(t) for s, t in splits.items()}},
    }  # fmt: skip
    return splits, stats


def manifest_config(cfg: CorpusConfig) -> dict[str, Any]:
    """The config the manifest records and keys on: without runtime and report-only fields, and without the fields
    of :data:`DEFAULT_FREE_FIELDS` at their default."""
    config = to_dict(cfg, exclude=RUNTIME_FIELDS + REPORT_FIELDS)
    return {k: v for k, v in config.items() if DEFAULT_FREE_FIELDS.get(k, object()) != v}


def vocab_input(vocab) -> dict[str, Any]:
    """The manifest's ``vocab`` input: kind, path, fingerprint and tier (the key uses kind and fingerprint only),
    plus what later stages need to load the same word list again: the spec asked for, the file read, the size."""
    info = vocab.value.info()
    return vocab.manifest_entry("vocab") | {"spec": info["spec"], "source": info["source"], "size": info["size"]}


def vocab_record(corpus_dir: str | Path) -> dict[str, Any] | None:
    """The vocabulary a corpus artifact was filtered with (its manifest's ``vocab`` input), or ``None``: what the
    pretrain manifest records and the GLUE stage follows (``hf-shrunk glue --vocab model``)."""
    if not is_complete(corpus_dir):
        return None
    entry = next((i for i in Manifest.read(corpus_dir).inputs if i.get("kind") == "vocab"), None)
    return dict(entry) if entry and entry.get("fingerprint") else None


def build_corpus(cfg: CorpusConfig, progress: bool = True) -> tuple[Path, dict[str, Any], bool]:
    """Build (or skip) the corpus described by ``cfg``.

    Args:
        cfg (`CorpusConfig`): vocabulary, sources, filter rule, grouping and held-out sizes.
        progress (`bool`, defaults to `True`): show progress bars (local executor).

    Returns:
        `tuple[Path, dict, bool]`: the folder, its stats, and whether it was already up to date (skipped).
    """
    from hf_shrunk.artifacts import artifact_lock, output_dir, read_json
    from hf_shrunk.sources import resolve_sources, resolve_vocab

    started = time.perf_counter()
    vocab = resolve_vocab(cfg.vocab)
    sources = resolve_sources(cfg.sources, cfg.text_column, cfg.max_docs, cfg.max_doc_chars, root=cfg.root)
    if any(s.passthrough for s in sources) and len(sources) > 1:
        raise ConfigError(
            "the paper's corpus (text-machine-lab/constrained_language) is passed through as it is; "
            "use it as the only --sources"
        )
    if sources[0].passthrough and cfg.split_by != "unit":
        raise ConfigError("the paper's corpus keeps its own splits; --split_by document needs raw sources to filter")
    folder = output_dir("corpus", cfg.name, cfg.root)
    inputs = [vocab_input(vocab)] + [s.manifest_entry() for s in sources]
    manifest = Manifest("corpus", cfg.name, config=manifest_config(cfg), inputs=inputs)
    if should_skip(folder, manifest, cfg.overwrite):
        logger.info("corpus %s is up to date (same config and inputs); --overwrite rebuilds it", folder)
        return folder, read_json(folder / "stats.json"), True
    settings = FilterSettings.from_config(cfg)
    with artifact_lock(folder), staged_output(folder) as staging:
        if sources[0].passthrough:
            splits, stats = _passthrough(cfg, vocab, sources[0])
        else:
            splits, stats = _filter_and_split(cfg, vocab, sources, settings, staging, started, progress)
        _add_contamination(cfg, splits, stats)
        _write_corpus(staging, splits, stats, sources, manifest, started)
    return folder, stats, False


def _add_contamination(cfg: CorpusConfig, splits: dict[str, list[str]], stats: dict[str, Any]) -> None:
    """``stats["contamination"]``: the n-gram overlap of the held-out splits and GLUE dev sets with train (unless
    ``--no_contamination``), and its time."""
    if not cfg.contamination:
        return
    t = time.perf_counter()
    stats["contamination"] = contamination_report(
        splits, cfg.contamination_ngram, cfg.contamination_glue, cfg.examples_per_reason
    )
    stats.setdefault("timings", {})["contamination_s"] = round(time.perf_counter() - t, 2)


def _filter_and_split(cfg, vocab, sources, settings, staging: Path, started: float, progress: bool):
    """Filter every source into units (local or datatrove executor), remove duplicates, group the units into
    sequences and hold out validation and test: (splits, stats)."""
    from hf_shrunk.corpus.executors import run_datatrove, run_local

    timings = {}
    if cfg.executor == "datatrove":
        output = run_datatrove(sources, vocab.value.words, settings, cfg.num_proc, staging / "_datatrove")
        shutil.rmtree(staging / "_datatrove")
    else:
        output = run_local(sources, vocab.value.words, settings, cfg.num_proc, progress)
    timings["filter_s"] = time.perf_counter() - started
    t = time.perf_counter()
    units, docs = _dedup(output, sources, settings, cfg.dedup, cfg.examples_per_reason)
    timings["dedup_s"], t = time.perf_counter() - t, time.perf_counter()
    if not units:
        raise UserError(
            f"no unit passed the filter ({_drop_summary(output)}); nothing to write. "
            "Check the vocabulary and the sources."
        )
    sequences = group_units(units, cfg.max_seq_len, cfg.tokens_per_word)
    validation = held_out_size(cfg.validation_size, len(sequences), "--validation_size")
    test = held_out_size(cfg.test_size, len(sequences), "--test_size")
    if cfg.split_by == "document":
        group = functools.partial(group_units, max_seq_len=cfg.max_seq_len, tokens_per_word=cfg.tokens_per_word)
        splits = split_by_document(units, docs, validation, test, len(sequences), group, cfg.seed)
    else:
        splits = split_sequences(sequences, validation, test, cfg.seed)
    timings["group_split_s"], t = time.perf_counter() - t, time.perf_counter()
    return splits, _stats(cfg, vocab, sources, output, splits, timings)


def _write_corpus(staging: Path, splits, stats: dict[str, Any], sources, manifest: Manifest, started: float) -> None:
    """Write the splits, ``stats.json`` (with the write and total timings) and, last, ``manifest.json``."""
    t = time.perf_counter()
    write_splits(staging, splits)
    stats.setdefault("timings", {})["write_s"] = round(time.perf_counter() - t, 2)
    stats["timings"]["total_s"] = round(time.perf_counter() - started, 2)
    write_json(staging / "stats.json", stats)
    licenses = sorted({s.license for s in sources if s.license})
    manifest.extra = {
        "sequences": stats["sequences"]["splits"],
        "tiers": {s.name: s.tier for s in sources},
        "licenses": licenses,
    }
    manifest.write(staging)  # last: the folder is complete once the manifest exists


def _drop_summary(output) -> str:
    totals: dict[str, int] = {}
    for counts in output.counts:
        for outcomes in counts.values():
            for outcome, (units, _) in outcomes.items():
                totals[outcome] = totals.get(outcome, 0) + units
    return ", ".join(f"{k}: {v}" for k, v in totals.items()) or "no units at all"


def summary_lines(stats: dict[str, Any]) -> list[str]:
    """A short human summary of ``stats.json``."""
    vocab = stats["vocabulary"]
    lines = [f"vocabulary: {vocab['spec']} ({vocab['size']} words, tier {vocab['tier']})"]
    lines += contamination_lines(stats.get("contamination"))
    if "verification" in stats:
        for split, r in stats["verification"].items():
            lines.append(
                f"{split}: {r['sequences']} sequences, {r['sequences_with_oov']} with OOV tokens "
                f"({r['oov_tokens']} of {r['tokens']})"
            )
        return lines
    for name, s in stats["sources"].items():
        lines.append(
            f"source {name} (tier {s['tier']}): {s['documents']} documents, {s['units_kept']} units kept, "
            f"{s['seconds']} s"
        )
    outcomes = stats["total"]["outcomes"]
    lines.append(
        "units: "
        + ", ".join(
            f"{o} {outcomes[o]['units']} ({outcomes[o]['words']} words)" for o in OUTCOMES if outcomes[o]["units"]
        )
    )
    seq = stats["sequences"]
    lines.append(
        f"sequences: {seq['total']} ({seq['words']} words): " + ", ".join(f"{s} {n}" for s, n in seq["splits"].items())
    )
    return lines


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """``hf-shrunk corpus``."""
    (cfg,) = parse_config([CorpusConfig], argv, prog=prog or "hf-shrunk corpus", description=__doc__.split("\n\n")[0])
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
    folder, stats, skipped = build_corpus(cfg)
    if skipped:
        print(f"up to date: {folder} (same config and inputs; --overwrite rebuilds it)")
        return 0
    for line in summary_lines(stats):
        print(line)
    print(f"output: {folder}  ({stats['timings']['total_s']} s)")
    return 0
