"""Model cards (Jinja templates + ``model-index`` built with huggingface_hub's ``ModelCardData``/``EvalResult``).

Inputs are artifact folders only: a pretrain run (``manifest.json``, ``metrics.json``, ``snapshots/step{N}/``), its
GLUE ``summary.json`` (``<root>/glue/<run>/``) and, if present, a scaling fit (``<root>/fit/<name>/fit.json``).
Cards are deterministic functions of those files: no publish date or checkout sha of the renderer goes in (that
would make every re-publish a new commit); the versions and git sha recorded by the stages that trained and scored
the model do, and ``card_version`` (the hf_shrunk version that rendered the card) can be injected for golden tests.
The dataset card lives in :mod:`hf_shrunk.cards.dataset`; the GLUE tables in :mod:`hf_shrunk.cards.glue`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hf_shrunk import __version__
from hf_shrunk.artifacts import STATE_FILE, Manifest, read_json
from hf_shrunk.cards.glue import glue_eval_results, glue_tables
from hf_shrunk.config import PACKAGE_DIR, UserError
from hf_shrunk.numbers import human

TEMPLATE_DIR = PACKAGE_DIR / "cards" / "templates"

PAPER_BIBTEX = """@inproceedings{deshpande-etal-2023-honey,
  title     = {Honey, {I} Shrunk the Language: Language Model Behavior at Reduced Scale},
  author    = {Deshpande, Vijeta and Pechi, Dan and Thatte, Shree and Lialin, Vladislav and Rumshisky, Anna},
  booktitle = {Findings of the Association for Computational Linguistics: ACL 2023},
  year      = {2023},
  pages     = {5298--5314},
  publisher = {Association for Computational Linguistics},
  eprint    = {2305.17266},
  archivePrefix = {arXiv}
}"""

PAPER_ARXIV = "2305.17266"
PAPER_URL = f"https://arxiv.org/abs/{PAPER_ARXIV}"
PAPER_TITLE = "Honey, I Shrunk the Language: Language Model Behavior at Reduced Scale"
# The oldest transformers the factorized family's remote code runs on; hf_shrunk/models/configuration_shrunk.py
# checks the same version (tests/test_compat_check.py keeps the two equal; scripts/compat_check.sh measures it).
MIN_TRANSFORMERS = "5.4.0"
# The Hub's fill-mask widget: child-directed sentences like the pre-training text (lower-case, simple words).
WIDGET_EXAMPLES = (
    "the little dog <mask> the ball .",
    "it is time to put on your <mask> and go outside .",
    "mommy is going to read you a <mask> before bed .",
)

FAMILY_TEXT = {
    "roberta": "a stock RoBERTa masked LM with tied input/output embeddings (E = H)",
    "factorized": "a RoBERTa encoder whose token embeddings have their own width E, projected to the hidden width H "
    "by a Linear + LayerNorm, with an untied output layer (`model_type: shrunk_roberta`)",
}


class CardError(UserError, ValueError):
    """A rendered card is not valid Hub metadata (or lacks what the suite promises)."""


def load_run(run_dir: str | Path) -> dict[str, Any]:
    """A finished pretrain run as the cards and the publisher need it: manifest, metrics and snapshot states
    (``snapshots`` sorted by step, each ``{"dir", "step", ...shrunk_state.json}``)."""
    run_dir = Path(run_dir)
    manifest = Manifest.read(run_dir)
    metrics_path = run_dir / "metrics.json"
    if not metrics_path.is_file():
        raise CardError(f"{run_dir} has no metrics.json: the pretrain run is incomplete; re-run `hf-shrunk pretrain`")
    snapshots = []
    for folder in sorted((run_dir / "snapshots").glob("step*"), key=lambda p: int(p.name[4:] or 0)):
        if folder.name[4:].isdigit() and (folder / STATE_FILE).is_file():
            snapshots.append({"dir": folder, **read_json(folder / STATE_FILE), "step": int(folder.name[4:])})
    return {
        "dir": run_dir,
        "name": manifest.name,
        "manifest": manifest.to_dict(),
        "metrics": read_json(metrics_path),
        "snapshots": snapshots,
    }


def _num(n: float | None) -> str:
    return "–" if n is None else f"{n:,}" if isinstance(n, int) else f"{n:,.4g}"


def _sci(x: float | None) -> str:
    if x is None:
        return "–"
    mantissa, exponent = f"{x:.2e}".split("e")  # 3 significant digits: 8.57e15
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


def environment():
    """The Jinja environment of the card templates (strict: a missing variable is an error, not a blank)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters.update(human=human, num=_num, sci=_sci)
    return env


def fit_position(fit: dict[str, Any] | None, final: dict[str, Any]) -> dict[str, Any] | None:
    """Where the final model sits on a scaling fit (``hf_shrunk.scaling.run.position_on_fit``), or a note why not."""
    if not fit:
        return None
    x_name = fit.get("x", "flops_paper")
    if final.get(x_name) is None or final.get("eval_loss") is None:
        return {"note": f"the fit uses {x_name}, which this run's metrics do not record"}
    from hf_shrunk.scaling import position_on_fit

    try:
        pos = position_on_fit(fit, float(final[x_name]), float(final["eval_loss"]))
    except (KeyError, ValueError) as e:
        return {"note": f"the fit has no compute law to compare with ({e})"}
    law = fit["fits"][pos["fit"]]
    if "segments" in law:
        seg = law["segments"][pos["segment"]]
        pos["equation"] = f"L = {seg['params']['a']:.4g}·C^{seg['params']['b']:.4f}"
        pos["break"] = law["break"]["value"]
    else:
        pos["equation"] = f"L = {law['params']['a']:.4g}·C^{law['params']['b']:.4f}"
    pos["x_name"] = x_name
    pos["fit_name"] = fit.get("name", "default")
    pos["n_runs"] = (fit.get("data") or {}).get("n_runs")
    return pos


def _warmup(spec: Any) -> str:
    return "min(4000, 5% of updates) (paper)" if spec == "paper" else f"{spec} updates"


def _recipe(config: dict[str, Any]) -> list[tuple[str, Any]]:
    pre, tr = config.get("pretrain") or {}, config.get("training") or {}
    rows = [
        (
            "objective",
            f"masked LM, {pre.get('mlm_probability')} of positions selected, "
            f"{pre.get('mask_replace_prob')} of those replaced by `<mask>`, "
            f"{pre.get('random_replace_prob')} by a random token",
        ),
        (
            "batch",
            f"{pre.get('effective_batch_size')} sequences × {pre.get('max_seq_len')} tokens"
            + (" (packed)" if pre.get("pack") else ""),
        ),
        (
            "optimizer",
            f"AdamW, β = ({tr.get('adam_beta1')}, {tr.get('adam_beta2')}), weight decay {tr.get('weight_decay')}",
        ),
        (
            "learning rate",
            f"{tr.get('learning_rate')}, {tr.get('lr_scheduler_type')} schedule, warm-up {_warmup(pre.get('warmup'))}",
        ),
        (
            "length",
            f"{tr.get('max_steps')} updates"
            if (tr.get("max_steps") or 0) > 0
            else f"{tr.get('num_train_epochs')} epoch(s)",
        ),
        (
            "initialisation / precision setting / seed",
            f"{pre.get('init')} / {pre.get('precision')} / {tr.get('seed')}",
        ),
    ]
    return [(k, v) for k, v in rows if "None" not in str(v)]


PROGRESS_KEYS = ("step", "sequences", "tokens", "token_positions", "flops_paper", "flops_corrected", "eval_loss")


def _progress(record: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint record with every key the templates read (``None`` where the run did not record it)."""
    return {key: record.get(key) for key in PROGRESS_KEYS} | {"perplexity": None}


def _with_perplexity(record: dict[str, Any]) -> dict[str, Any]:
    """:func:`_progress` plus the record's perplexity (runs made before metrics.json kept it: exp of its loss)."""
    from hf_shrunk.pretrain import perplexity

    return _progress(record) | {"perplexity": record.get("perplexity") or perplexity(record.get("eval_loss"))}


def _inputs(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    # Only names and fingerprints go into a public card, never the local paths the manifest records.
    out: dict[str, Any] = {"corpus": None, "tokenizer": None}
    for item in manifest.get("inputs") or []:
        out[item.get("kind")] = {
            "name": Path(str(item.get("path") or "")).name or None,
            "fingerprint": item.get("fingerprint"),
            "tiers": item.get("tiers"),
        }
    return out


def model_card_context(
    run: dict[str, Any],
    repo_id: str,
    summary: dict[str, Any] | None = None,
    fit: dict[str, Any] | None = None,
    *,
    license: str = "apache-2.0",
    dataset_repo: str | None = None,
    glue_dataset_repo: str | None = None,
    card_version: str = __version__,
) -> dict[str, Any]:
    """Everything the model card template shows, from a :func:`load_run` dict and optional GLUE summary / fit."""
    manifest, metrics = run["manifest"], run["metrics"]
    final = _with_perplexity(metrics.get("final") or (manifest.get("extra") or {}).get("final") or {})
    held = metrics.get("model_checkpoint", "final")  # runs made before --model_checkpoint kept the final weights
    main = _with_perplexity(metrics.get(held) or {}) if held != "final" else final
    checkpoints = [_progress(s) | {"branch": f"step{s['step']}"} for s in run["snapshots"]]
    versions = manifest.get("versions") or {}
    return {
        "repo_id": repo_id,
        "repo_name": repo_id.split("/")[-1],
        "slug": metrics.get("slug") or run["name"],
        "family": metrics.get("family"),
        "family_text": FAMILY_TEXT.get(metrics.get("family"), metrics.get("family")),
        "factorized": metrics.get("family") == "factorized",
        "dims": metrics.get("dims") or {},
        "params": metrics.get("params") or {},
        "flops_per_sequence": {"paper": None, "corrected": None} | (metrics.get("flops_per_sequence") or {}),
        "final": final,
        "main": main | {"checkpoint": held},  # the weights on main, which the perplexity and GLUE results describe
        "best_step": (metrics.get("best") or {}).get("step"),
        "recipe": _recipe(manifest.get("config") or {}),
        "inputs": _inputs(manifest),
        "dataset_repo": dataset_repo,
        "glue_dataset_repo": glue_dataset_repo,  # the vocabulary-filtered GLUE dev sets the filtered results name
        "checkpoints": checkpoints,
        "example_step": checkpoints[len(checkpoints) // 2]["step"] if checkpoints else None,
        "glue": glue_tables(summary) if summary else None,
        "fit": fit_position(fit, final),
        "trained": {
            "version": versions.get("hf-shrunk"),
            "git_sha": manifest.get("git_sha"),
            "date": str(manifest.get("created") or "")[:10] or None,
            "transformers": versions.get("transformers"),
            "torch": versions.get("torch"),
        },
        "card_version": card_version,
        "license": license,
        "bibtex": PAPER_BIBTEX,
        "paper_url": PAPER_URL,
        "paper_title": PAPER_TITLE,
        "min_transformers": MIN_TRANSFORMERS,
    }


def model_card_data(context: dict[str, Any], results: list | None) -> Any:
    """The YAML metadata of a model card (``results`` -> ``model-index``; ``None`` -> no model-index)."""
    from huggingface_hub import ModelCardData

    tags = ["hf_shrunk", "masked-language-modeling", "small-language-model", "child-directed-vocabulary"]
    tags += [context["family"], context["slug"]] + (["custom_code"] if context["factorized"] else [])
    tags.append(f"arxiv:{PAPER_ARXIV}")  # the Hub links the paper page from this tag
    return ModelCardData(
        language="en",
        license=context["license"],
        library_name="transformers",
        pipeline_tag="fill-mask",
        tags=tags,
        datasets=[r for r in (context["dataset_repo"], context.get("glue_dataset_repo")) if r] or None,
        model_name=context["repo_name"] if results else None,
        eval_results=results or None,
        widget=[{"text": text} for text in WIDGET_EXAMPLES],
    )


def render_model_card(context: dict[str, Any], summary: dict[str, Any] | None = None) -> str:
    """The README.md of a model repo's ``main`` branch, validated with huggingface_hub's own parser."""
    results = glue_eval_results(summary, context["repo_name"], context.get("glue_dataset_repo")) if summary else []
    data = model_card_data(context, results)
    text = environment().get_template("model_card.md.j2").render(card_yaml=data.to_yaml(), **context)
    validate_model_card(text, results, where=context["repo_id"])
    return text


def render_checkpoint_card(context: dict[str, Any], checkpoint: dict[str, Any]) -> str:
    """The README.md of a ``step{N}`` branch: metadata without results (they belong to the final model)."""
    data = model_card_data(context, None)
    text = (
        environment()
        .get_template("checkpoint_card.md.j2")
        .render(card_yaml=data.to_yaml(), checkpoint=checkpoint, **context)
    )
    validate_model_card(text, [], where=f"{context['repo_id']}@{checkpoint['branch']}")
    return text


def validate_model_card(content: str, expected: list, where: str = "model card") -> Any:
    """Parse ``content`` as the Hub does (``huggingface_hub.ModelCard``) and check the metadata round trip.

    Args:
        content (`str`): the whole README.md.
        expected (`list[EvalResult]`): the results the ``model-index`` must give back (empty: no model-index).
        where (`str`): what the card is for, quoted in errors.

    Raises:
        `CardError`: invalid YAML or model-index, a missing required key, or results that do not round-trip.
    """
    import yaml
    from huggingface_hub import ModelCard

    try:
        card = ModelCard(content, ignore_metadata_errors=False)
    except (ValueError, yaml.YAMLError) as e:
        raise CardError(f"{where}: the rendered card's metadata does not parse on the Hub: {e}") from e
    data = card.data
    missing = [k for k in ("license", "language", "library_name", "pipeline_tag") if not data.get(k)]
    if missing:
        raise CardError(f"{where}: card metadata lacks {', '.join(missing)}")
    got = data.eval_results or []

    def key(r):
        return (r.dataset_name, r.dataset_config, r.dataset_split, r.metric_type, r.metric_value, r.task_type)

    if sorted(map(key, got), key=str) != sorted(map(key, expected), key=str):
        raise CardError(
            f"{where}: model-index gives back {len(got)} result(s), expected {len(expected)}; the card template "
            "or the GLUE summary is malformed"
        )
    if not expected and "model-index" in content.split("\n---", 1)[0]:
        raise CardError(f"{where}: a card without GLUE results must not carry a model-index")
    return card
