"""Model and dataset cards: golden renders of whole cards, model-index round trips through huggingface_hub's parser,
cards without (or with partial) GLUE results, and the dataset card's ``configs:``.

Inputs are hand-written artifact files with fixed values (the paper's magic-bee-26 numbers from docs/paper.md), so the
golden files are stable. Regenerate them after an intended template change with
``HF_SHRUNK_UPDATE_GOLDEN=1 pytest tests/cards/test_cards.py`` and review the diff.
"""

import json
import math
import os
from pathlib import Path

import pytest
import yaml
from conftest import make_glue_summary

from hf_shrunk.artifacts import Manifest
from hf_shrunk.cards import MIN_TRANSFORMERS, dataset_card_context, render_dataset_card
from hf_shrunk.cards.model import (
    CardError,
    load_run,
    model_card_context,
    render_checkpoint_card,
    render_model_card,
    validate_model_card,
)

GOLDEN = Path(__file__).parent / "golden"
SLUG = "factorized-e32-h32-i64-a8-l1"
ORG = "example-org"  # any namespace: there is no default org
REPO = f"{ORG}/shrunk-{SLUG}"
PAPER_URL = "https://arxiv.org/abs/2305.17266"
PER_SEQ_PAPER = 943_964_160  # docs/paper.md#flops, magic-bee-26
PER_SEQ_CORRECTED = 950_000_000  # any fixed value: the card only prints it
FIXED = {"versions": {"hf-shrunk": "0.1.0", "transformers": "5.24.0", "torch": "2.13.0"}, "git_sha": "ab" * 20}


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("HF_SHRUNK_UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    assert path.is_file(), f"{path} is missing; create it with HF_SHRUNK_UPDATE_GOLDEN=1"
    assert text == path.read_text(), f"{name} changed; if intended, regenerate with HF_SHRUNK_UPDATE_GOLDEN=1"


def _progress(step: int, loss: float) -> dict:
    sequences = 256 * step
    return {
        "step": step,
        "sequences": sequences,
        "tokens": 100 * sequences,
        "token_positions": 128 * sequences,
        "flops_paper": PER_SEQ_PAPER * sequences,
        "flops_corrected": PER_SEQ_CORRECTED * sequences,
        "eval_loss": loss,
    }


@pytest.fixture()
def run_dir(tmp_path) -> Path:
    """A finished pretrain run folder (JSON files only: cards never read weights)."""
    folder = tmp_path / "artifacts" / "pretrain" / SLUG
    steps = {1024: 5.5, 8000: 3.9, 35474: 3.25}
    for step, loss in steps.items():
        (folder / "snapshots" / f"step{step}").mkdir(parents=True)
        (folder / "snapshots" / f"step{step}" / "shrunk_state.json").write_text(json.dumps(_progress(step, loss)))
    final = _progress(35474, 3.25)
    params = {"total": 1_250_722, "embedding": 612_608, "non_embedding": 638_114}
    metrics = {
        "run": SLUG,
        "slug": SLUG,
        "family": "factorized",
        "dims": {"E": 32, "H": 32, "I": 64, "A": 8, "A_requested": 1, "L": 1, "V": 19010},
        "params": params,
        "flops_per_sequence": {"paper": PER_SEQ_PAPER, "corrected": PER_SEQ_CORRECTED},
        "eval_history": [],
        "final": final,
        "best": {**final, "perplexity": math.exp(3.25)},
        "snapshots": sorted(steps),
    }
    (folder / "metrics.json").write_text(json.dumps(metrics))
    config = {
        "size": SLUG,
        "pretrain": {
            "effective_batch_size": 256,
            "max_seq_len": 128,
            "mlm_probability": 0.15,
            "mask_replace_prob": 1.0,
        },
        "training": {
            "learning_rate": 5e-4,
            "lr_scheduler_type": "inverse_sqrt",
            "adam_beta1": 0.9,
            "adam_beta2": 0.95,
        },
    }
    config["pretrain"] |= {"random_replace_prob": 0.0, "init": "paper", "warmup": "paper", "precision": "fp32"}
    config["training"] |= {"weight_decay": 0.01, "seed": 0, "num_train_epochs": 1, "max_steps": -1}
    inputs = [
        {"kind": "corpus", "path": "/home/someone/artifacts/corpus/default", "fingerprint": "c0c0c0c0c0c0c0c0"},
        {"kind": "tokenizer", "path": "/home/someone/artifacts/tokenizer/default", "fingerprint": "7070707070707070"},
    ]
    inputs[0]["tiers"] = {"c4": "mirror", "wikipedia": "hub"}
    manifest = Manifest("pretrain", SLUG, config, inputs, {"slug": SLUG, "final": final}, **FIXED)
    manifest.created = "2026-01-02T03:04:05+00:00"
    manifest.write(folder)
    return folder


FIT = {
    "name": "default",
    "x": "flops_paper",
    "data": {"n_runs": 42},
    "fits": {  # the paper's broken power law (docs/paper.md#scaling-laws)
        "compute_broken": {
            "break": {"value": 2.2e15, "method": "fixed"},
            "segments": {
                "below": {"params": {"a": 79.2, "b": -0.093}, "x_range": [1e13, 2.2e15]},
                "above": {"params": {"a": 382.0, "b": -0.141}, "x_range": [2.2e15, 1e17]},
            },
        }
    },
}


def _card(run_dir, summary, fit=None):
    context = model_card_context(load_run(run_dir), REPO, summary, fit, card_version="0.0.0-golden")
    context["dataset_repo"] = f"{ORG}/shrunk-corpus"
    context["glue_dataset_repo"] = f"{ORG}/glue-vocab-filtered"
    return context, render_model_card(context, summary)


def test_model_card_golden(run_dir):
    summary = make_glue_summary(SLUG)
    context, text = _card(run_dir, summary, FIT)
    check_golden("model_card.md", text)
    assert "/home/someone" not in text  # local paths never reach a public card
    assert 'revision="step8000", trust_remote_code=True' in text
    # the fitted loss at this model's compute, computed here from the paper's parameters
    flops = PER_SEQ_PAPER * 256 * 35474
    assert flops > 2.2e15 and f"{382.0 * flops**-0.141:,.4g}" in text
    assert "this model lies above the break" in text


def _metadata(text: str) -> dict:
    return yaml.safe_load(text.split("---\n")[1])


def test_model_card_links_the_paper_and_has_a_fill_mask_widget(run_dir):
    from huggingface_hub import ModelCard

    context, text = _card(run_dir, make_glue_summary(SLUG))
    metadata = _metadata(text)
    assert "arxiv:2305.17266" in metadata["tags"]  # the Hub's paper link
    assert f"]({PAPER_URL})" in text
    widget = metadata["widget"]
    assert 2 <= len(widget) <= 3 and all(w["text"].count("<mask>") == 1 and w["text"].islower() for w in widget)
    assert ModelCard(text).data.widget == widget
    checkpoint = render_checkpoint_card(context, context["checkpoints"][0])
    assert f"]({PAPER_URL})" in checkpoint and "arxiv:2305.17266" in _metadata(checkpoint)["tags"]


def test_model_card_loads_from_its_repo_or_a_local_folder_and_states_the_transformers_floor(run_dir):
    _, text = _card(run_dir, None)
    assert f'AutoTokenizer.from_pretrained("{REPO}", trust_remote_code=False)' in text
    assert f'AutoModelForMaskedLM.from_pretrained("{REPO}", trust_remote_code=True)' in text
    assert f'from_pretrained("./shrunk-{SLUG}", trust_remote_code=True)' in text
    assert f"DIR/models/shrunk-{SLUG}/main" in text and f"hf download {REPO} --local-dir shrunk-{SLUG}" in text
    assert f"transformers >= {MIN_TRANSFORMERS}" in text
    assert "hf-shrunk/" not in text  # never the name of an org that published nothing


def test_roberta_card_needs_no_remote_code(run_dir):
    run = load_run(run_dir)
    run["metrics"]["family"] = "roberta"
    text = render_model_card(model_card_context(run, REPO, None, card_version="0.0.0-golden"))
    assert "trust_remote_code" not in text and "custom_code" not in _metadata(text)["tags"]
    assert "4.x and 5.x alike" in text and f'AutoTokenizer.from_pretrained("./shrunk-{SLUG}")' in text


def _expected_results(summary) -> set:
    labels = {"filtered": "vocabulary-filtered", "full": "full"}
    names = {"cola": "CoLA", "sst2": "SST-2", "mrpc": "MRPC", "stsb": "STS-B", "mnli": "MNLI"}
    suffix = {"validation": "", "validation_matched": "-m", "validation_mismatched": "-mm"}
    return {
        (
            f"GLUE {names[task]}{suffix[split]} ({labels[cond]})",
            task,
            split,
            {"pearson": "pearsonr"}.get(m, m),
            round(s["mean"], 4),  # the card rounds seed means to 4 decimals
        )
        for cond, body in summary["variants"]["pretrained"].items()
        for task, entry in body["tasks"].items()
        for split, metrics in entry["splits"].items()
        for m, s in metrics.items()
    }


def test_model_index_round_trips_through_the_hub_parser(run_dir):
    from huggingface_hub import ModelCard

    summary = make_glue_summary(SLUG)
    _, text = _card(run_dir, summary)
    card = ModelCard(text)
    got = {
        (r.dataset_name, r.dataset_config, r.dataset_split, r.metric_type, r.metric_value)
        for r in card.data.eval_results
    }
    assert got == _expected_results(summary) and len(card.data.eval_results) == 16
    assert {(r.task_type, r.dataset_name.endswith("(full)"), r.dataset_type) for r in card.data.eval_results} == {
        ("text-classification", True, "nyu-mll/glue"),
        ("text-classification", False, f"{ORG}/glue-vocab-filtered"),
    }
    # saved again through huggingface_hub's own card data, no two results merge and none changes value
    from huggingface_hub.repocard_data import eval_results_to_model_index, model_index_to_eval_results

    _, again = model_index_to_eval_results(eval_results_to_model_index(card.data.model_name, card.data.eval_results))
    assert {(r.dataset_type, r.dataset_name, r.dataset_config, r.dataset_split, r.metric_type, r.metric_value)
            for r in again} == {(r.dataset_type, r.dataset_name, r.dataset_config, r.dataset_split, r.metric_type,
                                 r.metric_value) for r in card.data.eval_results}  # fmt: skip
    assert len(again) == 16
    metadata = yaml.safe_load(text.split("---\n")[1])
    results = metadata["model-index"][0]["results"]
    # one result per (condition, task, split): the two conditions are never merged into one entry
    assert len(results) == 2 * 6 and len({r["dataset"]["name"] for r in results}) == 12
    assert metadata["pipeline_tag"] == "fill-mask" and metadata["library_name"] == "transformers"
    assert metadata["language"] == "en" and {"factorized", SLUG} <= set(metadata["tags"])


def test_card_without_results_says_so_and_has_no_model_index(run_dir):
    from huggingface_hub import ModelCard

    _, text = _card(run_dir, None)
    assert "No GLUE results were published for this model" in text
    assert "model-index" not in text.split("\n---\n")[0]
    assert ModelCard(text).data.eval_results is None


def test_partial_results_show_what_is_there(run_dir):
    summary = make_glue_summary(SLUG, tasks=("sst2", "mnli"), variants=("pretrained",), conditions=("full",))
    _, text = _card(run_dir, summary)
    assert "| task | score | full, pretrained | dev examples (filtered / full) |" in text
    assert "Not evaluated: vocabulary-filtered GLUE." in text and "random init" not in text
    assert "| SST-2 | accuracy | 81.0 ± 1.0 | – / 40 |" in text  # fixture: 0.80, 0.81, 0.82 over the seeds


def test_validation_rejects_bad_metadata(run_dir):
    with pytest.raises(CardError, match="does not parse"):
        validate_model_card("---\nlicense: mit\nmodel-index:\n- results: []\n---\n", [])
    with pytest.raises(CardError, match="lacks language, library_name, pipeline_tag"):
        validate_model_card("---\nlicense: mit\n---\n# card\n", [])
    summary = make_glue_summary(SLUG)
    _, text = _card(run_dir, summary)
    with pytest.raises(CardError, match="expected 0"):
        validate_model_card(text, [])


def test_checkpoint_card_has_metadata_but_no_results(run_dir):
    from huggingface_hub import ModelCard

    context, _ = _card(run_dir, make_glue_summary(SLUG))
    text = render_checkpoint_card(context, context["checkpoints"][0])
    card = ModelCard(text)
    assert card.data.eval_results is None and card.data.license == "apache-2.0"
    assert 'revision="step1024"' in text and "2.47e14" in text  # 943,964,160 x 256 x 1024 = 2.4746e14 FLOPs


@pytest.fixture()
def corpus_dir(tmp_path) -> Path:
    folder = tmp_path / "corpus" / "default"
    folder.mkdir(parents=True)
    passes = {  # the shape `hf-shrunk corpus` writes: per pass, per outcome, units and words
        "sentence": {
            "kept": {"units": 600, "words": 6000},
            "oov": {"units": 5, "words": 50},
            "too_short": {"units": 3, "words": 9},
        },
        "span": {"kept": {"units": 300, "words": 9000}, "oov": {"units": 7, "words": 700}},
    }
    wiki_license = "CC BY-SA 3.0 (English Wikipedia text; https://en.wikipedia.org/wiki/Wikipedia:Copyrights)"
    stats = {
        "sources": {
            "c4": {"tier": "mirror", "units_kept": 900, "passes": passes},
            "fallback-wikipedia": {"kept": 100, "outcomes": {"url": 2}, "license": wiki_license},  # an older shape
        }
    }
    (folder / "stats.json").write_text(json.dumps(stats))
    config = {"vocab": "auto", "passes": ["sentence", "span"], "span_words": 110, "max_oov_fraction": 0.0}
    manifest = Manifest("corpus", "default", config, [], {"tiers": {"fallback-wikipedia": "fallback"}}, **FIXED)
    manifest.created = "2026-01-02T03:04:05+00:00"
    manifest.write(folder)
    return folder


def test_dataset_card_golden_and_configs(corpus_dir):
    from datasets.utils.metadata import MetadataConfigs
    from huggingface_hub import DatasetCard

    splits = [
        {"name": "train", "path": "data/train.parquet", "num_examples": 900},
        {"name": "validation", "path": "data/validation.parquet", "num_examples": 50},
        {"name": "test", "path": "data/test.parquet", "num_examples": 50},
    ]
    vocab = {"path": "vocabulary/aochildes_word_frequency.csv", "spec": "auto", "size": 21037, "note": "Paper CSV."}
    context = dataset_card_context(
        corpus_dir,
        f"{ORG}/shrunk-corpus",
        splits,
        [{"name": "text", "dtype": "string"}],
        vocab,
        {"path": "tokenizer", "vocab_size": 19000},
        [REPO],
        card_version="0.0.0-golden",
    )
    text = render_dataset_card(context)
    check_golden("dataset_card.md", text)
    card = DatasetCard(text)
    files = MetadataConfigs.from_dataset_card_data(card.data)["default"]["data_files"]
    assert files == [{"split": s["name"], "path": s["path"]} for s in splits]
    assert card.data.license == "other"  # C4 (ODC-BY) and Wikipedia (CC BY-SA) differ
    assert "| source | data tier | kept | url | too_short | oov |" in text  # reasons in the filter's order
    assert "| c4 | mirror | 900 | – | 3 | 12 |" in text  # oov summed over both passes
    assert "| fallback-wikipedia | fallback | 100 | 2 | – | – |" in text
    assert "- c4: C4 (allenai/c4): ODC-BY 1.0" in text  # hf_shrunk's note when the source states no licence
    assert "- fallback-wikipedia: CC BY-SA 3.0 (English Wikipedia text;" in text  # the source's own statement
    # a mixed licence names itself and links the per-source list; sources and the paper are linked
    assert (
        card.data.license_name
        and card.data.license_link == f"https://huggingface.co/datasets/{ORG}/shrunk-corpus#licences"
    )
    assert "## Licences" in text
    assert card.data.source_datasets == ["allenai/c4"]  # the fallback's Wikipedia text came from a wheel, not the Hub
    assert "arxiv:2305.17266" in card.data.tags and f"]({PAPER_URL})" in text
    assert 'load_dataset("./shrunk-corpus")' in text and "hf-shrunk/" not in text
