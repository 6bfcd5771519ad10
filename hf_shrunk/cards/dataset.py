"""The dataset card of the corpus repo (``<org>/shrunk-corpus``): ``configs:`` for ``load_dataset``, splits and
features, the vocabulary, filter statistics per drop reason and source, data tiers and licence notes per source.

Reads the corpus artifact (``manifest.json``, ``stats.json`` as ``hf-shrunk corpus`` writes them); everything the
publisher adds (parquet paths, split sizes, the vocabulary and tokenizer files it ships) is passed in.
``stats.json`` is read loosely, so a corpus from another version of the stage still gets a card:
``stats["sources"]`` maps a source name (or lists dicts with a ``name``) to ``{"tier", "license", "units_kept",
<counts>}``, the counts under ``"passes"``, ``"outcomes"``, ``"reasons"`` or ``"counts"`` as ``{outcome: n}``,
``{outcome: {"units": n}}`` or one of those per pass; whatever is absent is shown as absent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hf_shrunk import __version__
from hf_shrunk.artifacts import Manifest, read_json
from hf_shrunk.cards.model import PAPER_ARXIV, PAPER_BIBTEX, PAPER_TITLE, PAPER_URL, CardError, environment
from hf_shrunk.corpus import REASONS

# (substring of the source name, Hub licence id or None, note). First match wins, so "simple" precedes "wiki".
SOURCE_LICENSES = [
    (
        "constrained_language",
        None,
        "the paper's filtered corpus (text-machine-lab/constrained_language): see its card",
    ),
    ("c4", "odc-by", "C4 (allenai/c4): ODC-BY 1.0; also subject to Common Crawl's terms of use"),
    ("simple", "cc-by-sa-3.0", "Simple English Wikipedia: CC BY-SA 3.0 (and GFDL)"),
    ("fallback", "cc-by-sa-3.0", "Wikipedia articles shipped in the gensim 4.4.0 wheel: CC BY-SA 3.0 (and GFDL)"),
    ("gensim", "cc-by-sa-3.0", "Wikipedia articles shipped in the gensim 4.4.0 wheel: CC BY-SA 3.0 (and GFDL)"),
    ("wiki", "cc-by-sa-3.0", "Wikipedia: CC BY-SA 3.0 (and GFDL)"),
    ("bookcorpus", None, "BookCorpus: books under their authors' copyright; no licence for redistribution"),
    ("cbt", None, "Children's Book Test: built from Project Gutenberg books; check the release's terms"),
    ("children", None, "Children's Book Test: built from Project Gutenberg books; check the release's terms"),
]
UNKNOWN_LICENSE = "unknown: check the source's terms before redistributing"
# (substring of the source name, the Hub dataset its text comes from or None). First match wins: the fallback's
# Wikipedia articles come from a PyPI wheel, not from a Hub dataset.
SOURCE_DATASETS = [
    ("fallback", None),
    ("gensim", None),
    ("constrained_language", "text-machine-lab/constrained_language"),
    ("c4", "allenai/c4"),
    ("wiki", "wikimedia/wikipedia"),
    ("cbt", "cam-cst/cbt"),
]
MIXED_LICENSE_NAME = "per-source-licences"
COUNT_KEYS = ("passes", "outcomes", "reasons", "counts", "units")


def source_license(name: str, stated: str | None = None) -> tuple[str | None, str]:
    """(Hub licence id or None, human note) of a corpus source: the licence the source states, else a note from
    :data:`SOURCE_LICENSES` matched on its name."""
    lowered = f"{name} {stated or ''}".lower()
    for needle, license_id, note in SOURCE_LICENSES:
        if needle in lowered:
            return license_id, stated or note
    if "cc by-sa 3.0" in lowered:
        return "cc-by-sa-3.0", stated or ""
    return None, stated or UNKNOWN_LICENSE


def _sum_counts(counts: Any) -> dict[str, int]:
    """``{outcome: n}``, ``{outcome: {"units": n, ...}}`` or ``{pass: <either>}`` -> ``{outcome: units}``."""
    out: dict[str, int] = {}
    for key, value in (counts or {}).items():
        if isinstance(value, dict) and isinstance(value.get("units"), int):
            out[key] = out.get(key, 0) + value["units"]
        elif isinstance(value, dict):
            for reason, n in _sum_counts(value).items():
                out[reason] = out.get(reason, 0) + n
        elif isinstance(value, int | float) and not isinstance(value, bool):
            out[key] = out.get(key, 0) + int(value)
    return out


def filter_statistics(stats: dict[str, Any] | None, tiers: dict[str, str]) -> dict[str, Any]:
    """Per-source rows ``{source, tier, kept, counts}`` and the drop reasons seen, from a corpus ``stats.json``."""
    sources = (stats or {}).get("sources") or {}
    if isinstance(sources, list):
        sources = {str(s.get("name", i)): s for i, s in enumerate(sources) if isinstance(s, dict)}
    rows, reasons = [], []
    for name, entry in sources.items():
        entry = entry if isinstance(entry, dict) else {}
        counts = _sum_counts(next((entry[k] for k in COUNT_KEYS if isinstance(entry.get(k), dict)), {}))
        kept = entry.get("units_kept", entry.get("kept", counts.pop("kept", None)))
        counts.pop("kept", None)
        kept = sum(_sum_counts(kept).values()) if isinstance(kept, dict) else kept
        reasons += [r for r in counts if r not in reasons]
        license_id, note = source_license(name, entry.get("license"))
        rows.append({"source": name, "tier": entry.get("tier") or tiers.get(name), "kept": kept, "counts": counts})
        rows[-1].update(license=license_id, license_note=note)
    order = {reason: i for i, reason in enumerate(REASONS)}  # the order the filter tries them in
    reasons.sort(key=lambda r: (order.get(r, len(order)), r))
    for name, tier in tiers.items():
        if name not in sources:
            license_id, note = source_license(name)
            rows.append({"source": name, "tier": tier, "kept": None, "counts": {}, "license": license_id})
            rows[-1]["license_note"] = note
    return {"rows": rows, "reasons": reasons}


def contamination_table(stats: dict[str, Any] | None) -> dict[str, Any] | None:
    """The counts of ``stats["contamination"]`` (``hf-shrunk corpus``'s n-gram overlap report) as card rows."""
    report = (stats or {}).get("contamination")
    if not isinstance(report, dict):
        return None
    groups = {**(report.get("splits") or {}), **{f"GLUE {t}": r for t, r in (report.get("glue") or {}).items()}}
    rows = [{"name": name, **{k: r.get(k) for k in ("sequences", "with_ngrams", "overlapping", "fraction_ngrams")}}
            for name, r in groups.items()]  # fmt: skip
    return {"n": report.get("n"), "rows": rows, "notes": report.get("notes") or []}


def source_datasets(manifest: Manifest, names: list[str]) -> list[str]:
    """Hub ids of the datasets the corpus text came from: sources read from the Hub (``hf://datasets/OWNER/NAME``)
    and known sources by name (:data:`SOURCE_DATASETS`), in order, without repeats."""
    found = []
    for item in manifest.inputs:
        path = str(item.get("path") or "")
        if str(item.get("kind") or "").startswith("source:") and path.startswith("hf://datasets/"):
            found.append("/".join(path.removeprefix("hf://datasets/").split(":")[0].split("/")[:2]))
    for name in names:
        found += [repo for needle, repo in SOURCE_DATASETS if needle in name.lower()][:1]
    return [repo for i, repo in enumerate(found) if repo and repo not in found[:i]]


def _tiers(manifest: Manifest) -> dict[str, str]:
    tiers = dict((manifest.extra or {}).get("tiers") or {})
    for item in manifest.inputs:
        kind = str(item.get("kind") or "")
        if item.get("tier") and kind.startswith("source:"):
            tiers.setdefault(kind.split(":", 1)[1], item["tier"])
    return tiers


def _size_category(n: int) -> str:
    for bound, label in ((1e3, "n<1K"), (1e4, "1K<n<10K"), (1e5, "10K<n<100K"), (1e6, "100K<n<1M"), (1e7, "1M<n<10M")):
        if n < bound:
            return label
    return "10M<n<100M" if n < 1e8 else "100M<n<1B"


def dataset_card_context(
    corpus_dir: str | Path,
    repo_id: str,
    splits: list[dict[str, Any]],
    features: list[dict[str, str]],
    vocab: dict[str, Any],
    tokenizer: dict[str, Any] | None = None,
    model_repos: list[str] | None = None,
    card_version: str = __version__,
) -> dict[str, Any]:
    """What the dataset card shows.

    Args:
        corpus_dir: the corpus artifact folder (its ``manifest.json`` and ``stats.json`` are read).
        repo_id: the dataset repo.
        splits: ``[{"name", "path", "num_examples"}]`` with ``path`` the parquet file in the repo.
        features: ``[{"name", "dtype"}]`` of the parquet files.
        vocab: ``{"path": file in the repo or None, "spec", "size", "note"}``.
        tokenizer: ``{"path": folder in the repo, "vocab_size"}`` or None.
        model_repos: model repos trained on this corpus (linked from the card).
    """
    corpus_dir = Path(corpus_dir)
    manifest = Manifest.read(corpus_dir)
    stats_path = corpus_dir / "stats.json"
    stats = read_json(stats_path) if stats_path.is_file() else None
    table = filter_statistics(stats, _tiers(manifest))
    license_ids = {row["license"] for row in table["rows"]}
    license_id = next(iter(license_ids)) if len(license_ids) == 1 and None not in license_ids else "other"
    config = manifest.config or {}
    return {
        "repo_id": repo_id,
        "repo_name": repo_id.split("/")[-1],
        "splits": splits,
        "features": features,
        "total": sum(s["num_examples"] for s in splits),
        "vocab": vocab,
        "tokenizer": tokenizer,
        "model_repos": model_repos or [],
        "filter": table,
        "contamination": contamination_table(stats),
        "has_stats": stats is not None,
        "settings": {k: config[k] for k in FILTER_SETTINGS if k in config},
        "license": license_id,
        "source_datasets": source_datasets(manifest, [row["source"] for row in table["rows"]]),
        "paper_url": PAPER_URL,
        "paper_title": PAPER_TITLE,
        "corpus": {"name": manifest.name, "fingerprint": manifest.key, "git_sha": manifest.git_sha},
        "corpus_version": (manifest.versions or {}).get("hf-shrunk"),
        "card_version": card_version,
        "bibtex": PAPER_BIBTEX,
    }


FILTER_SETTINGS = (
    "passes",
    "sentence_min_tokens",
    "span_words",
    "span_stride",
    "span_min_tokens",
    "max_oov_fraction",
    "dedup",
    "max_seq_len",
    "tokens_per_word",
    "split_by",  # in the manifest only when not the paper's 'unit'
)


def dataset_card_data(context: dict[str, Any]) -> Any:
    from huggingface_hub import DatasetCardData

    mixed = context["license"] == "other"  # the Hub then wants a name and a link: the card's per-source list
    licence_link = f"https://huggingface.co/datasets/{context['repo_id']}#licences"
    return DatasetCardData(
        language=["en"],
        license=context["license"],
        license_name=MIXED_LICENSE_NAME if mixed else None,
        license_link=licence_link if mixed else None,
        source_datasets=context["source_datasets"] or None,
        pretty_name="hf_shrunk corpus: English within a child-directed vocabulary",
        task_categories=["fill-mask"],
        task_ids=["masked-language-modeling"],
        size_categories=[_size_category(context["total"])],
        tags=["hf_shrunk", "child-directed-vocabulary", "small-language-model", f"arxiv:{PAPER_ARXIV}"],
        configs=[
            {
                "config_name": "default",
                "data_files": [{"split": s["name"], "path": s["path"]} for s in context["splits"]],
            }
        ],
        dataset_info={
            "features": context["features"],
            "splits": [{"name": s["name"], "num_examples": s["num_examples"]} for s in context["splits"]],
        },
    )


def render_dataset_card(context: dict[str, Any]) -> str:
    """The README.md of the corpus repo, validated with huggingface_hub's and datasets' own parsers."""
    data = dataset_card_data(context)
    text = environment().get_template("dataset_card.md.j2").render(card_yaml=data.to_yaml(), **context)
    validate_dataset_card(text, [s["name"] for s in context["splits"]], where=context["repo_id"])
    return text


def validate_dataset_card(content: str, splits: list[str] | dict[str, list[str]], where: str = "dataset card") -> Any:
    """Parse ``content`` as the Hub and ``load_dataset`` do; check its ``configs:`` list exactly ``splits``: a list for
    the ``default`` config, or ``{config: splits}``.

    Raises:
        `CardError`: invalid YAML, or ``configs:`` that ``datasets`` would reject or that miss a split.
    """
    import yaml
    from datasets.utils.metadata import MetadataConfigs
    from huggingface_hub import DatasetCard

    try:
        card = DatasetCard(content, ignore_metadata_errors=False)
        configs = MetadataConfigs.from_dataset_card_data(card.data)
    except (ValueError, yaml.YAMLError) as e:
        raise CardError(f"{where}: the rendered dataset card's metadata does not parse: {e}") from e
    for name, expected in (splits if isinstance(splits, dict) else {"default": splits}).items():
        found = [item["split"] for item in (configs.get(name) or {}).get("data_files") or []]
        if found != list(expected):
            raise CardError(f"{where}: config {name} lists splits {found}, expected {list(expected)}")
    return card
